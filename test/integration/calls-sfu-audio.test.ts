/**
 * Live transcription in SFU mode (docs/voice.md): the proxy opens a Realtime SFU WebSocket adapter
 * for a participant's published audio track (checked by the contract-checking fake SFU), and the
 * test plays the SFU dialing the endpoint it was given: synthetic protobuf packets of 48 kHz
 * stereo PCM become a transcript line of that participant on every socket.
 */
import { env, exports } from "cloudflare:workers";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { encodePacket } from "../../durable-objects/call-session/sfu-packet";
import type { TranscriptLine } from "../../src/calls/model";
import { call, callWith, json, problem } from "../helpers/api";
import { addParticipant, createCall, join, type Peer } from "../helpers/calls";
import { concat, tone } from "../helpers/audio";
import { FakeSfu, SFU_ENV } from "../helpers/fake-sfu";

const settings = env as unknown as Record<string, unknown>;
const OFFER = {
  type: "offer" as const,
  sdp: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\n",
};

let sfu: FakeSfu;
let heard: Uint8Array[];

beforeAll(() => void Object.assign(settings, SFU_ENV, { SPEECH_BASE_URL: "http://speech.test" }));
afterAll(() => {
  for (const k of [...Object.keys(SFU_ENV), "SPEECH_BASE_URL"]) delete settings[k];
});
beforeEach(() => {
  sfu = new FakeSfu();
  heard = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const req = new Request(input, init);
    if (req.url === "http://speech.test/v1/audio/transcriptions") {
      heard.push(new Uint8Array(await ((await req.formData()).get("file") as File).arrayBuffer()));
      return Response.json({ text: "through the sfu", segments: [{ avg_logprob: Math.log(0.9) }] });
    }
    return sfu.handle(req);
  });
});
afterEach(() => {
  expect(sfu.violations).toEqual([]);
  vi.restoreAllMocks();
});

/** 48 kHz interleaved stereo of a 300 Hz tone at `db` dBFS RMS (silence for -Infinity). */
const stereo = (ms: number, db: number) => tone(ms, db, { rate: 48_000, channels: 2 });

/** Plays the SFU: 20 ms packets of 48 kHz stereo, a little faster than real time. */
async function stream(ws: WebSocket, pcm: Int16Array): Promise<void> {
  const step = 960 * 2;
  for (let i = 0, seq = 0; i < pcm.length; i += step, seq++) {
    const chunk = pcm.slice(i, i + step);
    ws.send(encodePacket({ sequenceNumber: seq, timestamp: seq * 960, payload: new Uint8Array(chunk.buffer) }));
    await new Promise((r) => setTimeout(r, 17));
  }
}

function speech(): Int16Array {
  return concat(stereo(300, -Infinity), stereo(1000, -20), stereo(800, -Infinity));
}

const base = (callId: string, sessionId: string) => `/api/v2/calls/${callId}/sfu/sessions/${sessionId}`;

/** A started call; alice published audio ("alice-mic") and video through the proxy; bob listens on his socket. */
async function sfuCall() {
  const c = await createCall();
  await call(`/api/v2/calls/${c.call_id}/start`, { method: "POST" });
  const alice = await addParticipant(c.call_id, "alice");
  const bob = await addParticipant(c.call_id, "bob");
  const session = (
    await json<{ sessionId: string }>(await call(`/api/v2/calls/${c.call_id}/sfu/sessions`, { body: {}, token: alice.join_token }))
  ).sessionId;
  const pushed = await call(`${base(c.call_id, session)}/tracks`, {
    token: alice.join_token,
    body: {
      sessionDescription: OFFER,
      tracks: [
        { location: "local", mid: "0", trackName: "alice-mic" },
        { location: "local", mid: "1", trackName: "alice-cam" },
      ],
    },
  });
  expect(pushed.status).toBe(200);
  const listener = await join(c.call_id, bob.join_token);
  await listener.next("roster");
  return { c, alice, bob, session, listener, a: alice.participant.participant_id };
}

/** Opens live transcription of alice's mic; returns the adapter and the endpoint the SFU was given. */
async function open(callId: string, session: string, token: string, trackName = "alice-mic") {
  const res = await call(`${base(callId, session)}/transcription`, { token, body: { trackName } });
  return { res, endpoint: sfu.adapters.get(`adapter-${sfu.adapters.size}`)?.endpoint };
}

