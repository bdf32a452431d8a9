/**
 * Speech on Workers AI (`env.AI`, runs only on Cloudflare; locally every call throws "Binding AI
 * needs to be run remotely", reported as a non-transient {@link SpeechError}).
 *
 * STT: `@cf/openai/whisper-large-v3-turbo`, input `{audio: <base64>, task: "transcribe", language?}`,
 * output `{text, transcription_info?: {language, language_probability, duration}, segments?: [{start,
 * end, text, avg_logprob, …}]}`. `confidence` is the mean of exp(avg_logprob) over the segments (how
 * sure the decoder was of the words), else `language_probability` (how sure it was of the
 * language), else null. `duration_seconds` is `transcription_info.duration`, else the last segment's
 * end, else null.
 *
 * TTS, chosen by `SPEECH_TTS_MODEL`:
 * - `@cf/deepgram/aura-1` (default: 12 named voices, MP3 out): `{text, speaker?, encoding: "mp3"}`
 *   with `{returnRawResponse: true}`, so the audio comes back as a Response whatever the runtime
 *   type is; `voice` is the Aura speaker (default "asteria").
 * - `@cf/myshell-ai/melotts` (cheaper, one voice per language): `{prompt, lang}` → `{audio: base64 MP3}`;
 *   `voice` is the language ("en", "es", "fr", "zh", "jp", "kr"; default "en").
 */
import { base64ToBytes, bytesToBase64 } from "../../lib/base64";
import { AppError } from "../../lib/problem";
import { z } from "zod";
import {
  SpeechError,
  segmentsConfidence,
  type SpeechProvider,
  type SynthesizedSpeech,
  type TranscribeOptions,
  type Transcription,
} from "../types";

export const WHISPER_MODEL = "@cf/openai/whisper-large-v3-turbo";
export const AURA_MODEL = "@cf/deepgram/aura-1";
export const MELOTTS_MODEL = "@cf/myshell-ai/melotts";
export type WorkersAiTtsModel = typeof AURA_MODEL | typeof MELOTTS_MODEL;
export const WORKERS_AI_TTS_MODELS: readonly WorkersAiTtsModel[] = [AURA_MODEL, MELOTTS_MODEL];

export const AURA_SPEAKERS = [
  "angus",
  "asteria",
  "arcas",
  "orion",
  "orpheus",
  "athena",
  "luna",
  "zeus",
  "perseus",
  "helios",
  "hera",
  "stella",
] as const;
export const MELOTTS_LANGS = ["en", "es", "fr", "zh", "jp", "kr"] as const;

/** The one method we use, typed loosely: `Ai.run`'s overloads are keyed on the model list. */
export interface AiRunner {
  run(model: string, inputs: Record<string, unknown>, options?: { returnRawResponse?: boolean }): Promise<unknown>;
}

const NAME = "workers-ai";

const whisperOutput = z.object({
  text: z.string(),
  transcription_info: z
    .object({ language: z.string().optional(), language_probability: z.number().optional(), duration: z.number().optional() })
    .partial()
    .optional(),
  segments: z.array(z.object({ start: z.number().optional(), end: z.number().optional(), avg_logprob: z.number().nullish() })).optional(),
});

const melottsOutput = z.object({ audio: z.string().min(1) });

function runError(model: string, err: unknown): SpeechError {
  const message = err instanceof Error ? err.message : String(err);
  if (/needs to be run remotely|not (yet )?supported/i.test(message)) {
    return new SpeechError(
      NAME,
      `${model} cannot run here (Workers AI only runs on Cloudflare; set SPEECH_BASE_URL for a local speech server)`,
      {
        transient: false,
        cause: err,
      },
    );
  }
  return new SpeechError(NAME, `${model} failed: ${message}`, { transient: true, cause: err });
}

export class WorkersAiSpeech implements SpeechProvider {
  readonly name = NAME;
  readonly #ai: AiRunner;
  readonly ttsModel: WorkersAiTtsModel;

  constructor(ai: Ai | AiRunner, options: { ttsModel?: WorkersAiTtsModel } = {}) {
    this.#ai = ai as unknown as AiRunner;
    this.ttsModel = options.ttsModel ?? AURA_MODEL;
  }

