/**
 * PCM helpers for the call's audio: WAV encoding (what the speech-to-text provider receives) and
 * the SFU's 48 kHz stereo to the object's 16 kHz mono.
 */
import { WAV_HEADER_BYTES, wavHeader } from "../../src/calls/recordings/wav";
import { PCM_SAMPLE_RATE } from "./audio-hooks";

/** A RIFF/WAVE file (PCM, 16-bit, mono) around the samples. */
export function encodeWav(pcm: Int16Array, sampleRate = PCM_SAMPLE_RATE): Uint8Array {
  const dataBytes = pcm.length * 2;
  const out = new Uint8Array(WAV_HEADER_BYTES + dataBytes);
  out.set(wavHeader(dataBytes, { sampleRate, channels: 1, bitsPerSample: 16 }));
  const view = new DataView(out.buffer);
  for (let i = 0; i < pcm.length; i++) view.setInt16(WAV_HEADER_BYTES + i * 2, pcm[i]!, true);
  return out;
}

/** Little-endian s16 bytes as samples (an odd trailing byte is the caller's error to refuse). */
export function s16le(bytes: Uint8Array): Int16Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Int16Array(bytes.byteLength >> 1);
  for (let i = 0; i < out.length; i++) out[i] = view.getInt16(i * 2, true);
  return out;
}

/**
 * Low-pass FIR for 48 kHz → 16 kHz (keep every third sample): a Hamming-windowed sinc cut at
 * 7 kHz, so nothing above the new Nyquist frequency (8 kHz) folds back into the speech band.
 */
const TAPS = 31;
const FIR: Float64Array = (() => {
  const h = new Float64Array(TAPS);
  const fc = 7000 / 48_000;
  const mid = (TAPS - 1) / 2;
  let sum = 0;
  for (let n = 0; n < TAPS; n++) {
    const x = n - mid;
    const sinc = x === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * x) / (Math.PI * x);
    h[n] = sinc * (0.54 - 0.46 * Math.cos((2 * Math.PI * n) / (TAPS - 1)));
    sum += h[n]!;
  }
  for (let n = 0; n < TAPS; n++) h[n]! /= sum;
  return h;
})();

/**
 * 48 kHz interleaved stereo s16 → 16 kHz mono s16, one instance per stream: the filter's history
 * and the decimation phase carry over between packets, so packet borders leave no clicks.
 */
export class Stereo48kToMono16k {
  #history = new Float64Array(TAPS);
  #pos = 0;
  #phase = 0;

  push(stereo: Int16Array): Int16Array {
    const frames = stereo.length >> 1;
    const out = new Int16Array(Math.ceil((frames + this.#phase) / 3));
    let n = 0;
    for (let i = 0; i < frames; i++) {
      this.#history[this.#pos] = (stereo[2 * i]! + stereo[2 * i + 1]!) / 2;
      this.#pos = (this.#pos + 1) % TAPS;
      this.#phase = (this.#phase + 1) % 3;
      if (this.#phase !== 0) continue;
      let acc = 0;
      for (let k = 0; k < TAPS; k++) acc += FIR[k]! * this.#history[(this.#pos + k) % TAPS]!;
      out[n++] = Math.max(-32768, Math.min(32767, Math.round(acc)));
    }
    return out.subarray(0, n);
  }
}