/** Dials the endpoint as the SFU does (a WebSocket upgrade, no headers of its own). */
function dial(endpoint: string, headers: Record<string, string> = { Upgrade: "websocket" }): Promise<Response> {
  return exports.default.fetch(endpoint.replace(/^ws/, "http"), { headers });
}

describe("SFU mode: the adapter streams a participant's track to live transcription", () => {
  it("opens an adapter with the documented request; the SFU's packets become the participant's line on every socket", async () => {
    const { c, session, listener, alice, a } = await sfuCall();
    const { res, endpoint } = await open(c.call_id, session, alice.join_token);
    expect(res.status).toBe(201);
    const body = await json(res);
    expect(body).toEqual({ adapter_id: "adapter-1", session_id: session, track_name: "alice-mic" });
    // The secret endpoint is given to the SFU only.
    expect(JSON.stringify(body)).not.toContain("token");
    const asked = sfu.requests.find((r) => r.path === "/adapters/websocket/new")!.body as { tracks: Record<string, string>[] };
    expect(asked.tracks).toEqual([{ location: "remote", sessionId: session, trackName: "alice-mic", endpoint, outputCodec: "pcm" }]);
    expect(endpoint).toMatch(new RegExp(`^ws://localhost:8787/api/v2/calls/${c.call_id}/sfu/audio\\?token=[\\w.-]{100,}$`));

    const up = await dial(endpoint!);
    expect(up.status).toBe(101);
    const ws = up.webSocket!;
    ws.accept();
    await stream(ws, speech());
    const line = (await listener.next("transcript")).line as TranscriptLine;
    expect(line).toMatchObject({
      participant_id: a,
      text: "through the sfu",
      source: "speech_to_text",
      confidence: expect.closeTo(0.9, 5),
    });
    const seconds = (Date.parse(line.ended_at!) - Date.parse(line.started_at!)) / 1000;
    expect(seconds).toBeGreaterThan(1.3);
    expect(seconds).toBeLessThan(1.5);
    expect(heard).toHaveLength(1);
    const wav = new DataView(heard[0]!.buffer);
    expect([wav.getUint16(22, true), wav.getUint32(24, true)]).toEqual([1, 16_000]);
    expect((heard[0]!.byteLength - 44) / 2 / 16_000).toBeCloseTo(seconds, 2);
    ws.close(1000, "done");

    // Closing: only the participant's own adapter; the SFU is told.
    const closeUrl = `${base(c.call_id, session)}/transcription/adapter-1`;
    await problem(await call(closeUrl, { method: "DELETE", token: (await addParticipant(c.call_id, "mallory")).join_token }), 403);
    expect(sfu.adapters.get("adapter-1")?.closed).toBe(false);
    const closed = await call(closeUrl, { method: "DELETE", token: alice.join_token });
    expect(await json(closed)).toEqual({ adapter_id: "adapter-1", closed: true });
    expect(sfu.adapters.get("adapter-1")?.closed).toBe(true);
    await problem(await call(closeUrl, { method: "DELETE", token: alice.join_token }), 404);
  });

  it("malformed and oversized packets are dropped without a line; the stream goes on", async () => {
    const { c, session, listener, alice, a } = await sfuCall();
    const { endpoint } = await open(c.call_id, session, alice.join_token);
    const ws = (await dial(endpoint!)).webSocket!;
    ws.accept();
    ws.send(new Uint8Array([0x2a, 0x7f, 1]));
    ws.send("text is not audio");
    ws.send(encodePacket({ sequenceNumber: 1, timestamp: 0, payload: new Uint8Array(40_000) }));
    ws.send(encodePacket({ sequenceNumber: 2, timestamp: 0, payload: new Uint8Array(6) }));
    await stream(ws, speech());
    expect(((await listener.next("transcript")).line as TranscriptLine).participant_id).toBe(a);
    expect(heard).toHaveLength(1);
  });
});

