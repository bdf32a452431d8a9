/**
 * `/health`'s `answering_agent` check: whether a call's agent can answer, i.e. a language model
 * is configured (and, self-hosted, its server can be reached) and speech can carry the answer.
 * Nothing is called: a check never spends a model request.
 */
import { speechFromEnv } from "../speech/service";
import { llmFromEnv } from "./service";

export function answeringAgentCheck(
  env: Env,
  unreachable: (setting: "LLM_BASE_URL" | "SPEECH_BASE_URL") => string | undefined,
): {
  ok: boolean;
  detail: string;
} {
  const llm = llmFromEnv(env);
  if (!llm.provider) return { ok: false, detail: `no answers: ${llm.reason}` };
  const llmServer = unreachable("LLM_BASE_URL");
  if (llmServer) return { ok: false, detail: `no answers: the language model server is not reachable here (${llmServer})` };
  const speech = speechFromEnv(env);
  if (!speech.provider) return { ok: false, detail: `no answers: the agent cannot speak (${speech.reason})` };
  const speechServer = unreachable("SPEECH_BASE_URL");
  if (speechServer) return { ok: false, detail: `no answers: the speech server is not reachable here (${speechServer})` };
  return { ok: true, detail: `answers with ${llm.provider.name} (${llm.provider.model}), spoken through ${speech.provider.name}` };
}
