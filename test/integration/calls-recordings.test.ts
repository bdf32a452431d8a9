/**
 * Call recordings through the real Worker and call object, with the real (local) R2 bucket:
 * participants' audio arrives as binary frames on their sockets (the live-audio ingest), the
 * recorder stores it in chunks while the call runs, GET call lists it, the download is a WAV of
 * exactly the audio sent, and DELETE erases the objects. Chunks are 1 s here (vitest.config.ts).
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { parseWav } from "../../src/calls/recordings/wav";
import type { Recording } from "../../src/calls/recordings/model";
import { call, callWith, json, mintToken, problem } from "../helpers/api";
import { addParticipant, createCall, join, type Peer } from "../helpers/calls";

const FRAME_SAMPLES = 1600; // 100 ms at 16 kHz, the largest frame ingest takes

/** A tone whose every sample is known, so the download can be compared sample for sample. */
function tone(seconds: number, hz: number): Int16Array {
  const n = Math.round(seconds * 16_000);
  return Int16Array.from({ length: n }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * hz * i) / 16_000)));
}

/** Sends PCM as 100 ms frames, a little faster than real time (ingest allows 1.25×). */
async function speak(peer: Peer, pcm: Int16Array): Promise<void> {
  for (let at = 0; at < pcm.length; at += FRAME_SAMPLES) {
    peer.ws.send(pcm.slice(at, at + FRAME_SAMPLES).buffer);
    await new Promise((r) => setTimeout(r, 85));
  }
}

/** MPEG-1 Layer III frames (128 kbit/s, 44.1 kHz: 417 bytes and 1152 samples each), as a speech server's MP3. */
function mp3(frames: number, fill: number): Uint8Array {
  const out = new Uint8Array(frames * 417).fill(fill);
  for (let i = 0; i < frames; i++) out.set([0xff, 0xfb, 0x90, 0x64], i * 417);
  return out;
}

async function recordings(callId: string): Promise<Recording[]> {
  return (await json<{ recordings: Recording[] }>(await call(`/api/v2/calls/${callId}`))).recordings;
}

async function storedKeys(callId: string): Promise<string[]> {
  return (await env.RECORDINGS.list({ prefix: `calls/${callId}/` })).objects.map((o) => o.key);
}

async function recordedCall(people: string[]) {
  const c = await createCall({ recording_enabled: true });
  expect((await call(`/api/v2/calls/${c.call_id}/start`, { body: {} })).status).toBe(200);
  const joined = [];
  for (const name of people) {
    const p = await addParticipant(c.call_id, name);
    const peer = await join(c.call_id, p.join_token);
    joined.push({ id: p.participant.participant_id, token: p.join_token, peer, roster: await peer.next("roster") });
  }
  return { callId: c.call_id, joined };
}

