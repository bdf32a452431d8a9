/**
 * The speech settings: `SPEECH_BASE_URL`, `SPEECH_PROVIDER`, `SPEECH_STT_MODEL` and
 * `SPEECH_TTS_MODEL` are vars declared in wrangler.toml with empty defaults; `SPEECH_API_KEY` is an
 * optional secret. Empty means "not configured".
 */
import { optionalSetting } from "../lib/config";

export type SpeechSetting = "SPEECH_BASE_URL" | "SPEECH_PROVIDER" | "SPEECH_API_KEY" | "SPEECH_STT_MODEL" | "SPEECH_TTS_MODEL";

/** Anything holding settings by name: the Worker's `Env`, or a plain object in tests. */
export type SpeechSettingsSource = Env | Partial<Record<SpeechSetting, unknown>>;

export function speechSetting(env: SpeechSettingsSource, name: SpeechSetting): string | undefined {
  return optionalSetting(env, name);
}
