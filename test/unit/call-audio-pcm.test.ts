/** PCM helpers and the audio ingest bounds (durable-objects/call-session/pcm.ts, audio-ingest.ts). */
import { describe, expect, it } from "vitest";
import { AUDIO_BURST_MS, AudioIngest, MAX_AUDIO_FRAME_BYTES, REFUSAL_NOTICE_MS } from "../../durable-objects/call-session/audio-ingest";
import { Stereo48kToMono16k, encodeWav, s16le } from "../../durable-objects/call-session/pcm";
import { rmsDb } from "../../durable-objects/call-session/vad";

/** Interleaved 48 kHz stereo: a sine of `hz` at `peak` on both channels. */
function stereoSine(hz: number, ms: number, peak = 10_000): Int16Array {
  const n = (48_000 * ms) / 1000;
  const out = new Int16Array(n * 2);
  for (let i = 0; i < n; i++) out[2 * i] = out[2 * i + 1] = Math.round(peak * Math.sin((2 * Math.PI * hz * i) / 48_000));
  return out;
}

/** Zero crossings per second of 16 kHz samples: twice the frequency of a pure tone. */
function crossingsPerSecond(pcm: Int16Array): number {
  let n = 0;
  for (let i = 1; i < pcm.length; i++) if (pcm[i - 1]! < 0 !== pcm[i]! < 0) n++;
  return n / (pcm.length / 16_000);
}

const bytesOf = (pcm: Int16Array) => new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength);

describe("WAV", () => {
  it("is a RIFF/WAVE PCM 16-bit mono 16 kHz file around the samples", () => {
    const pcm = new Int16Array([0, 1, -1, 32767, -32768]);
    const wav = encodeWav(pcm);
    const view = new DataView(wav.buffer);
    const ascii = (o: number) => String.fromCharCode(...wav.subarray(o, o + 4));
    expect([ascii(0), ascii(8), ascii(12), ascii(36)]).toEqual(["RIFF", "WAVE", "fmt ", "data"]);
    expect(view.getUint32(4, true)).toBe(36 + 10);
    expect([view.getUint16(20, true), view.getUint16(22, true), view.getUint32(24, true), view.getUint16(34, true)]).toEqual([
      1, 1, 16_000, 16,
    ]);
    expect(view.getUint32(40, true)).toBe(10);
    expect([...s16le(wav.subarray(44))]).toEqual([...pcm]);
  });
});

describe("48 kHz stereo to 16 kHz mono", () => {
  it("keeps a speech-band tone's frequency and level, a third of the samples", () => {
    const out = new Stereo48kToMono16k().push(stereoSine(1000, 1000));
    expect(out.length).toBe(16_000);
    expect(crossingsPerSecond(out.subarray(100))).toBeGreaterThan(1990);
    expect(crossingsPerSecond(out.subarray(100))).toBeLessThan(2010);
    expect(rmsDb(out.subarray(100))).toBeCloseTo(rmsDb(stereoSine(1000, 1000)), 0);
  });

  it("filters out what would fold back (12 kHz is above the new 8 kHz Nyquist)", () => {
    const out = new Stereo48kToMono16k().push(stereoSine(12_000, 500));
    expect(rmsDb(out.subarray(100)) - rmsDb(stereoSine(12_000, 500))).toBeLessThan(-30);
  });

  it("mixes the channels to mono", () => {
    const left = stereoSine(500, 200);
    for (let i = 1; i < left.length; i += 2) left[i] = 0;
    const out = new Stereo48kToMono16k().push(left);
    expect(rmsDb(out.subarray(100))).toBeCloseTo(rmsDb(stereoSine(500, 200)) - 6.02, 0);
  });

  it("packet borders change nothing: the filter state carries over", () => {
    const input = stereoSine(700, 300);
    const whole = new Stereo48kToMono16k().push(input);
    const r = new Stereo48kToMono16k();
    const parts: number[] = [];
    for (let i = 0; i < input.length; i += 2 * 481) parts.push(...r.push(input.subarray(i, i + 2 * 481)));
    expect(parts).toEqual([...whole]);
  });
});

describe("audio ingest bounds", () => {
  const frameMs = 40;
  const frame = () => bytesOf(new Int16Array((16_000 * frameMs) / 1000).fill(1000));

  it("takes real-time frames and strings them on one timeline", () => {
    const ingest = new AudioIngest();
    let now = 1_000_000;
    const ats: number[] = [];
    for (let i = 0; i < 100; i++) {
      now += frameMs + (i % 2 ? 7 : -7); // network jitter
      const r = ingest.fromSocket("part_a", frame(), now);
      if (!("frame" in r)) throw new Error(`refused: ${JSON.stringify(r)}`);
      expect(r.frame.participant_id).toBe("part_a");
      expect(r.frame.pcm.length).toBe(640);
      ats.push(r.frame.at);
    }
    expect(ats.slice(1).map((at, i) => at - ats[i]!)).toEqual(Array(99).fill(frameMs));
  });

  it("refuses an oversized frame and an odd or empty one", () => {
    const ingest = new AudioIngest();
    expect(ingest.fromSocket("p", new Uint8Array(MAX_AUDIO_FRAME_BYTES + 2), 0)).toMatchObject({
      refusal: { code: "audio_too_large" },
      notify: true,
    });
    expect(ingest.fromSocket("p", new Uint8Array(MAX_AUDIO_FRAME_BYTES), 5000)).toHaveProperty("frame");
    expect(ingest.fromSocket("q", new Uint8Array(3), 0)).toMatchObject({ refusal: { code: "invalid_message" } });
    expect(ingest.fromSocket("r", new Uint8Array(0), 0)).toMatchObject({ refusal: { code: "invalid_message" } });
  });

  it("refuses a stream faster than real time beyond the burst, tells the socket once a second, and recovers", () => {
    const ingest = new AudioIngest();
    const results = Array.from({ length: 60 }, () => ingest.fromSocket("p", frame(), 1000));
    const accepted = results.filter((r) => "frame" in r).length;
    expect(accepted).toBe(AUDIO_BURST_MS / frameMs);
    const refused = results.filter((r) => "refusal" in r);
    expect(refused[0]).toMatchObject({ refusal: { code: "audio_too_fast" }, notify: true });
    expect(refused.slice(1).every((r) => "notify" in r && !r.notify)).toBe(true);
    expect(ingest.fromSocket("p", frame(), 1000 + REFUSAL_NOTICE_MS - 1)).toHaveProperty("frame");
    // Another participant's bucket is untouched.
    expect(ingest.fromSocket("other", frame(), 1000)).toHaveProperty("frame");
  });
});
