/**
 * The playing time of MPEG audio (the agent's synthesized speech is MP3), read from its frame
 * headers: every frame says its bitrate, sample rate and layer, hence its length in bytes and in
 * samples. Leading ID3v2 tags are skipped; a byte that is not a frame header is skipped too, so a
 * truncated or padded file still counts the frames it holds.
 */

const BITRATES_KBPS: Record<string, readonly number[]> = {
  "1-1": [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
  "1-2": [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
  "1-3": [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  "2-1": [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
  "2-2": [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
  "2-3": [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};
const SAMPLE_RATES: Record<number, readonly number[]> = {
  3: [44_100, 48_000, 32_000], // MPEG-1
  2: [22_050, 24_000, 16_000], // MPEG-2
  0: [11_025, 12_000, 8_000], // MPEG-2.5
};

interface Frame {
  bytes: number;
  samples: number;
  sampleRate: number;
}

/** The frame whose header starts at `at`, or null when there is none. */
function frameAt(b: Uint8Array, at: number): Frame | null {
  if (at + 4 > b.length || b[at] !== 0xff || (b[at + 1]! & 0xe0) !== 0xe0) return null;
  const version = (b[at + 1]! >> 3) & 3; // 0: 2.5, 1: reserved, 2: MPEG-2, 3: MPEG-1
  const layer = 4 - ((b[at + 1]! >> 1) & 3); // bits 11 → layer I … 01 → layer III; 00 is reserved
  const bitrateIndex = b[at + 2]! >> 4;
  const rateIndex = (b[at + 2]! >> 2) & 3;
  const padding = (b[at + 2]! >> 1) & 1;
  if (version === 1 || layer === 4 || bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3) return null;
  const bitrate = BITRATES_KBPS[`${version === 3 ? 1 : 2}-${layer}`]![bitrateIndex]! * 1000;
  const sampleRate = SAMPLE_RATES[version]![rateIndex]!;
  if (layer === 1) return { bytes: (Math.floor((12 * bitrate) / sampleRate) + padding) * 4, samples: 384, sampleRate };
  const samples = layer === 3 && version !== 3 ? 576 : 1152;
  return { bytes: Math.floor(((samples / 8) * bitrate) / sampleRate) + padding, samples, sampleRate };
}

/** Length of the ID3v2 tag starting at `at` (its size is four 7-bit bytes), or 0. */
function id3Length(b: Uint8Array, at: number): number {
  if (at + 10 > b.length || b[at] !== 0x49 || b[at + 1] !== 0x44 || b[at + 2] !== 0x33) return 0;
  const size = ((b[at + 6]! & 0x7f) << 21) | ((b[at + 7]! & 0x7f) << 14) | ((b[at + 8]! & 0x7f) << 7) | (b[at + 9]! & 0x7f);
  const footer = b[at + 5]! & 0x10 ? 10 : 0;
  return 10 + size + footer;
}

/** Seconds of audio in MPEG audio bytes (several files one after another count as one). */
export function mp3DurationSeconds(bytes: Uint8Array): number {
  let seconds = 0;
  for (let at = 0; at < bytes.length;) {
    const tag = id3Length(bytes, at);
    if (tag > 0) {
      at += tag;
      continue;
    }
    const frame = frameAt(bytes, at);
    if (!frame || frame.bytes < 4) {
      at += 1;
      continue;
    }
    seconds += frame.samples / frame.sampleRate;
    at += frame.bytes;
  }
  return seconds;
}
