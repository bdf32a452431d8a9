/**
 * Any OpenAI-compatible speech server (OpenAI itself, or self-hosted ones such as Speaches /
 * faster-whisper-server and Kokoro-FastAPI), set with `SPEECH_BASE_URL` (+ optional `SPEECH_API_KEY`).
 * - STT: `POST {base}/v1/audio/transcriptions`, multipart `file`, `model`, `response_format=verbose_json`,
 *   `language?` → `{text, language, duration, segments?}`. Confidence as for Workers AI: mean of
 *   exp(avg_logprob) over the segments, else null.
 * - TTS: `POST {base}/v1/audio/speech`, JSON `{model, input, voice, response_format: "mp3"}` → MP3 bytes.
 * A base URL that already ends in `/v1` is accepted as well.
 * @see https://platform.openai.com/docs/api-reference/audio
 */
import { z } from "zod";
import { openAiCompatibleBase } from "../../lib/openai-compatible-url";
import {
  SpeechError,
  mediaType,
  segmentsConfidence,
  type SpeechProvider,
  type SynthesizedSpeech,
  type TranscribeOptions,
  type Transcription,
} from "../types";

export const OPENAI_DEFAULT_STT_MODEL = "whisper-1";
export const OPENAI_DEFAULT_TTS_MODEL = "tts-1";
export const OPENAI_DEFAULT_VOICE = "alloy";
export const SPEECH_DEFAULT_TIMEOUT_MS = 60_000;

export interface OpenAiCompatibleOptions {
  baseUrl: string;
  apiKey?: string;
  fetch?: typeof fetch;
  /** Per-call deadline, default {@link SPEECH_DEFAULT_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** `model` for transcriptions (`SPEECH_STT_MODEL`), default {@link OPENAI_DEFAULT_STT_MODEL}. */
  sttModel?: string;
  /** `model` for speech (`SPEECH_TTS_MODEL`), default {@link OPENAI_DEFAULT_TTS_MODEL}. */
  ttsModel?: string;
}

const NAME = "openai-compatible";

const verboseJson = z.object({
  text: z.string(),
  language: z.string().optional(),
  duration: z.number().optional(),
  segments: z.array(z.object({ end: z.number().optional(), avg_logprob: z.number().nullish() })).optional(),
});

const EXTENSIONS: Record<string, string> = {
  "audio/wav": "wav",
  "audio/x-wav": "wav",
  "audio/mpeg": "mp3",
  "audio/mp3": "mp3",
  "audio/webm": "webm",
  "audio/ogg": "ogg",
  "audio/flac": "flac",
};

export class OpenAiCompatibleSpeech implements SpeechProvider {
  readonly name = NAME;
  readonly #options: OpenAiCompatibleOptions;
  readonly #base: string;

  constructor(options: OpenAiCompatibleOptions) {
    this.#options = options;
    this.#base = openAiCompatibleBase(options.baseUrl);
  }

  async #post(path: string, body: BodyInit, contentType?: string): Promise<Response> {
    const timeoutMs = this.#options.timeoutMs ?? SPEECH_DEFAULT_TIMEOUT_MS;
    const headers: Record<string, string> = {};
    if (this.#options.apiKey) headers.Authorization = `Bearer ${this.#options.apiKey}`;
    if (contentType) headers["Content-Type"] = contentType;
    let res: Response;
    try {
      res = await (this.#options.fetch ?? globalThis.fetch)(`${this.#base}${path}`, {
        method: "POST",
        headers,
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const timedOut = err instanceof Error && err.name === "TimeoutError";
      const message = timedOut ? `no answer within ${timeoutMs} ms` : `request failed: ${err instanceof Error ? err.message : String(err)}`;
      throw new SpeechError(NAME, `${path}: ${message}`, { transient: true, cause: err });
    }
    if (!res.ok) {
      const text = (await res.text().catch(() => "")).slice(0, 300);
      throw new SpeechError(NAME, `${path}: HTTP ${res.status}${text ? `: ${text}` : ""}`, {
        transient: res.status === 429 || res.status >= 500,
        status: res.status,
      });
    }
    return res;
  }

  async transcribe(audio: ArrayBuffer, opts: TranscribeOptions): Promise<Transcription> {
    const type = mediaType(opts.contentType);
    const form = new FormData();
    form.append("file", new File([audio], `audio.${EXTENSIONS[type] ?? "bin"}`, { type }));
    form.append("model", this.#options.sttModel ?? OPENAI_DEFAULT_STT_MODEL);
    form.append("response_format", "verbose_json");
    if (opts.language) form.append("language", opts.language);
    // fetch sets the multipart Content-Type with its boundary.
    const res = await this.#post("/v1/audio/transcriptions", form);
    const parsed = verboseJson.safeParse(await res.json().catch(() => undefined));
    if (!parsed.success) throw new SpeechError(NAME, "/v1/audio/transcriptions answered with an unexpected shape", { transient: false });
    const { text, language, duration, segments } = parsed.data;
    if (text.trim() === "") throw new SpeechError(NAME, "/v1/audio/transcriptions returned no text", { transient: false });
    return {
      text: text.trim(),
      language: language ?? opts.language ?? "und",
      confidence: segmentsConfidence(segments),
      duration_seconds: duration ?? segments?.at(-1)?.end ?? null,
    };
  }

  async synthesize(text: string, voice?: string): Promise<SynthesizedSpeech> {
    const body = {
      model: this.#options.ttsModel ?? OPENAI_DEFAULT_TTS_MODEL,
      input: text,
      voice: voice ?? OPENAI_DEFAULT_VOICE,
      response_format: "mp3",
    };
    const res = await this.#post("/v1/audio/speech", JSON.stringify(body), "application/json");
    const contentType = mediaType(res.headers.get("Content-Type") ?? "");
    if (contentType.startsWith("application/json") || contentType.startsWith("text/")) {
      await res.body?.cancel();
      throw new SpeechError(NAME, `/v1/audio/speech answered with ${contentType}, not audio`, { transient: false });
    }
    const audio = await res.arrayBuffer();
    if (audio.byteLength === 0) throw new SpeechError(NAME, "/v1/audio/speech returned no audio", { transient: false });
    return { audio, contentType: contentType.startsWith("audio/") ? contentType : "audio/mpeg" };
  }
}
