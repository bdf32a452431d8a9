/** Speech in calls (docs/calls-and-speech.md): transcribe, speak, /speech and ICE servers, with a fake OpenAI-compatible server. */
import { afterEach, describe, expect, it, vi } from "vitest";
import type { TranscriptLine } from "../../src/calls/model";
import { call, callWith, json, mintToken, problem } from "../helpers/api";
import { addParticipant, createCall, join } from "../helpers/calls";

const SPEECH = { SPEECH_BASE_URL: "http://speech.test" } as Partial<Env>;
const MP3 = new Uint8Array([0x49, 0x44, 0x33, 4, 0, 0, 1, 2, 3]);
const WAV = new Uint8Array([0x52, 0x49, 0x46, 0x46, 1, 2, 3, 4]);
const UNKNOWN_CALL = "call_ffffffffffffffffffffffff";

/** A request through the Worker with env overrides, as super_admin unless `token` says otherwise. */
async function send(
  path: string,
  init: { body?: BodyInit; json?: unknown; type?: string; method?: string; token?: string | null } = {},
  overrides = SPEECH,
): Promise<Response> {
  const type = init.type ?? (init.json !== undefined ? "application/json" : undefined);
  return callWith(overrides, path, {
    method: init.method,
    token: init.token,
    ...(init.json !== undefined ? { body: init.json } : { rawBody: init.body }),
    headers: type ? { "Content-Type": type } : {},
  });
}

/** Fakes the speech server; records what it was asked. */
function fakeSpeech() {
  const seen: { path: string; form?: FormData; json?: Record<string, unknown> }[] = [];
  const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const req = new Request(input, init);
    const path = new URL(req.url).pathname;
    if (req.url.startsWith("http://speech.test/v1/audio/transcriptions")) {
      seen.push({ path, form: await req.formData() });
      return Response.json({
        text: " hello there ",
        language: "english",
        duration: 1.5,
        segments: [{ end: 1.5, avg_logprob: Math.log(0.8) }],
      });
    }
    if (req.url.startsWith("http://speech.test/v1/audio/speech")) {
      seen.push({ path, json: await req.json() });
      return new Response(MP3, { headers: { "Content-Type": "audio/mpeg" } });
    }
    throw new Error(`unexpected fetch ${req.url}`);
  });
  return { seen, spy };
}

async function transcript(callId: string): Promise<TranscriptLine[]> {
  return (await json<{ transcript: TranscriptLine[] }>(await call(`/api/v2/calls/${callId}/transcript`))).transcript;
}

afterEach(() => vi.restoreAllMocks());

describe("no speech provider configured", () => {
  it("answers 503 naming the settings and appends nothing", async () => {
    const c = await createCall();
    const alice = await addParticipant(c.call_id, "alice");
    const pid = alice.participant.participant_id;
    const spy = vi.spyOn(globalThis, "fetch");
    for (const res of [
      await send(`/api/v2/calls/${c.call_id}/transcribe?participant_id=${pid}`, { body: WAV, type: "audio/wav" }, {}),
      await send(`/api/v2/calls/${c.call_id}/speak`, { json: { text: "hi" } }, {}),
      await send("/api/v2/speech", { json: { text: "hi" } }, {}),
    ]) {
      const doc = await problem(res, 503);
      expect(doc.detail).toContain("SPEECH_BASE_URL");
      expect(doc.detail).toContain("SPEECH_PROVIDER");
      expect(doc.settings).toEqual(["SPEECH_BASE_URL", "SPEECH_PROVIDER"]);
    }
    expect(spy).not.toHaveBeenCalled();
    expect(await transcript(c.call_id)).toEqual([]);
  });
});

