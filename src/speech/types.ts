/**
 * What every speech provider implements, its error type and the request limits.
 * The limits are checked before any provider is called (see `checkedSpeech` in ./speech).
 */
import { AppError } from "../lib/problem";

export interface Transcription {
  /** Never empty: a provider that hears nothing is an error, not "". */
  text: string;
  /** What the provider reports (Workers AI: ISO 639-1 like "en"; OpenAI's verbose_json: a name like "english"); "und" when it says nothing. */
  language: string;
  /** 0..1, or null when the provider gives nothing to derive it from (see the providers). */
  confidence: number | null;
  /** Length of the audio in seconds, or null when the provider does not say. */
  duration_seconds: number | null;
}

export interface SynthesizedSpeech {
  audio: ArrayBuffer;
  contentType: string;
}

export interface TranscribeOptions {
  /** The audio's media type; one of {@link AUDIO_CONTENT_TYPES} (parameters such as `;codecs=opus` allowed). */
  contentType: string;
  /** Hint, ISO 639-1 ("en"). */
  language?: string;
}

export interface SpeechProvider {
  /** Named in errors and logs: "workers-ai", "openai-compatible". */
  readonly name: string;
  transcribe(audio: ArrayBuffer, opts: TranscribeOptions): Promise<Transcription>;
  synthesize(text: string, voice?: string): Promise<SynthesizedSpeech>;
}

/** A provider failed or answered with something unusable. Routes render it as 503 naming the provider. */
export class SpeechError extends Error {
  readonly provider: string;
  readonly transient: boolean;
  readonly status?: number;
  constructor(provider: string, message: string, options: { transient: boolean; status?: number; cause?: unknown }) {
    super(`${provider}: ${message}`, { cause: options.cause });
    this.name = "SpeechError";
    this.provider = provider;
    this.transient = options.transient;
    this.status = options.status;
  }
}

export const MAX_AUDIO_BYTES = 25 * 1024 * 1024;
export const MAX_SPEECH_TEXT_CHARS = 2000;
export const AUDIO_CONTENT_TYPES = [
  "audio/wav",
  "audio/x-wav",
  "audio/mpeg",
  "audio/mp3",
  "audio/webm",
  "audio/ogg",
  "audio/flac",
] as const;
export type AudioContentType = (typeof AUDIO_CONTENT_TYPES)[number];

/** The bare media type, lower-cased: `Audio/WebM; codecs=opus` → `audio/webm`. */
export function mediaType(contentType: string): string {
  return (contentType.split(";")[0] ?? "").trim().toLowerCase();
}

/** 415 for a type we do not take, 413 above {@link MAX_AUDIO_BYTES}, 422 for no bytes at all. Returns the bare type. */
export function checkAudio(audio: ArrayBuffer, contentType: string | null | undefined): AudioContentType {
  const type = mediaType(contentType ?? "");
  if (!(AUDIO_CONTENT_TYPES as readonly string[]).includes(type)) {
    throw new AppError(
      "unsupported_media_type",
      `Audio must be one of ${AUDIO_CONTENT_TYPES.join(", ")}; got ${type || "no Content-Type"}.`,
      {
        headers: { "Accept-Post": AUDIO_CONTENT_TYPES.join(", ") },
      },
    );
  }
  if (audio.byteLength > MAX_AUDIO_BYTES) {
    throw new AppError("payload_too_large", `Audio is ${audio.byteLength} bytes; the limit is ${MAX_AUDIO_BYTES} (25 MiB).`);
  }
  if (audio.byteLength === 0) {
    throw new AppError("validation_failed", "The audio body is empty.", { errors: [{ path: "body", message: "empty audio" }] });
  }
  return type as AudioContentType;
}

/** 422 unless 1..{@link MAX_SPEECH_TEXT_CHARS} characters of non-blank text. */
export function checkSpeechText(text: string): void {
  if (text.trim() === "")
    throw new AppError("validation_failed", "Nothing to say.", { errors: [{ path: "text", message: "must not be blank" }] });
  if (text.length > MAX_SPEECH_TEXT_CHARS) {
    throw new AppError("validation_failed", `Text is ${text.length} characters; the limit is ${MAX_SPEECH_TEXT_CHARS}.`, {
      errors: [{ path: "text", message: `at most ${MAX_SPEECH_TEXT_CHARS} characters` }],
    });
  }
}

/** Confidence from Whisper segments: the mean of exp(avg_logprob) (a per-token probability), clamped to 0..1. */
export function segmentsConfidence(segments: readonly { avg_logprob?: number | null }[] | undefined): number | null {
  const logprobs = (segments ?? []).map((s) => s.avg_logprob).filter((p): p is number => typeof p === "number" && Number.isFinite(p));
  if (logprobs.length === 0) return null;
  const mean = logprobs.reduce((sum, p) => sum + Math.exp(p), 0) / logprobs.length;
  return Math.min(1, Math.max(0, mean));
}
