/**
 * A local OpenAI-compatible speech server for the browser test: `POST /v1/audio/speech` answers a
 * real WAV (a sine tone, 16-bit PCM mono) after checking the request has the documented shape
 * (`{model, input, voice, response_format}`); anything else is 404/400. Loopback only.
 * @see https://platform.openai.com/docs/api-reference/audio/createSpeech
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface SpeechRequest {
  model: unknown;
  input: unknown;
  voice: unknown;
  response_format: unknown;
  authorization: string | null;
}

export interface FakeSpeech {
  readonly baseUrl: string;
  readonly requests: SpeechRequest[];
  close(): Promise<void>;
}

/** A RIFF/WAVE file: 44-byte header + little-endian Int16 samples of a sine at `hz`. */
export function sineWav(durationSeconds: number, hz = 440, sampleRate = 24_000): Buffer {
  const samples = Math.round(durationSeconds * sampleRate);
  const data = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) data.writeInt16LE(Math.round(Math.sin((2 * Math.PI * hz * i) / sampleRate) * 0.3 * 32767), i * 2);
  const header = Buffer.alloc(44);
  header.write("RIFF", 0, "ascii");
  header.writeUInt32LE(36 + data.length, 4);
  header.write("WAVE", 8, "ascii");
  header.write("fmt ", 12, "ascii");
  header.writeUInt32LE(16, 16); // fmt chunk size
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * 2, 28); // byte rate
  header.writeUInt16LE(2, 32); // block align
  header.writeUInt16LE(16, 34); // bits per sample
  header.write("data", 36, "ascii");
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}

export async function startFakeSpeech(options: { durationSeconds: number }): Promise<FakeSpeech> {
  const requests: SpeechRequest[] = [];
  const wav = sineWav(options.durationSeconds);
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method !== "POST" || req.url !== "/v1/audio/speech") {
        res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: "not found" } }));
        return;
      }
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
      } catch {
        res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: "body is not JSON" } }));
        return;
      }
      requests.push({
        model: body.model,
        input: body.input,
        voice: body.voice,
        response_format: body.response_format,
        authorization: req.headers.authorization ?? null,
      });
      if (
        !req.headers["content-type"]?.startsWith("application/json") ||
        typeof body.input !== "string" ||
        typeof body.model !== "string"
      ) {
        res
          .writeHead(400, { "content-type": "application/json" })
          .end(JSON.stringify({ error: { message: "model and input are required" } }));
        return;
      }
      res.writeHead(200, { "content-type": "audio/wav", "content-length": String(wav.length) }).end(wav);
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}
