/**
 * Live transcription over the participant's own socket (docs/voice.md): binary PCM frames →
 * voice activity → the OpenAI-compatible speech fake → a transcript line on every socket.
 * The call object reads its settings from the Worker's env, which these tests point at a fake.
 */
import { env } from "cloudflare:workers";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { MAX_AUDIO_FRAME_BYTES } from "../../durable-objects/call-session/audio-ingest";
import type { CallSession, TranscriptLine } from "../../src/calls/model";
import { call, callWith, json } from "../helpers/api";
import { concat, tone } from "../helpers/audio";
import { addParticipant, createCall, join, type Peer } from "../helpers/calls";

const RATE = 16_000;
const settings = env as unknown as Record<string, unknown>;

/** 300 ms of silence, `speechMs` of voice, 800 ms of silence (enough to close the utterance). */
function utterance(speechMs = 1000): Int16Array {
  return concat(tone(300, -Infinity), tone(speechMs, -20), tone(800, -Infinity));
}

/** Sends PCM in 40 ms frames at about real time (a frame every 32 ms: inside the rate bound). */
async function speak(peer: Peer, pcm: Int16Array, frameMs = 40, everyMs = 32): Promise<void> {
  const step = (RATE * frameMs) / 1000;
  for (let i = 0; i < pcm.length; i += step) {
    peer.ws.send(pcm.slice(i, i + step).buffer);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

interface Heard {
  wav: Uint8Array;
  fields: Record<string, string>;
}

/** The OpenAI-compatible speech server: records each WAV it got; answers `answer()`. */
function fakeSpeech(
  answer: () => Response = () => Response.json({ text: " hello there ", segments: [{ end: 1.4, avg_logprob: Math.log(0.8) }] }),
) {
  const heard: Heard[] = [];
  const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const req = new Request(input, init);
    if (req.url !== "http://speech.test/v1/audio/transcriptions") throw new Error(`unexpected fetch ${req.url}`);
    const form = await req.formData();
    const file = form.get("file") as File;
    expect(file.type).toBe("audio/wav");
    heard.push({ wav: new Uint8Array(await file.arrayBuffer()), fields: { model: String(form.get("model")) } });
    return answer();
  });
  return { heard, spy };
}

/** Seconds of audio in a 16 kHz mono s16 WAV, after checking its header. */
function wavSeconds(wav: Uint8Array): number {
  const view = new DataView(wav.buffer, wav.byteOffset);
  const ascii = (o: number) => String.fromCharCode(...wav.subarray(o, o + 4));
  expect([ascii(0), ascii(8), ascii(36)]).toEqual(["RIFF", "WAVE", "data"]);
  expect([view.getUint16(22, true), view.getUint32(24, true), view.getUint16(34, true)]).toEqual([1, RATE, 16]);
  expect(view.getUint32(40, true)).toBe(wav.byteLength - 44);
  return (wav.byteLength - 44) / 2 / RATE;
}

async function transcript(callId: string): Promise<TranscriptLine[]> {
  return (await json<{ transcript: TranscriptLine[] }>(await call(`/api/v2/calls/${callId}/transcript`))).transcript;
}

/** A started call with alice and bob connected; their roster frames read. */
async function room() {
  const c = await createCall();
  await call(`/api/v2/calls/${c.call_id}/start`, { method: "POST" });
  const a = await addParticipant(c.call_id, "alice");
  const b = await addParticipant(c.call_id, "bob");
  const alice = await join(c.call_id, a.join_token);
  const roster = await alice.next("roster");
  const bob = await join(c.call_id, b.join_token);
  await bob.next("roster");
  return { c, alice, bob, roster, a: a.participant.participant_id, b: b.participant.participant_id, aliceToken: a.join_token };
}

/** Waits until the object handled everything the peer sent before (an error comes back in order). */
async function barrier(peer: Peer) {
  peer.ws.send("not json");
  expect(await peer.next("error")).toMatchObject({ code: "invalid_json" });
}

afterEach(() => vi.restoreAllMocks());

