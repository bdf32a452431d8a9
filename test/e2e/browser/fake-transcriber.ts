/**
 * A local OpenAI-compatible speech-to-text server for the live transcription test:
 * `POST /v1/audio/transcriptions` (multipart: `file`, `model`, `response_format`, `language?`)
 * checks the request has the documented shape and that the file is a WAV it can read, records the
 * audio's format and length, and answers `verbose_json` with a known text. Loopback only.
 * @see https://platform.openai.com/docs/api-reference/audio/createTranscription
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { parseWav, seconds } from "./speech-wav.ts";

export interface HeardAudio {
  model: string | null;
  responseFormat: string | null;
  fileName: string | null;
  fileType: string | null;
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  seconds: number;
  /** RMS of the samples, 0..1 (is it sound, not silence?). */
  rms: number;
  error?: string;
}

export interface FakeTranscriber {
  readonly baseUrl: string;
  readonly heard: HeardAudio[];
  close(): Promise<void>;
}

export async function startFakeTranscriber(answer: string): Promise<FakeTranscriber> {
  const heard: HeardAudio[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        if (req.method !== "POST" || req.url !== "/v1/audio/transcriptions") {
          res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: "not found" } }));
          return;
        }
        const headers = new Headers(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
        const form = await new Request("http://fake/", { method: "POST", headers, body: Buffer.concat(chunks) }).formData();
        const file = form.get("file");
        const base = {
          model: form.get("model") as string | null,
          responseFormat: form.get("response_format") as string | null,
          fileName: file instanceof File ? file.name : null,
          fileType: file instanceof File ? file.type : null,
        };
        try {
          if (!(file instanceof File)) throw new Error("no file part");
          const wav = parseWav(Buffer.from(await file.arrayBuffer()));
          const { data, ...format } = wav;
          let sum = 0;
          const n = data.length >> 1;
          for (let i = 0; i < n; i++) sum += (data.readInt16LE(i * 2) / 32768) ** 2;
          heard.push({ ...base, ...format, seconds: seconds(wav), rms: Math.sqrt(sum / Math.max(1, n)) });
        } catch (err) {
          heard.push({ ...base, sampleRate: 0, channels: 0, bitsPerSample: 0, seconds: 0, rms: 0, error: String(err) });
          res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: String(err) } }));
          return;
        }
        const last = heard[heard.length - 1]!;
        res.writeHead(200, { "content-type": "application/json" }).end(
          JSON.stringify({
            text: answer,
            language: "english",
            duration: last.seconds,
            segments: [{ end: last.seconds, avg_logprob: -0.05 }],
          }),
        );
      })();
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    heard,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}
