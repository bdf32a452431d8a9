/** Synthetic PCM for the call audio tests: tones at a chosen loudness, silences, and their concatenation. */

export interface ToneShape {
  /** Frequency of the sine (300 Hz unless told). */
  hz?: number;
  /** Sample rate (16 kHz, the call's own rate, unless told). */
  rate?: number;
  /** Interleaved channels carrying the same signal (1 unless told; the SFU sends 2). */
  channels?: number;
}

/** `ms` of a sine at `db` dBFS RMS (peak = RMS·√2), or silence for -Infinity. */
export function tone(ms: number, db: number, { hz = 300, rate = 16_000, channels = 1 }: ToneShape = {}): Int16Array {
  const n = (rate * ms) / 1000;
  const out = new Int16Array(n * channels);
  if (db === -Infinity) return out;
  const peak = 32768 * 10 ** (db / 20) * Math.SQRT2;
  for (let i = 0; i < n; i++) {
    const v = Math.round(peak * Math.sin((2 * Math.PI * hz * i) / rate));
    for (let c = 0; c < channels; c++) out[i * channels + c] = v;
  }
  return out;
}

/** The parts one after the other. */
export function concat(...parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
