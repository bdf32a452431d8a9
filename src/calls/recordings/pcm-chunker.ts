/**
 * Cuts a participant's stream of PCM frames into chunks of a fixed size, the unit the recorder
 * stores: a full chunk is handed out as soon as it fills, so what a crash can lose is at most the
 * chunk still filling. Samples are kept as little-endian bytes, the order WAV wants.
 */

export class PcmChunker {
  readonly #chunkBytes: number;
  #buffer: Uint8Array;
  #filled = 0;

  /** `chunkBytes` must be even (whole 16-bit samples). */
  constructor(chunkBytes: number) {
    if (chunkBytes <= 0 || chunkBytes % 2 !== 0) throw new RangeError(`chunkBytes must be a positive even number, not ${chunkBytes}`);
    this.#chunkBytes = chunkBytes;
    this.#buffer = new Uint8Array(chunkBytes);
  }

  /** Bytes waiting in the chunk being filled. */
  get pendingBytes(): number {
    return this.#filled;
  }

  /** Adds samples; returns the chunks they completed (usually none, sometimes one). */
  push(samples: Int16Array): Uint8Array[] {
    const bytes = littleEndianBytes(samples);
    const full: Uint8Array[] = [];
    for (let read = 0; read < bytes.byteLength;) {
      const take = Math.min(this.#chunkBytes - this.#filled, bytes.byteLength - read);
      this.#buffer.set(bytes.subarray(read, read + take), this.#filled);
      this.#filled += take;
      read += take;
      if (this.#filled === this.#chunkBytes) {
        full.push(this.#buffer);
        this.#buffer = new Uint8Array(this.#chunkBytes);
        this.#filled = 0;
      }
    }
    return full;
  }

  /** The partly filled chunk (when the track pauses or ends), or null when there is none. */
  drain(): Uint8Array | null {
    if (this.#filled === 0) return null;
    const partial = this.#buffer.slice(0, this.#filled);
    this.#filled = 0;
    return partial;
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function littleEndianBytes(samples: Int16Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength);
  const out = new Uint8Array(samples.byteLength);
  const view = new DataView(out.buffer);
  samples.forEach((s, i) => view.setInt16(i * 2, s, true));
  return out;
}
