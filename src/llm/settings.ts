/**
 * The language-model settings: `LLM_BASE_URL`, `LLM_PROVIDER` and `LLM_MODEL` are vars declared in
 * wrangler.toml with empty defaults; `LLM_API_KEY` is an optional secret. Empty means "not configured".
 */
import { optionalSetting } from "../lib/config";

export type LlmSetting = "LLM_BASE_URL" | "LLM_PROVIDER" | "LLM_API_KEY" | "LLM_MODEL";

/** Anything holding settings by name: the Worker's `Env`, or a plain object in tests. */
export type LlmSettingsSource = Env | Partial<Record<LlmSetting, unknown>>;

export function llmSetting(env: LlmSettingsSource, name: LlmSetting): string | undefined {
  return optionalSetting(env, name);
}