describe("POST /api/v2/calls/{call_id}/transcribe", () => {
  it("transcribes, appends the line and broadcasts it to connected peers", async () => {
    const { seen } = fakeSpeech();
    const c = await createCall();
    const alice = await addParticipant(c.call_id, "alice");
    const bob = await addParticipant(c.call_id, "bob");
    const peer = await join(c.call_id, bob.join_token);
    const pid = alice.participant.participant_id;
    const res = await send(`/api/v2/calls/${c.call_id}/transcribe?participant_id=${pid}&language=en`, { body: WAV, type: "audio/wav" });
    expect(res.status).toBe(200);
    const result = await json(res);
    expect(result).toEqual({
      text: "hello there",
      language: "english",
      confidence: expect.closeTo(0.8, 5),
      duration_seconds: 1.5,
      participant_id: pid,
      created_at: expect.stringMatching(/Z$/),
    });
    expect(seen).toHaveLength(1);
    const form = seen[0]!.form!;
    expect(form.get("model")).toBe("whisper-1");
    expect(form.get("response_format")).toBe("verbose_json");
    expect(form.get("language")).toBe("en");
    const file = form.get("file") as File;
    expect(file.name).toBe("audio.wav");
    expect(new Uint8Array(await file.arrayBuffer())).toEqual(WAV);

    const frame = await peer.next("transcript");
    expect(frame.line).toEqual({ participant_id: pid, text: "hello there", at: result.created_at, source: "speech_to_text" });
    expect(await transcript(c.call_id)).toEqual([frame.line]);
  });

  it("checks the call, the participant and the audio before the provider runs", async () => {
    const { spy } = fakeSpeech();
    const c = await createCall();
    const alice = await addParticipant(c.call_id, "alice");
    const ok = `/api/v2/calls/${c.call_id}/transcribe?participant_id=${alice.participant.participant_id}`;
    await problem(
      await send(`/api/v2/calls/${UNKNOWN_CALL}/transcribe?participant_id=${alice.participant.participant_id}`, {
        body: WAV,
        type: "audio/wav",
      }),
      404,
    );
    await problem(
      await send(`/api/v2/calls/${c.call_id}/transcribe?participant_id=part_ffffffffffffffffffffffff`, { body: WAV, type: "audio/wav" }),
      404,
    );
    await problem(await send(`/api/v2/calls/${c.call_id}/transcribe?participant_id=nobody`, { body: WAV, type: "audio/wav" }), 422);
    await problem(await send(`/api/v2/calls/${c.call_id}/transcribe`, { body: WAV, type: "audio/wav" }), 422);
    const unsupported = await send(ok, { body: "hello", type: "text/plain" });
    expect(unsupported.headers.get("accept-post")).toContain("audio/wav");
    await problem(unsupported, 415);
    await problem(await send(ok, { method: "POST", type: "audio/wav" }), 422);
    // Audio has its own 25 MiB limit, above the general body limit (which it is exempt from).
    await problem(await send(ok, { body: new Uint8Array(25 * 1024 * 1024 + 1), type: "audio/wav" }, SPEECH), 413);
    const user = await mintToken({ role: "user" });
    await problem(await send(ok, { body: WAV, type: "audio/wav", token: user }), 403);
    expect(spy).not.toHaveBeenCalled();
    expect(await transcript(c.call_id)).toEqual([]);
    await call(`/api/v2/calls/${c.call_id}/end`, { method: "POST" });
    await problem(await send(ok, { body: WAV, type: "audio/wav" }), 409);
  });

  it("accepts audio above the general body limit (2 MiB), up to its own 25 MiB", async () => {
    const { spy } = fakeSpeech();
    const c = await createCall();
    const alice = await addParticipant(c.call_id, "alice");
    const res = await send(`/api/v2/calls/${c.call_id}/transcribe?participant_id=${alice.participant.participant_id}`, {
      body: new Uint8Array(3 * 1024 * 1024),
      type: "audio/wav",
    });
    expect(res.status).toBe(200);
    expect(spy).toHaveBeenCalled();
  });
});

