/**
 * The WAV (RIFF, PCM) container for a recording: a 44-byte header in front of the raw samples the
 * recorder stored chunk by chunk. The header needs the data size up front, which the download
 * knows from the chunks' rows, so the file is streamed without being assembled in memory.
 */

export const WAV_HEADER_BYTES = 44;

export interface PcmFormat {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
}

/** The canonical 44-byte header of a PCM WAV file holding `dataBytes` bytes of samples. */
export function wavHeader(dataBytes: number, format: PcmFormat): Uint8Array {
  const blockAlign = (format.channels * format.bitsPerSample) / 8;
  const header = new Uint8Array(WAV_HEADER_BYTES);
  const view = new DataView(header.buffer);
  const ascii = (offset: number, text: string) => {
    for (let i = 0; i < text.length; i++) header[offset + i] = text.charCodeAt(i);
  };
  ascii(0, "RIFF");
  view.setUint32(4, 36 + dataBytes, true);
  ascii(8, "WAVE");
  ascii(12, "fmt ");
  view.setUint32(16, 16, true); // size of the fmt chunk for PCM
  view.setUint16(20, 1, true); // audio format 1 = PCM
  view.setUint16(22, format.channels, true);
  view.setUint32(24, format.sampleRate, true);
  view.setUint32(28, format.sampleRate * blockAlign, true);
  view.setUint16(32, blockAlign, true);
  view.setUint16(34, format.bitsPerSample, true);
  ascii(36, "data");
  view.setUint32(40, dataBytes, true);
  return header;
}

/** What a WAV file says about itself: its format and where its samples are (the first `data` chunk). */
export interface ParsedWav extends PcmFormat {
  audioFormat: number;
  dataOffset: number;
  dataBytes: number;
  durationSeconds: number;
}

/** Reads a RIFF/WAVE file's `fmt ` and `data` chunks; null when it is not one. */
export function parseWav(bytes: Uint8Array): ParsedWav | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (offset: number) => String.fromCharCode(...bytes.subarray(offset, offset + 4));
  if (bytes.byteLength < 12 || tag(0) !== "RIFF" || tag(8) !== "WAVE") return null;
  let fmt: Omit<ParsedWav, "dataOffset" | "dataBytes" | "durationSeconds"> | null = null;
  for (let offset = 12; offset + 8 <= bytes.byteLength;) {
    const id = tag(offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === "fmt " && size >= 16 && body + 16 <= bytes.byteLength) {
      fmt = {
        audioFormat: view.getUint16(body, true),
        channels: view.getUint16(body + 2, true),
        sampleRate: view.getUint32(body + 4, true),
        bitsPerSample: view.getUint16(body + 14, true),
      };
    } else if (id === "data" && fmt) {
      const dataBytes = Math.min(size, bytes.byteLength - body);
      const bytesPerSecond = (fmt.sampleRate * fmt.channels * fmt.bitsPerSample) / 8;
      return { ...fmt, dataOffset: body, dataBytes, durationSeconds: bytesPerSecond > 0 ? dataBytes / bytesPerSecond : 0 };
    }
    offset = body + size + (size % 2); // chunks are padded to an even size
  }
  return null;
}