describe("SFU mode: one source of a participant's audio at a time", () => {
  it("while the adapter is connected, audio frames on the participant's socket are ignored; after it closes, they count again", async () => {
    const { c, session, listener, alice, a } = await sfuCall();
    const { endpoint } = await open(c.call_id, session, alice.join_token);
    const ws = (await dial(endpoint!)).webSocket!;
    ws.accept();
    const page = await join(c.call_id, alice.join_token);
    await page.next("roster");
    /** The page's own frames: 16 kHz mono, 40 ms each, about real time. */
    const pageSpeaks = async () => {
      const mono = new Int16Array(speech().filter((_, i) => i % 6 === 0));
      for (let i = 0; i < mono.length; i += 640) {
        page.ws.send(mono.slice(i, i + 640).buffer);
        await new Promise((r) => setTimeout(r, 32));
      }
    };
    await pageSpeaks();
    page.send("not json");
    await page.next("error");
    expect(heard).toEqual([]);
    ws.close(1000, "adapter closed");
    // The close reaches the object asynchronously: speak again until the socket's audio counts (or fail).
    for (let attempt = 0; attempt < 3 && heard.length === 0; attempt++) await pageSpeaks();
    expect(heard.length).toBeGreaterThan(0);
    expect(((await listener.next("transcript")).line as TranscriptLine).participant_id).toBe(a);
  });
});

describe("SFU mode: refusals change nothing", () => {
  it("the endpoint wants a valid token of this call and an upgrade, for a participant still in it", async () => {
    const { c, session, alice } = await sfuCall();
    const { endpoint } = await open(c.call_id, session, alice.join_token);
    const path = `http://localhost:8787/api/v2/calls/${c.call_id}/sfu/audio`;
    await problem(await dial(path), 401);
    await problem(await dial(`${path}?token=not-a-token`), 401);
    // A join token is not an endpoint token, even for the same participant.
    await problem(await dial(`${path}?token=${alice.join_token}`), 401);
    await problem(await dial(endpoint!, {}), 400);
    // Another call's endpoint token.
    const other = await sfuCall();
    const { endpoint: otherEndpoint } = await open(other.c.call_id, other.session, other.alice.join_token);
    await problem(await dial(otherEndpoint!.replace(other.c.call_id, c.call_id)), 403);
    // Alice leaves: her adapter's endpoint no longer opens.
    expect((await call(`/api/v2/calls/${c.call_id}/participants/${alice.participant.participant_id}`, { method: "DELETE" })).status).toBe(
      200,
    );
    await problem(await dial(endpoint!), 409);
    expect(heard).toEqual([]);
  });

  it("opening: only one's own session and published audio track, transcription on, a speech provider and the SFU configured", async () => {
    const { c, session, alice, bob, listener, a } = await sfuCall();
    const adapters = () => sfu.count("POST", /^\/adapters\/websocket\/new$/);
    // Bob names alice's session.
    await problem(
      await call(`${base(c.call_id, session)}/transcription`, { token: bob.join_token, body: { trackName: "alice-mic" } }),
      403,
    );
    // A video track, or a track nobody published.
    await problem((await open(c.call_id, session, alice.join_token, "alice-cam")).res, 404);
    await problem((await open(c.call_id, session, alice.join_token, "nothing")).res, 404);
    await problem(await call(`${base(c.call_id, session)}/transcription`, { token: alice.join_token, body: {} }), 422);
    await problem(await call(`${base(c.call_id, session)}/transcription`, { token: null, body: { trackName: "alice-mic" } }), 401);
    // No speech provider, no SFU.
    const noSpeech = await callWith({ SPEECH_BASE_URL: "" }, `${base(c.call_id, session)}/transcription`, {
      token: alice.join_token,
      body: { trackName: "alice-mic" },
    });
    expect((await problem(noSpeech, 503)).detail).toContain("SPEECH_BASE_URL");
    await problem(
      await callWith({ REALTIME_APP_ID: "" }, `${base(c.call_id, session)}/transcription`, {
        token: alice.join_token,
        body: { trackName: "alice-mic" },
      }),
      503,
    );
    expect(adapters()).toBe(0);
    // Alice turned her transcription off.
    const aliceSocket: Peer = await join(c.call_id, alice.join_token);
    await aliceSocket.next("roster");
    aliceSocket.send({ type: "transcription", muted: true });
    expect(await listener.next("participant_updated")).toMatchObject({ participant: { participant_id: a, transcription_muted: true } });
    await problem((await open(c.call_id, session, alice.join_token)).res, 409);
    expect(adapters()).toBe(0);
    expect(heard).toEqual([]);
  });
});
