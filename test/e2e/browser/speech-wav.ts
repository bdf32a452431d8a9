/**
 * Real speech for the voice tests: Debian's `espeak-ng` writes a WAV of a sentence (22.05 kHz
 * mono s16), and this pads it with silence so a looping fake microphone leaves pauses between
 * the sentences. Missing espeak-ng throws (install it: `apt-get install -y espeak-ng`).
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";

export interface PcmWav {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  /** The data chunk (little-endian samples). */
  data: Buffer;
}

/** Parses a PCM WAV (RIFF chunks in any order); throws on anything else. */
export function parseWav(wav: Buffer): PcmWav {
  if (wav.toString("ascii", 0, 4) !== "RIFF" || wav.toString("ascii", 8, 12) !== "WAVE") throw new Error("not a RIFF/WAVE file");
  let fmt: Omit<PcmWav, "data"> | undefined;
  for (let at = 12; at + 8 <= wav.length;) {
    const id = wav.toString("ascii", at, at + 4);
    const size = wav.readUInt32LE(at + 4);
    const body = wav.subarray(at + 8, Math.min(wav.length, at + 8 + size));
    if (id === "fmt ") {
      if (body.readUInt16LE(0) !== 1) throw new Error(`WAV format ${body.readUInt16LE(0)} is not PCM`);
      fmt = { channels: body.readUInt16LE(2), sampleRate: body.readUInt32LE(4), bitsPerSample: body.readUInt16LE(14) };
    }
    // espeak-ng writing to a file it cannot seek leaves 0xFFFFFFFF: the data runs to the end.
    if (id === "data" && fmt) return { ...fmt, data: size === 0xffffffff ? wav.subarray(at + 8) : body };
    at += 8 + size + (size % 2);
  }
  throw new Error("no fmt/data chunks");
}

export function wavBytes(w: PcmWav): Buffer {
  const header = Buffer.alloc(44);
  header.write("RIFF", 0, "ascii");
  header.writeUInt32LE(36 + w.data.length, 4);
  header.write("WAVE", 8, "ascii");
  header.write("fmt ", 12, "ascii");
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(w.channels, 22);
  header.writeUInt32LE(w.sampleRate, 24);
  header.writeUInt32LE((w.sampleRate * w.channels * w.bitsPerSample) / 8, 28);
  header.writeUInt16LE((w.channels * w.bitsPerSample) / 8, 32);
  header.writeUInt16LE(w.bitsPerSample, 34);
  header.write("data", 36, "ascii");
  header.writeUInt32LE(w.data.length, 40);
  return Buffer.concat([header, w.data]);
}

export function seconds(w: PcmWav): number {
  return w.data.length / ((w.channels * w.bitsPerSample) / 8) / w.sampleRate;
}

/** espeak-ng says `text` into `path` with `silenceSeconds` of silence after it; returns the speech's length. */
export function speakToWav(text: string, path: string, silenceSeconds: number): { speechSeconds: number; totalSeconds: number } {
  const run = spawnSync("espeak-ng", ["-v", "en-us", "-s", "150", "-w", path, text], { encoding: "utf8", timeout: 30_000 });
  if (run.error || run.status !== 0) {
    throw new Error(
      `espeak-ng failed (${run.error ? String(run.error) : run.stderr.trim() || `exit ${run.status}`}): install it with \`apt-get install -y espeak-ng\`.`,
    );
  }
  const spoken = parseWav(readFileSync(path));
  const pad = Buffer.alloc(Math.round(silenceSeconds * spoken.sampleRate) * ((spoken.channels * spoken.bitsPerSample) / 8));
  const padded = { ...spoken, data: Buffer.concat([spoken.data, pad]) };
  writeFileSync(path, wavBytes(padded));
  return { speechSeconds: seconds(spoken), totalSeconds: seconds(padded) };
}