  async transcribe(audio: ArrayBuffer, opts: TranscribeOptions): Promise<Transcription> {
    const input: Record<string, unknown> = { audio: bytesToBase64(new Uint8Array(audio)), task: "transcribe" };
    if (opts.language) input.language = opts.language;
    let raw: unknown;
    try {
      raw = await this.#ai.run(WHISPER_MODEL, input);
    } catch (err) {
      throw runError(WHISPER_MODEL, err);
    }
    const parsed = whisperOutput.safeParse(raw);
    if (!parsed.success) throw new SpeechError(NAME, `${WHISPER_MODEL} answered with an unexpected shape`, { transient: false });
    const { text, transcription_info: info, segments } = parsed.data;
    if (text.trim() === "") throw new SpeechError(NAME, `${WHISPER_MODEL} returned no text`, { transient: false });
    const lastEnd = segments?.at(-1)?.end;
    return {
      text: text.trim(),
      language: info?.language ?? opts.language ?? "und",
      confidence: segmentsConfidence(segments) ?? info?.language_probability ?? null,
      duration_seconds: info?.duration ?? lastEnd ?? null,
    };
  }

  async synthesize(text: string, voice?: string): Promise<SynthesizedSpeech> {
    return this.ttsModel === MELOTTS_MODEL ? this.#melotts(text, voice) : this.#aura(text, voice);
  }

  async #aura(text: string, voice?: string): Promise<SynthesizedSpeech> {
    const input: Record<string, unknown> = { text, encoding: "mp3" };
    if (voice !== undefined) {
      if (!(AURA_SPEAKERS as readonly string[]).includes(voice)) throw unknownVoice(voice, AURA_SPEAKERS);
      input.speaker = voice;
    }
    let res: unknown;
    try {
      res = await this.#ai.run(AURA_MODEL, input, { returnRawResponse: true });
    } catch (err) {
      throw runError(AURA_MODEL, err);
    }
    if (!(res instanceof Response)) throw new SpeechError(NAME, `${AURA_MODEL} did not answer with a response`, { transient: false });
    if (!res.ok)
      throw new SpeechError(NAME, `${AURA_MODEL} failed: HTTP ${res.status}`, {
        transient: res.status === 429 || res.status >= 500,
        status: res.status,
      });
    const audio = await res.arrayBuffer();
    if (audio.byteLength === 0) throw new SpeechError(NAME, `${AURA_MODEL} returned no audio`, { transient: false });
    return { audio, contentType: "audio/mpeg" };
  }

  async #melotts(text: string, voice?: string): Promise<SynthesizedSpeech> {
    const lang = voice ?? "en";
    if (!(MELOTTS_LANGS as readonly string[]).includes(lang)) throw unknownVoice(lang, MELOTTS_LANGS);
    let raw: unknown;
    try {
      raw = await this.#ai.run(MELOTTS_MODEL, { prompt: text, lang });
    } catch (err) {
      throw runError(MELOTTS_MODEL, err);
    }
    // Typed as `Uint8Array | {audio: base64}`; the documented answer is the latter.
    let bytes: Uint8Array<ArrayBuffer>;
    if (raw instanceof Uint8Array) bytes = new Uint8Array(raw);
    else {
      const parsed = melottsOutput.safeParse(raw);
      if (!parsed.success) throw new SpeechError(NAME, `${MELOTTS_MODEL} answered with an unexpected shape`, { transient: false });
      try {
        bytes = base64ToBytes(parsed.data.audio);
      } catch (err) {
        throw new SpeechError(NAME, `${MELOTTS_MODEL} returned audio that is not base64`, { transient: false, cause: err });
      }
    }
    if (bytes.byteLength === 0) throw new SpeechError(NAME, `${MELOTTS_MODEL} returned no audio`, { transient: false });
    return { audio: bytes.buffer, contentType: "audio/mpeg" };
  }
}

function unknownVoice(voice: string, known: readonly string[]): AppError {
  return new AppError("validation_failed", `Unknown voice "${voice}"; one of ${known.join(", ")}.`, {
    errors: [{ path: "voice", message: `one of ${known.join(", ")}` }],
  });
}
