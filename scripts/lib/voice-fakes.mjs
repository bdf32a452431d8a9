// Local stand-ins for the voice providers, for the end-to-end tests (test/e2e/voice-agent.test.ts)
// and the benchmark's voice group (bench/groups/voice.mjs): ONE loopback HTTP server that speaks
// the OpenAI-compatible contracts the product uses, checks every request against them, and answers
// after a fixed, known delay, so what is measured beyond those delays is the product's own time.
// - POST /v1/audio/transcriptions: multipart `file` (a WAV whose header and duration are checked),
//   `model`, `response_format=verbose_json` → `{text, language, duration, segments}`;
// - POST /v1/chat/completions: JSON `{model, messages, stream: true, …}` → SSE chunks
//   (`data: {"choices":[{"delta":…}]}`), then `data: [DONE]`; a script decides the chunks;
// - POST /v1/audio/speech: JSON `{model, input, voice, response_format}` → a real WAV of the input
//   spoken by Debian's espeak-ng (cached per text; `prewarm` renders known sentences up front).
// A request that breaks its contract is answered 400 and recorded in `errors`.
// Plain JavaScript with JSDoc types: node scripts import it as it is and TypeScript checks it.
import { spawnSync } from "node:child_process";
import { createServer } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";

/**
 * @typedef {{ content?: string, tool?: { id: string, name: string, arguments: unknown } }} LlmPiece
 * @typedef {{ pieces: LlmPiece[], gapMs?: number, hold?: boolean }} LlmScript
 *   `pieces` are sent one per SSE chunk, `gapMs` apart; with `hold` the stream stays open after
 *   them until the client goes away (to test that the product cancels it).
 * @typedef {{ kind: "stt" | "llm" | "tts", arrivedAt: number, firstByteAt: number | null, body: any, closedEarly?: boolean, audioSeconds?: number }} FakeRequest
 */

/**
 * Renders `text` as a WAV with espeak-ng (22.05 kHz mono s16le). Throws when espeak-ng is missing.
 * @param {string} text
 * @param {{ voice?: string, speed?: number }} [options]
 */
export function espeakWav(text, { voice = "en-us", speed = 175 } = {}) {
  const out = spawnSync("espeak-ng", ["-v", voice, "-s", String(speed), "--stdout", text], { maxBuffer: 64 * 1024 * 1024 });
  if (out.error || out.status !== 0)
    throw new Error(`espeak-ng failed (apt-get install -y espeak-ng): ${out.error?.message ?? out.stderr?.toString()}`);
  return fixWavSizes(out.stdout);
}

/**
 * espeak-ng writing to a pipe cannot seek back, so its RIFF and data sizes are 0x7fffffff-ish
 * placeholders; decoders (and our checks) want the real sizes.
 * @param {Buffer} wav
 */
function fixWavSizes(wav) {
  const fixed = Buffer.from(wav);
  fixed.writeUInt32LE(fixed.length - 8, 4);
  const data = fixed.indexOf("data", 12, "latin1");
  if (data > 0) fixed.writeUInt32LE(fixed.length - data - 8, data + 4);
  return fixed;
}

/**
 * Reads a PCM WAV's format and duration, or null when it is not one.
 * @param {Uint8Array} bytes
 */
export function wavInfo(bytes) {
  const b = Buffer.from(bytes);
  if (b.length < 44 || b.toString("latin1", 0, 4) !== "RIFF" || b.toString("latin1", 8, 12) !== "WAVE") return null;
  let at = 12;
  /** @type {{ channels: number, sampleRate: number, bits: number } | null} */
  let fmt = null;
  while (at + 8 <= b.length) {
    const id = b.toString("latin1", at, at + 4);
    const size = b.readUInt32LE(at + 4);
    if (id === "fmt ") fmt = { channels: b.readUInt16LE(at + 10), sampleRate: b.readUInt32LE(at + 12), bits: b.readUInt16LE(at + 22) };
    if (id === "data" && fmt) {
      const bytesOfData = Math.min(size, b.length - at - 8);
      return { ...fmt, seconds: bytesOfData / (fmt.sampleRate * fmt.channels * (fmt.bits / 8)) };
    }
    at += 8 + size + (size % 2);
  }
  return null;
}

/**
 * Starts the fakes on a free loopback port.
 * @param {{
 *   sttDelayMs?: number, llmDelayMs?: number, ttsDelayMs?: number,
 *   sttText?: string | ((index: number) => string),
 *   llm?: (body: any, index: number) => LlmScript,
 *   prewarm?: string[],
 * }} [options]
 */
