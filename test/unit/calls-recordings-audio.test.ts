/** The recorder's pure parts: the PCM chunker, the WAV header (written and read back), MP3 duration. */
import { describe, expect, it } from "vitest";
import { mp3DurationSeconds } from "../../src/calls/recordings/mp3-duration";
import { PcmChunker } from "../../src/calls/recordings/pcm-chunker";
import { WAV_HEADER_BYTES, parseWav, wavHeader } from "../../src/calls/recordings/wav";

const samples = (n: number, from = 0) => Int16Array.from({ length: n }, (_, i) => ((from + i) % 65_536) - 32_768);

describe("PcmChunker", () => {
  it("hands out full chunks as they fill, in order, and keeps the rest until drained", () => {
    const chunker = new PcmChunker(8); // four samples a chunk
    expect(chunker.push(samples(3))).toEqual([]);
    expect(chunker.pendingBytes).toBe(6);
    const full = chunker.push(samples(7, 3)); // 10 samples so far: two full chunks, two samples left
    expect(full).toHaveLength(2);
    const all = new Int16Array(new Uint8Array([...full[0]!, ...full[1]!]).buffer);
    expect([...all]).toEqual([...samples(8)]);
    expect(chunker.pendingBytes).toBe(4);
    const rest = chunker.drain();
    expect([...new Int16Array(rest!.slice().buffer)]).toEqual([...samples(2, 8)]);
    expect(chunker.drain()).toBeNull();
    expect(chunker.pendingBytes).toBe(0);
  });

  it("stores samples little-endian, as WAV wants", () => {
    const chunker = new PcmChunker(4);
    const [chunk] = chunker.push(Int16Array.of(0x0102, -2));
    expect([...chunk!]).toEqual([0x02, 0x01, 0xfe, 0xff]);
  });

  it("refuses a chunk size that is not a positive even number", () => {
    expect(() => new PcmChunker(0)).toThrow(RangeError);
    expect(() => new PcmChunker(7)).toThrow(RangeError);
  });
});

describe("WAV header", () => {
  it("describes 16 kHz mono 16-bit PCM of the given size, and reads back", () => {
    const data = new Uint8Array(32_000 * 3 + 1000); // 3.03125 s
    const header = wavHeader(data.byteLength, { sampleRate: 16_000, channels: 1, bitsPerSample: 16 });
    expect(header.byteLength).toBe(WAV_HEADER_BYTES);
    const view = new DataView(header.buffer);
    expect(new TextDecoder().decode(header.subarray(0, 4))).toBe("RIFF");
    expect(view.getUint32(4, true)).toBe(36 + data.byteLength);
    expect(view.getUint32(28, true)).toBe(32_000); // byte rate
    expect(view.getUint16(32, true)).toBe(2); // block align
    const file = new Uint8Array([...header, ...data]);
    expect(parseWav(file)).toEqual({
      audioFormat: 1,
      channels: 1,
      sampleRate: 16_000,
      bitsPerSample: 16,
      dataOffset: 44,
      dataBytes: data.byteLength,
      durationSeconds: 3.03125,
    });
  });

  it("is not fooled by something that is not WAV", () => {
    expect(parseWav(new TextEncoder().encode("RIFF....AVI LIST"))).toBeNull();
    expect(parseWav(new Uint8Array(4))).toBeNull();
  });
});

/** MPEG-1 Layer III frames, 128 kbit/s at 44.1 kHz: 417 bytes (418 padded), 1152 samples each. */
function mp3Frames(count: number): Uint8Array {
  const frames: number[] = [];
  for (let i = 0; i < count; i++) {
    const padded = i % 3 === 0;
    const frame = Array.from({ length: padded ? 418 : 417 }, () => 0);
    frame.splice(0, 4, 0xff, 0xfb, padded ? 0x92 : 0x90, 0x64);
    frames.push(...frame);
  }
  return Uint8Array.from(frames);
}

describe("mp3DurationSeconds", () => {
  it("adds up the frames' samples", () => {
    expect(mp3DurationSeconds(mp3Frames(100))).toBeCloseTo((100 * 1152) / 44_100, 6);
  });

  it("skips ID3v2 tags, counts pieces played one after another, and ignores junk", () => {
    const id3 = Uint8Array.of(0x49, 0x44, 0x33, 4, 0, 0, 0, 0, 0, 20, ...Array.from({ length: 20 }, () => 0xff));
    const two = new Uint8Array([...id3, ...mp3Frames(10), 0x00, 0x13, ...id3, ...mp3Frames(5)]);
    expect(mp3DurationSeconds(two)).toBeCloseTo((15 * 1152) / 44_100, 6);
    expect(mp3DurationSeconds(new TextEncoder().encode("not audio at all"))).toBe(0);
  });
});
