/**
 * The language model behind a call's answering agent: which provider to use.
 *
 * Selection ({@link llmFromEnv}), the same order as speech:
 * 1. `LLM_BASE_URL` set → an OpenAI-compatible chat completions server (`LLM_API_KEY`, `LLM_MODEL`
 *    optional; the model defaults to `gpt-4o-mini`);
 * 2. else `LLM_PROVIDER=workers-ai` → Workers AI text generation (`LLM_MODEL` defaults to
 *    `@cf/meta/llama-3.3-70b-instruct-fp8-fast`). It must be asked for explicitly because locally
 *    the AI binding exists but every call throws;
 * 3. else none: `{provider: null, reason}`; the agent then stays silent and says why (never an
 *    invented reply).
 */
import { baseUrlRefusal } from "../lib/openai-compatible-url";
import { llmSetting, type LlmSettingsSource } from "./settings";
import { OpenAiCompatibleLlm } from "./providers/openai-compatible";
import { WorkersAiLlm, type AiTextRunner } from "./providers/workers-ai";
import type { LlmProvider } from "./types";

export * from "./types";

export type LlmSelection = { provider: LlmProvider; reason?: undefined } | { provider: null; reason: string };

export const LLM_NOT_CONFIGURED =
  "No language model is configured: set LLM_BASE_URL to an OpenAI-compatible chat completions server, or LLM_PROVIDER=workers-ai when deployed on Cloudflare.";

export function llmFromEnv(env: LlmSettingsSource & { AI?: Ai | unknown }, options: { fetch?: typeof fetch } = {}): LlmSelection {
  const baseUrl = llmSetting(env, "LLM_BASE_URL");
  const model = llmSetting(env, "LLM_MODEL");
  if (baseUrl) {
    const refusal = baseUrlRefusal("LLM_BASE_URL", baseUrl);
    if (refusal) return { provider: null, reason: refusal };
    return { provider: new OpenAiCompatibleLlm({ baseUrl, apiKey: llmSetting(env, "LLM_API_KEY"), model, fetch: options.fetch }) };
  }
  const chosen = llmSetting(env, "LLM_PROVIDER")?.toLowerCase();
  if (chosen === "workers-ai") {
    if (!env.AI) return { provider: null, reason: 'LLM_PROVIDER=workers-ai but the Worker has no AI binding ([ai] binding = "AI").' };
    return { provider: new WorkersAiLlm(env.AI as AiTextRunner, { model }) };
  }
  if (chosen) return { provider: null, reason: `Unknown LLM_PROVIDER "${chosen}": the only value is workers-ai (or set LLM_BASE_URL).` };
  return { provider: null, reason: LLM_NOT_CONFIGURED };
}