export async function startVoiceFakes(options = {}) {
  const delays = { stt: options.sttDelayMs ?? 0, llm: options.llmDelayMs ?? 0, tts: options.ttsDelayMs ?? 0 };
  /** @type {Map<string, Buffer>} */
  const wavs = new Map();
  const speak = (/** @type {string} */ text) => {
    let wav = wavs.get(text);
    if (!wav) wavs.set(text, (wav = espeakWav(text)));
    return wav;
  };
  for (const text of options.prewarm ?? []) speak(text);
  /** @type {FakeRequest[]} */
  const requests = [];
  /** @type {string[]} */
  const errors = [];
  let llmIndex = 0;
  let sttIndex = 0;
  /** @type {(body: any, index: number) => LlmScript} */
  const defaultScript = () => ({ pieces: [{ content: "Hello from the agent." }] });
  const state = { llm: options.llm ?? defaultScript, sttText: options.sttText ?? "Hello agent." };

  const server = createServer(async (req, res) => {
    const arrivedAt = performance.now();
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const raw = Buffer.concat(chunks);
    const refuse = (/** @type {string} */ why) => {
      errors.push(`${req.method} ${req.url}: ${why}`);
      res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: why } }));
    };
    if (req.method !== "POST") return refuse("only POST is served");
    const url = req.url ?? "";
    const type = req.headers["content-type"] ?? "";
    /** Waits until `delayMs` after the request arrived (whatever the fake spent meanwhile). */
    const until = (/** @type {number} */ delayMs) => sleep(Math.max(0, arrivedAt + delayMs - performance.now()));
    try {
      if (url === "/v1/audio/transcriptions") {
        if (!type.startsWith("multipart/form-data")) return refuse(`content-type ${type}, expected multipart/form-data`);
        const form = await new Request("http://fake/", { method: "POST", headers: { "content-type": type }, body: raw }).formData();
        const file = form.get("file");
        if (!(file instanceof File)) return refuse("no file part");
        if (typeof form.get("model") !== "string") return refuse("no model");
        if (form.get("response_format") !== "verbose_json") return refuse("response_format is not verbose_json");
        const info = wavInfo(new Uint8Array(await file.arrayBuffer()));
        if (!info) return refuse("the file is not a PCM WAV");
        /** @type {FakeRequest} */
        const entry = {
          kind: "stt",
          arrivedAt,
          firstByteAt: null,
          body: { model: form.get("model"), name: file.name },
          audioSeconds: info.seconds,
        };
        requests.push(entry);
        const text = typeof state.sttText === "function" ? state.sttText(sttIndex++) : state.sttText;
        await until(delays.stt);
        entry.firstByteAt = performance.now();
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(
          JSON.stringify({ text, language: "english", duration: info.seconds, segments: [{ end: info.seconds, avg_logprob: -0.1 }] }),
        );
      }
      if (!type.startsWith("application/json")) return refuse(`content-type ${type}, expected application/json`);
      const body = JSON.parse(raw.toString("utf8"));
      if (url === "/v1/chat/completions") {
        if (body.stream !== true) return refuse("stream is not true");
        if (typeof body.model !== "string" || body.model === "") return refuse("no model");
        if (!Array.isArray(body.messages) || body.messages.length === 0) return refuse("no messages");
        for (const m of body.messages)
          if (!["system", "user", "assistant", "tool"].includes(m.role)) return refuse(`a message has role ${m.role}`);
        if (
          body.tools !== undefined &&
          !(Array.isArray(body.tools) && body.tools.every((/** @type {any} */ t) => t.type === "function" && t.function?.name))
        )
          return refuse("tools are not [{type: function, function: {name, …}}]");
        /** @type {FakeRequest} */
        const entry = { kind: "llm", arrivedAt, firstByteAt: null, body, closedEarly: false };
        requests.push(entry);
        const script = state.llm(body, llmIndex++);
        res.on("close", () => {
          if (!res.writableFinished) entry.closedEarly = true;
        });
        await until(delays.llm);
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
        const send = (/** @type {unknown} */ chunk) => res.write(`data: ${JSON.stringify(chunk)}\n\n`);
        send({ choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] });
        entry.firstByteAt = performance.now();
        for (const [i, piece] of script.pieces.entries()) {
          if (i > 0 && script.gapMs) await sleep(script.gapMs);
          if (res.destroyed) return;
          if (piece.content !== undefined) send({ choices: [{ index: 0, delta: { content: piece.content }, finish_reason: null }] });
          if (piece.tool) {
            const { id, name, arguments: args } = piece.tool;
            const call = { index: 0, id, type: "function", function: { name, arguments: JSON.stringify(args) } };
            send({ choices: [{ index: 0, delta: { tool_calls: [call] }, finish_reason: null }] });
          }
        }
        if (script.hold) return; // Open until the client goes away (res "close").
        const usedTool = script.pieces.some((p) => p.tool);
        send({ choices: [{ index: 0, delta: {}, finish_reason: usedTool ? "tool_calls" : "stop" }] });
        res.write("data: [DONE]\n\n");
        return res.end();
      }
      if (url === "/v1/audio/speech") {
        if (typeof body.model !== "string" || typeof body.voice !== "string") return refuse("model and voice are required");
        if (typeof body.input !== "string" || body.input.trim() === "") return refuse("no input");
        /** @type {FakeRequest} */
        const entry = { kind: "tts", arrivedAt, firstByteAt: null, body };
        requests.push(entry);
        const wav = speak(body.input);
        await until(delays.tts);
        entry.firstByteAt = performance.now();
        res.writeHead(200, { "content-type": "audio/wav", "content-length": String(wav.length) });
        return res.end(wav);
      }
      return refuse(`unknown path ${url}`);
    } catch (err) {
      errors.push(`${url}: ${err instanceof Error ? err.message : String(err)}`);
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(undefined)));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    delays,
    requests,
    errors,
    /** Replaces the chat script; `index` counts the requests from this call on. */
    setLlm(/** @type {(body: any, index: number) => LlmScript} */ fn) {
      state.llm = fn;
      llmIndex = 0;
    },
    setSttText(/** @type {string | ((index: number) => string)} */ text) {
      state.sttText = text;
      sttIndex = 0;
    },
    speak,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve(undefined));
      }),
  };
}
