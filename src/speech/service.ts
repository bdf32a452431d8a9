/**
 * Speech (text-to-speech and speech-to-text): which provider to use, and the checked entry points
 * the speech and call routes use.
 *
 * Selection ({@link speechFromEnv}):
 * 1. `SPEECH_BASE_URL` set → an OpenAI-compatible server (`SPEECH_API_KEY`, `SPEECH_STT_MODEL`,
 *    `SPEECH_TTS_MODEL` optional);
 * 2. else `SPEECH_PROVIDER=workers-ai` → Workers AI (`SPEECH_TTS_MODEL`: `@cf/deepgram/aura-1`
 *    (default) or `@cf/myshell-ai/melotts`). It must be asked for explicitly because locally the AI
 *    binding exists but every call throws;
 * 3. else none: `{provider: null, reason}` and the routes answer 503 with that reason.
 *
 * {@link checkedSpeech} applies the limits (413/415/422) before the provider runs and turns a
 * provider failure into 503 `service_unavailable` naming the provider. There is no fallback text:
 * an empty or malformed answer is an error.
 */
import { AppError } from "../lib/problem";
import { baseUrlRefusal } from "../lib/openai-compatible-url";
import { speechSetting, type SpeechSettingsSource } from "./settings";
import { OpenAiCompatibleSpeech } from "./providers/openai-compatible";
import { WORKERS_AI_TTS_MODELS, WorkersAiSpeech, type WorkersAiTtsModel } from "./providers/workers-ai";
import { SpeechError, checkAudio, checkSpeechText, type SpeechProvider, type SynthesizedSpeech, type Transcription } from "./types";

export * from "./types";
export { OpenAiCompatibleSpeech } from "./providers/openai-compatible";
export { WorkersAiSpeech } from "./providers/workers-ai";

export type SpeechSelection = { provider: SpeechProvider; reason?: undefined } | { provider: null; reason: string };

export const SPEECH_NOT_CONFIGURED =
  "Speech is not configured: set SPEECH_BASE_URL to an OpenAI-compatible speech server, or SPEECH_PROVIDER=workers-ai when deployed on Cloudflare.";

export function speechFromEnv(env: SpeechSettingsSource & { AI?: Ai | unknown }, options: { fetch?: typeof fetch } = {}): SpeechSelection {
  const baseUrl = speechSetting(env, "SPEECH_BASE_URL");
  const ttsModel = speechSetting(env, "SPEECH_TTS_MODEL");
  if (baseUrl) {
    const refusal = baseUrlRefusal("SPEECH_BASE_URL", baseUrl);
    if (refusal) return { provider: null, reason: refusal };
    return {
      provider: new OpenAiCompatibleSpeech({
        baseUrl,
        apiKey: speechSetting(env, "SPEECH_API_KEY"),
        sttModel: speechSetting(env, "SPEECH_STT_MODEL"),
        ttsModel,
        fetch: options.fetch,
      }),
    };
  }
  const chosen = speechSetting(env, "SPEECH_PROVIDER")?.toLowerCase();
  if (chosen === "workers-ai") {
    if (!env.AI) return { provider: null, reason: 'SPEECH_PROVIDER=workers-ai but the Worker has no AI binding ([ai] binding = "AI").' };
    if (ttsModel && !(WORKERS_AI_TTS_MODELS as readonly string[]).includes(ttsModel)) {
      return {
        provider: null,
        reason: `SPEECH_TTS_MODEL must be one of ${WORKERS_AI_TTS_MODELS.join(", ")} for Workers AI; got "${ttsModel}".`,
      };
    }
    return { provider: new WorkersAiSpeech(env.AI as Ai, { ttsModel: ttsModel as WorkersAiTtsModel | undefined }) };
  }
  if (chosen)
    return { provider: null, reason: `Unknown SPEECH_PROVIDER "${chosen}": the only value is workers-ai (or set SPEECH_BASE_URL).` };
  return { provider: null, reason: SPEECH_NOT_CONFIGURED };
}

/** The configured provider, or 503 naming the missing setting. */
export function requireSpeech(env: SpeechSettingsSource & { AI?: Ai | unknown }, options: { fetch?: typeof fetch } = {}): SpeechProvider {
  const selection = speechFromEnv(env, options);
  if (!selection.provider)
    throw new AppError("service_unavailable", selection.reason, { extensions: { settings: ["SPEECH_BASE_URL", "SPEECH_PROVIDER"] } });
  return selection.provider;
}

function unavailable(provider: SpeechProvider, err: unknown): unknown {
  if (err instanceof AppError) return err;
  const message = err instanceof SpeechError ? err.message : `${provider.name}: ${err instanceof Error ? err.message : String(err)}`;
  return new AppError("service_unavailable", `Speech provider failed: ${message}`, {
    extensions: { provider: provider.name, transient: err instanceof SpeechError ? err.transient : true },
    ...(err instanceof SpeechError && err.transient ? { headers: { "Retry-After": "5" } } : {}),
    cause: err,
  });
}

/** What the routes call: limits first, then the provider; failures become AppErrors. */
export function checkedSpeech(provider: SpeechProvider) {
  return {
    name: provider.name,
    async transcribe(audio: ArrayBuffer, opts: { contentType: string | null | undefined; language?: string }): Promise<Transcription> {
      const contentType = checkAudio(audio, opts.contentType);
      try {
        return await provider.transcribe(audio, { contentType, language: opts.language });
      } catch (err) {
        throw unavailable(provider, err);
      }
    },
    async synthesize(text: string, voice?: string): Promise<SynthesizedSpeech> {
      checkSpeechText(text);
      try {
        return await provider.synthesize(text, voice);
      } catch (err) {
        throw unavailable(provider, err);
      }
    },
  };
}

/** Text-to-speech with the configured provider (503 naming the settings when there is none). */
export async function synthesize(env: Env, text: string, voice?: string): Promise<SynthesizedSpeech> {
  return checkedSpeech(requireSpeech(env)).synthesize(text, voice);
}