describe("recordings", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("stores each participant's audio in chunks during the call, lists it on the call and serves it as the exact WAV", async () => {
    const { callId, joined } = await recordedCall(["alice", "bob"]);
    const [alice, bob] = joined;
    // Every page is told before anything of theirs is recorded: the roster says so.
    expect(alice!.roster).toMatchObject({ type: "roster", recording: true });
    expect(bob!.roster).toMatchObject({ type: "roster", recording: true });

    const aliceAudio = tone(3.5, 440);
    const bobAudio = tone(1.2, 660);
    await Promise.all([speak(alice!.peer, aliceAudio), speak(bob!.peer, bobAudio)]);
    // Chunks are in R2 while the call still runs (the full ones at once; the rest after a short pause).
    await expect.poll(async () => (await storedKeys(callId)).length).toBeGreaterThanOrEqual(4);
    expect((await json<{ status: string }>(await call(`/api/v2/calls/${callId}`))).status).toBe("active");

    await expect
      .poll(async () => (await recordings(callId)).map((r) => [r.participant_id, r.duration_seconds]))
      .toEqual([
        [alice!.id, 3.5],
        [bob!.id, 1.2],
      ]);
    const listed = await recordings(callId);
    for (const r of listed) {
      expect(r).toMatchObject({ track: "participant", content_type: "audio/wav" });
      expect(r.recording_id).toMatch(/^rec_[0-9a-f]{24}$/);
      expect(Date.parse(r.started_at)).not.toBeNaN();
    }
    expect(listed[0]!.bytes).toBe(44 + aliceAudio.byteLength);
    // Alice: 1 s chunks 0..2 and the half second flushed after she went quiet.
    expect((await storedKeys(callId)).filter((k) => k.includes(listed[0]!.recording_id))).toEqual(
      [0, 1, 2, 3].map((i) => `calls/${callId}/${listed[0]!.recording_id}/00000${i}`),
    );

    const res = await call(`/api/v2/calls/${callId}/recordings/${listed[0]!.recording_id}`, { token: await mintToken({ role: "guest" }) });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("audio/wav");
    expect(res.headers.get("content-length")).toBe(String(listed[0]!.bytes));
    const file = new Uint8Array(await res.arrayBuffer());
    const wav = parseWav(file)!;
    expect(wav).toMatchObject({ audioFormat: 1, channels: 1, sampleRate: 16_000, bitsPerSample: 16, durationSeconds: 3.5 });
    expect(new Int16Array(file.slice(wav.dataOffset).buffer)).toEqual(aliceAudio);
  });

  it("the agent's speech (…/speak) is its own MP3 recording, attributed to the agent participant", async () => {
    const { callId } = await recordedCall(["hal"]);
    const agent = (await addParticipant(callId, "agent", { is_agent: true })).participant.participant_id;
    const clips = [mp3(40, 1), mp3(25, 2)];
    let served = 0;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const req = new Request(input, init);
      if (req.url !== "http://speech.test/v1/audio/speech") throw new Error(`unexpected fetch ${req.url}`);
      return new Response(clips[served++]!, { headers: { "Content-Type": "audio/mpeg" } });
    });
    for (const text of ["Hello.", "How can I help?"]) {
      const res = await callWith({ SPEECH_BASE_URL: "http://speech.test" }, `/api/v2/calls/${callId}/speak`, { body: { text } });
      expect(res.status).toBe(200);
    }
    await expect.poll(async () => (await recordings(callId)).filter((r) => r.track === "agent").length).toBe(1);
    const rec = (await recordings(callId)).find((r) => r.track === "agent")!;
    expect(rec).toMatchObject({ participant_id: agent, content_type: "audio/mpeg", bytes: 65 * 417 });
    expect(rec.duration_seconds).toBeCloseTo((65 * 1152) / 44_100, 2);
    const res = await call(`/api/v2/calls/${callId}/recordings/${rec.recording_id}`);
    expect(res.headers.get("content-type")).toBe("audio/mpeg");
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(new Uint8Array([...clips[0]!, ...clips[1]!]));
  });

  it("the end of the call writes out what was still waiting", async () => {
    const { callId, joined } = await recordedCall(["carol"]);
    await speak(joined[0]!.peer, tone(0.5, 300));
    expect((await call(`/api/v2/calls/${callId}/end`, { body: {} })).status).toBe(200);
    await expect.poll(async () => (await recordings(callId)).map((r) => r.duration_seconds)).toEqual([0.5]);
  });

  it("records nothing, and says so, when the call was created without recording_enabled", async () => {
    const c = await createCall();
    expect((await call(`/api/v2/calls/${c.call_id}/start`, { body: {} })).status).toBe(200);
    const p = await addParticipant(c.call_id, "dave");
    const peer = await join(c.call_id, p.join_token);
    expect(await peer.next("roster")).toMatchObject({ recording: false });
    await speak(peer, tone(1.5, 500));
    await new Promise((r) => setTimeout(r, 2000)); // past the idle flush
    expect(await recordings(c.call_id)).toEqual([]);
    expect(await storedKeys(c.call_id)).toEqual([]);
  });

  it("download refusals: no credentials, another agent's credential, unknown call or recording, a malformed id", async () => {
    const { callId, joined } = await recordedCall(["erin"]);
    await speak(joined[0]!.peer, tone(1, 200));
    await expect.poll(async () => (await recordings(callId)).length).toBe(1);
    const [rec] = await recordings(callId);
    const path = `/api/v2/calls/${callId}/recordings/${rec!.recording_id}`;
    await problem(await call(path, { token: null }), 401);
    await problem(await call(path, { token: await mintToken({ role: "developer", agents: ["someone-else"] }) }), 403);
    await problem(await call(path, { token: joined[0]!.token }), 401); // a join token is no API credential
    expect((await problem(await call(`/api/v2/calls/${callId}/recordings/rec_${"0".repeat(24)}`), 404)).detail).toContain("No recording");
    await problem(await call(`/api/v2/calls/call_${"0".repeat(24)}/recordings/${rec!.recording_id}`), 404);
    await problem(await call(`/api/v2/calls/${callId}/recordings/not-an-id`), 422);
  });

  it("DELETE …/recordings erases the listing and every stored object; refusals change nothing", async () => {
    const { callId, joined } = await recordedCall(["gina"]);
    await speak(joined[0]!.peer, tone(2.3, 350));
    await expect.poll(async () => (await recordings(callId)).map((r) => r.duration_seconds)).toEqual([2.3]);
    const before = await recordings(callId);
    const keys = await storedKeys(callId);
    expect(keys).toHaveLength(3);

    const erase = (token: string | null) => call(`/api/v2/calls/${callId}/recordings`, { method: "DELETE", token });
    await problem(await erase(null), 401);
    await problem(await erase(await mintToken({ role: "user" })), 403); // no calls:write
    await problem(await erase(await mintToken({ role: "developer", agents: ["someone-else"] })), 403);
    await problem(await call(`/api/v2/calls/call_${"0".repeat(24)}/recordings`, { method: "DELETE" }), 404);
    expect(await recordings(callId)).toEqual(before);
    expect(await storedKeys(callId)).toEqual(keys);

    const res = await erase(await mintToken({ role: "developer", agents: ["agent-calls"] }));
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ call_id: callId, deleted: 1, objects: 3 });
    expect(await recordings(callId)).toEqual([]);
    expect(await storedKeys(callId)).toEqual([]);
    await problem(await call(`/api/v2/calls/${callId}/recordings/${before[0]!.recording_id}`), 404);

    // The call goes on being recorded: new audio starts a new recording.
    await speak(joined[0]!.peer, tone(1, 350));
    await expect.poll(async () => (await recordings(callId)).map((r) => r.duration_seconds)).toEqual([1]);
    expect((await recordings(callId))[0]!.recording_id).not.toBe(before[0]!.recording_id);
  });

  it("without a RECORDINGS bucket a recorded call is refused (422) and nothing is created; /health says why", async () => {
    const count = async () => (await env.DB.prepare("SELECT count(*) AS n FROM call_index").first<{ n: number }>())!.n;
    const before = await count();
    const refused = await problem(
      await callWith({ RECORDINGS: undefined }, "/api/v2/calls", { body: { agent_id: "agent-calls", recording_enabled: true } }),
      422,
    );
    expect(refused.detail).toContain("no RECORDINGS bucket");
    expect(refused.errors).toEqual([{ path: "body.recording_enabled", message: "recordings are not available on this server" }]);
    expect(await count()).toBe(before);
    const plain = await callWith({ RECORDINGS: undefined }, "/api/v2/calls", { body: { agent_id: "agent-calls" } });
    expect(plain.status).toBe(201);
    const download = await problem(
      await callWith(
        { RECORDINGS: undefined },
        `/api/v2/calls/${(await json<{ call_id: string }>(plain)).call_id}/recordings/rec_${"0".repeat(24)}`,
      ),
      503,
    );
    expect(download.detail).toContain("no RECORDINGS bucket");

    const health = await json<{ checks: Record<string, { ok: boolean; detail: string }> }>(
      await callWith({ RECORDINGS: undefined }, "/health", { token: await mintToken({ role: "guest" }) }),
    );
    expect(health.checks.recordings).toEqual({ ok: false, detail: expect.stringContaining("recordings unavailable") });
    const bound = await json<{ checks: Record<string, { ok: boolean; detail: string }> }>(
      await call("/health", { token: await mintToken({ role: "guest" }) }),
    );
    expect(bound.checks.recordings).toEqual({ ok: true, detail: expect.stringContaining("chunks of 1 s") });
  });
});