describe("text-to-speech", () => {
  it("POST /api/v2/speech returns the provider's audio bytes", async () => {
    const { seen } = fakeSpeech();
    const res = await send("/api/v2/speech", { json: { text: "Good morning", voice: "nova" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("audio/mpeg");
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(MP3);
    expect(seen).toEqual([
      { path: "/v1/audio/speech", json: { model: "tts-1", input: "Good morning", voice: "nova", response_format: "mp3" } },
    ]);
    await problem(await send("/api/v2/speech", { json: { text: "" } }), 422);
    await problem(await send("/api/v2/speech", { json: { text: "   " } }), 422);
    await problem(await send("/api/v2/speech", { json: { text: "x".repeat(2001) } }), 422);
    await problem(await send("/api/v2/speech", { json: { text: "hi", pitch: 3 } }), 422);
    expect(seen).toHaveLength(1);
  });

  it("POST …/speak plays the agent's speech to every peer and records it", async () => {
    const { seen } = fakeSpeech();
    const c = await createCall();
    const bot = await addParticipant(c.call_id, "bot", { is_agent: true });
    const alice = await addParticipant(c.call_id, "alice");
    const peers = [await join(c.call_id, alice.join_token), await join(c.call_id, bot.join_token)];
    const res = await send(`/api/v2/calls/${c.call_id}/speak`, { json: { text: "Welcome to the call" } });
    expect(res.status).toBe(200);
    const body = await json<{ transcript_line: TranscriptLine }>(res);
    const line = {
      participant_id: bot.participant.participant_id,
      text: "Welcome to the call",
      at: expect.stringMatching(/Z$/),
      source: "text_to_speech",
    };
    expect(body).toEqual({ success: true, transcript_line: line, bytes: MP3.byteLength, content_type: "audio/mpeg" });
    expect(seen[0]!.json).toMatchObject({ input: "Welcome to the call", voice: "alloy" });
    for (const peer of peers) {
      const speech = await peer.next("agent_speech");
      expect(speech).toMatchObject({
        participant_id: bot.participant.participant_id,
        text: "Welcome to the call",
        content_type: "audio/mpeg",
      });
      expect(Uint8Array.from(atob(String(speech.audio)), (ch) => ch.charCodeAt(0))).toEqual(MP3);
      expect((await peer.next("transcript")).line).toEqual(body.transcript_line);
    }
    expect(await transcript(c.call_id)).toEqual([body.transcript_line]);
  });

  it("speaks as null without an agent participant; unknown call 404, empty text 422", async () => {
    fakeSpeech();
    const c = await createCall();
    const res = await json<{ transcript_line: TranscriptLine }>(
      await send(`/api/v2/calls/${c.call_id}/speak`, { json: { text: "hello" } }),
    );
    expect(res.transcript_line.participant_id).toBeNull();
    await problem(await send(`/api/v2/calls/${UNKNOWN_CALL}/speak`, { json: { text: "hello" } }), 404);
    await problem(await send(`/api/v2/calls/${c.call_id}/speak`, { json: { text: "" } }), 422);
    expect(await transcript(c.call_id)).toHaveLength(1);
  });
});

describe("GET /api/v2/calls/{call_id}/ice-servers", () => {
  it("STUN without a TURN key, with a join token or calls:write", async () => {
    const spy = vi.spyOn(globalThis, "fetch");
    const c = await createCall();
    const alice = await addParticipant(c.call_id, "alice");
    const stun = { call_id: c.call_id, source: "stun", ice_servers: [{ urls: ["stun:stun.cloudflare.com:3478"] }] };
    expect(await json(await send(`/api/v2/calls/${c.call_id}/ice-servers?token=${alice.join_token}`, { token: null }))).toEqual(stun);
    expect(await json(await send(`/api/v2/calls/${c.call_id}/ice-servers`))).toEqual(stun);
    expect(spy).not.toHaveBeenCalled();
    await problem(await send(`/api/v2/calls/${c.call_id}/ice-servers`, { token: null }), 401);
    await problem(await send(`/api/v2/calls/${c.call_id}/ice-servers?token=forged`, { token: null }), 401);
    await problem(await send(`/api/v2/calls/${c.call_id}/ice-servers`, { token: await mintToken({ role: "user" }) }), 403);
    const other = await createCall();
    await problem(await send(`/api/v2/calls/${other.call_id}/ice-servers?token=${alice.join_token}`, { token: null }), 403);
    await problem(await send(`/api/v2/calls/${UNKNOWN_CALL}/ice-servers`), 404);
  });

  it("TURN credentials when a TURN key is configured", async () => {
    const turn = [{ urls: ["turn:turn.cloudflare.com:3478?transport=udp"], username: "u", credential: "p" }];
    const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const req = new Request(input, init);
      expect(req.url).toBe("https://rtc.live.cloudflare.com/v1/turn/keys/key-1/credentials/generate-ice-servers");
      expect(req.headers.get("authorization")).toBe("Bearer turn-token");
      return Response.json({ iceServers: turn });
    });
    const c = await createCall();
    const res = await send(`/api/v2/calls/${c.call_id}/ice-servers`, {}, {
      TURN_KEY_ID: "key-1",
      TURN_KEY_API_TOKEN: "turn-token",
    } as Partial<Env>);
    expect(await json(res)).toEqual({ call_id: c.call_id, source: "turn", ice_servers: turn });
    expect(spy).toHaveBeenCalledTimes(1);
    spy.mockResolvedValue(new Response("down", { status: 502 }));
    await problem(
      await send(`/api/v2/calls/${c.call_id}/ice-servers`, {}, { TURN_KEY_ID: "key-1", TURN_KEY_API_TOKEN: "turn-token" } as Partial<Env>),
      503,
    );
  });
});