describe("with a speech provider", () => {
  beforeAll(() => void (settings.SPEECH_BASE_URL = "http://speech.test"));
  afterAll(() => void delete settings.SPEECH_BASE_URL);

  it("a participant's speech becomes a transcript line on every socket, with its times and confidence", async () => {
    const { heard } = fakeSpeech();
    const { c, alice, bob, roster, a } = await room();
    expect(roster.live_transcription).toEqual({ available: true, reason: null });
    const sentAt = Date.now();
    await speak(alice, utterance(1000));
    const line = (await bob.next("transcript")).line as TranscriptLine;
    expect((await alice.next("transcript")).line).toEqual(line);
    expect(line).toMatchObject({ participant_id: a, text: "hello there", source: "speech_to_text", confidence: expect.closeTo(0.8, 5) });
    // 1 s of voice plus the detector's 200 ms pre-roll and 200 ms tail.
    expect(Date.parse(line.ended_at!) - Date.parse(line.started_at!)).toBe(1400);
    expect(Date.parse(line.started_at!)).toBeGreaterThanOrEqual(sentAt - 1000);
    expect(heard).toHaveLength(1);
    expect(wavSeconds(heard[0]!.wav)).toBeCloseTo(1.4, 5);
    expect(await transcript(c.call_id)).toEqual([line]);
    const stored = await json<CallSession>(await call(`/api/v2/calls/${c.call_id}`));
    expect(stored.transcript).toEqual([line]);
  });

  it("the line names the socket's own participant; silence sends nothing to the provider", async () => {
    const { heard } = fakeSpeech();
    const { alice, bob, b } = await room();
    await speak(alice, tone(1500, -Infinity));
    await speak(bob, utterance(600));
    expect(((await alice.next("transcript")).line as TranscriptLine).participant_id).toBe(b);
    expect(heard).toHaveLength(1);
  });

  it("a second connection of the same participant replaces the first; its audio is still theirs, transcribed once", async () => {
    const { heard } = fakeSpeech();
    const { c, alice, bob, a, aliceToken } = await room();
    const again = await join(c.call_id, aliceToken);
    await again.next("roster");
    expect((await alice.waitClosed()).code).toBe(4000);
    await speak(again, utterance(600));
    const line = (await bob.next("transcript")).line as TranscriptLine;
    expect((await again.next("transcript")).line).toEqual(line);
    expect(line).toMatchObject({ participant_id: a, text: "hello there" });
    expect(heard).toHaveLength(1);
    expect(await transcript(c.call_id)).toEqual([line]);
  });

  it("muting one's transcription: the roster says so, the audio is ignored, unmuting resumes", async () => {
    const { heard } = fakeSpeech();
    const { c, alice, bob, a } = await room();
    alice.send({ type: "transcription", muted: true });
    expect(await bob.next("participant_updated")).toMatchObject({ participant: { participant_id: a, transcription_muted: true } });
    await speak(alice, utterance(800));
    await barrier(alice);
    expect(heard).toHaveLength(0);
    expect(await transcript(c.call_id)).toEqual([]);
    alice.send({ type: "transcription", muted: false });
    expect(await bob.next("participant_updated")).toMatchObject({ participant: { participant_id: a, transcription_muted: false } });
    await speak(alice, utterance(800));
    expect(((await bob.next("transcript")).line as TranscriptLine).participant_id).toBe(a);
  });

  it("refuses an oversized frame and a too-fast stream with a socket error; nothing of them is transcribed or stored", async () => {
    const { spy } = fakeSpeech();
    const { c, alice } = await room();
    alice.ws.send(new Uint8Array(MAX_AUDIO_FRAME_BYTES + 2).fill(0x40).buffer);
    expect(await alice.next("error")).toMatchObject({
      code: "audio_too_large",
      message: expect.stringContaining(`${MAX_AUDIO_FRAME_BYTES} bytes`),
    });
    alice.ws.send(new Uint8Array(3).buffer);
    expect(await alice.next("error")).toMatchObject({ code: "invalid_message" });
    // Three seconds of loud audio at once: the first second is taken (the burst), the rest refused.
    const loud = tone(3000, -20);
    for (let i = 0; i < loud.length; i += 640) alice.ws.send(loud.slice(i, i + 640).buffer);
    expect(await alice.next("error")).toMatchObject({ code: "audio_too_fast" });
    await barrier(alice);
    expect(spy).not.toHaveBeenCalled();
    expect(await transcript(c.call_id)).toEqual([]);
    expect(alice.closed).toBeNull();
  });

  it("an empty answer or a failing provider appends nothing and breaks nothing", async () => {
    let answer = () => Response.json({ text: "   " });
    const { heard } = fakeSpeech(() => answer());
    const { c, alice } = await room();
    await speak(alice, utterance(600));
    await vi.waitFor(() => expect(heard).toHaveLength(1));
    answer = () => new Response("upstream down", { status: 500 });
    await speak(alice, utterance(600));
    await vi.waitFor(() => expect(heard).toHaveLength(2));
    await barrier(alice);
    expect(await transcript(c.call_id)).toEqual([]);
    expect(alice.inbox.filter((f) => f.type === "transcript")).toEqual([]);
    // The call goes on: a working provider transcribes the next utterance.
    answer = () => Response.json({ text: "still here" });
    await speak(alice, utterance(600));
    expect(((await alice.next("transcript")).line as TranscriptLine).text).toBe("still here");
  });

  it("audio is ignored once the call is on hold", async () => {
    const { spy } = fakeSpeech();
    const { c, alice } = await room();
    await call(`/api/v2/calls/${c.call_id}/hold`, { method: "POST" });
    await alice.next("status");
    await speak(alice, utterance(600));
    await barrier(alice);
    expect(spy).not.toHaveBeenCalled();
  });
});

describe("/health", () => {
  it("says whether live transcription is available, and why not", async () => {
    type Health = { checks: Record<string, { ok: boolean; detail: string }> };
    const without = await json<Health>(await call("/health"));
    expect(without.checks.live_transcription).toEqual({
      ok: false,
      detail: expect.stringMatching(/^live transcription unavailable: .*SPEECH_BASE_URL/),
    });
    const withSpeech = await json<Health>(await callWith({ SPEECH_BASE_URL: "http://speech.test" }, "/health"));
    expect(withSpeech.checks.live_transcription).toEqual({ ok: true, detail: expect.stringContaining("through openai-compatible") });
  });
});

describe("without a speech provider", () => {
  it("the roster says live transcription is unavailable and why; audio reaches no provider, no line appears", async () => {
    const spy = vi.spyOn(globalThis, "fetch");
    const { c, alice, roster } = await room();
    expect(roster.live_transcription).toEqual({ available: false, reason: expect.stringContaining("SPEECH_BASE_URL") });
    await speak(alice, utterance(600));
    await barrier(alice);
    expect(spy).not.toHaveBeenCalled();
    expect(await transcript(c.call_id)).toEqual([]);
  });
});
