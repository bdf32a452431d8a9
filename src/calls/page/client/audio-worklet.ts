/**
 * The microphone tap for live transcription, an AudioWorklet processor (built on its own by
 * scripts/build-client.mjs into the static asset `/assets/call-audio-worklet.js`: a worklet module
 * must be a separate file, and a same-origin one keeps the page's CSP free of 'unsafe-inline').
 *
 * It mixes the input to mono, brings it from the context's rate (`sampleRate`: 48 kHz or 44.1 kHz
 * usually) down to 16 kHz by averaging each output sample's span of input samples (a box filter,
 * enough against aliasing for speech recognition), and posts 40 ms frames of s16 samples
 * (640 samples, 1280 bytes) to the page, which sends them on the call's socket.
 */
export {};

/** The AudioWorkletGlobalScope's names (not in the DOM library this folder compiles against). */
declare const sampleRate: number;
declare class AudioWorkletProcessor {
  readonly port: MessagePort;
}
declare function registerProcessor(name: string, ctor: new () => AudioWorkletProcessor): void;

const OUT_RATE = 16_000;
const FRAME = 640;

class MicTap extends AudioWorkletProcessor {
  readonly #step = sampleRate / OUT_RATE;
  #pos = 0;
  #sum = 0;
  #count = 0;
  #frame = new Int16Array(FRAME);
  #filled = 0;

  process(inputs: Float32Array[][]): boolean {
    const channels = inputs[0] ?? [];
    const first = channels[0];
    if (!first) return true;
    for (let i = 0; i < first.length; i++) {
      let mono = 0;
      for (const ch of channels) mono += ch[i] ?? 0;
      this.#sum += mono / channels.length;
      this.#count += 1;
      this.#pos += 1;
      if (this.#pos < this.#step) continue;
      this.#pos -= this.#step;
      const v = Math.max(-1, Math.min(1, this.#sum / this.#count));
      this.#sum = 0;
      this.#count = 0;
      this.#frame[this.#filled++] = Math.round(v < 0 ? v * 32768 : v * 32767);
      if (this.#filled === FRAME) {
        this.port.postMessage(this.#frame.buffer, [this.#frame.buffer]);
        this.#frame = new Int16Array(FRAME);
        this.#filled = 0;
      }
    }
    return true;
  }
}

registerProcessor("mic-tap", MicTap);
