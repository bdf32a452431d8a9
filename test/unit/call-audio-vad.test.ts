/** Voice activity detection (durable-objects/call-session/vad.ts) on synthetic 16 kHz PCM. */
import { describe, expect, it } from "vitest";
import { concat, tone as pcmTone } from "../helpers/audio";
import { VAD_DEFAULTS, Vad, rmsDb, type VadEvent } from "../../durable-objects/call-session/vad";

const RATE = 16_000;
const T0 = 1_700_000_000_000;

/** A 440 Hz tone at `db` dBFS RMS, or silence for -Infinity. */
const tone = (ms: number, db: number) => pcmTone(ms, db, { hz: 440 });

/** Feeds `pcm` in frames of `frameMs`, as a socket would; returns every event. */
function run(pcm: Int16Array, frameMs = 40, vad = new Vad()): VadEvent[] {
  const step = (RATE * frameMs) / 1000;
  const events: VadEvent[] = [];
  for (let i = 0; i < pcm.length; i += step) events.push(...vad.push(pcm.subarray(i, i + step), T0 + (i * 1000) / RATE));
  return events;
}

const utterances = (events: VadEvent[]) => events.filter((e) => e.type === "utterance");
const SILENCE = -Infinity;

describe("voice activity", () => {
  it("measures levels in dBFS", () => {
    expect(rmsDb(tone(100, -20))).toBeCloseTo(-20, 1);
    expect(rmsDb(tone(100, SILENCE))).toBe(-Infinity);
  });

  it("silence and quiet noise under the open threshold never open", () => {
    expect(run(tone(3000, SILENCE))).toEqual([]);
    expect(run(tone(3000, -45))).toEqual([]);
  });

  it("one spoken second between silences: opens at its start, one utterance with pre-roll and tail", () => {
    const events = run(concat(tone(1000, SILENCE), tone(1000, -20), tone(1500, SILENCE)));
    expect(events.map((e) => e.type)).toEqual(["open", "utterance"]);
    expect(events[0]).toEqual({ type: "open", at: T0 + 1000 });
    const u = utterances(events)[0]!;
    expect(u.started_at).toBe(T0 + 1000 - VAD_DEFAULTS.preRollMs);
    expect(u.ended_at).toBe(T0 + 2000 + VAD_DEFAULTS.tailMs);
    expect(u.pcm.length).toBe(((u.ended_at - u.started_at) * RATE) / 1000);
    expect(u.cut).toBe(false);
    // The utterance is the audio itself: the tone is in it, at its level.
    expect(rmsDb(u.pcm.subarray((VAD_DEFAULTS.preRollMs * RATE) / 1000, ((VAD_DEFAULTS.preRollMs + 1000) * RATE) / 1000))).toBeCloseTo(
      -20,
      1,
    );
  });

  it("a click shorter than the minimum speech is dropped, never an utterance", () => {
    const events = run(concat(tone(500, SILENCE), tone(120, -10), tone(1000, SILENCE)));
    expect(events.map((e) => e.type)).toEqual(["open", "dropped"]);
  });

  it("hysteresis: a quieter stretch between the thresholds stays inside the utterance", () => {
    const events = run(concat(tone(300, SILENCE), tone(400, -20), tone(900, -44), tone(400, -20), tone(800, SILENCE)));
    expect(events.map((e) => e.type)).toEqual(["open", "utterance"]);
    const u = utterances(events)[0]!;
    expect(u.ended_at - u.started_at).toBe(VAD_DEFAULTS.preRollMs + 1700 + VAD_DEFAULTS.tailMs);
  });

  it("hangover: a pause shorter than it keeps one utterance, a longer one makes two", () => {
    const short = run(
      concat(tone(300, SILENCE), tone(500, -20), tone(VAD_DEFAULTS.hangoverMs - 100, SILENCE), tone(500, -20), tone(800, SILENCE)),
    );
    expect(utterances(short)).toHaveLength(1);
    const long = run(
      concat(tone(300, SILENCE), tone(500, -20), tone(VAD_DEFAULTS.hangoverMs + 200, SILENCE), tone(500, -20), tone(800, SILENCE)),
    );
    expect(long.map((e) => e.type)).toEqual(["open", "utterance", "open", "utterance"]);
  });

  it("an utterance reaching the maximum is cut there and the next one opens at once", () => {
    const events = run(concat(tone(20_000, -20), tone(1000, SILENCE)));
    expect(events.map((e) => e.type)).toEqual(["open", "utterance", "open", "utterance"]);
    const [first, second] = utterances(events);
    expect(first!.cut).toBe(true);
    expect(first!.ended_at - first!.started_at).toBe(VAD_DEFAULTS.maxUtteranceMs);
    expect(second!.started_at).toBe(first!.ended_at);
    expect(second!.cut).toBe(false);
  });

  it("the frame size does not change the outcome", () => {
    const pcm = concat(tone(700, SILENCE), tone(900, -25), tone(1200, SILENCE));
    const reference = run(pcm, 100);
    for (const frameMs of [10, 20, 35, 60]) expect(run(pcm, frameMs)).toEqual(reference);
  });

  it("flush closes an open utterance; thresholds must be ordered", () => {
    const vad = new Vad();
    expect(run(concat(tone(200, SILENCE), tone(800, -20)), 40, vad).map((e) => e.type)).toEqual(["open"]);
    const flushed = vad.flush();
    expect(flushed.map((e) => e.type)).toEqual(["utterance"]);
    expect(vad.isOpen).toBe(false);
    expect(() => new Vad({ openDb: -50, closeDb: -40 })).toThrow(RangeError);
  });
});
