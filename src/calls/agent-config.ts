/**
 * The answering agent of a call: how it is asked for when the call is created (`agent` in
 * POST /api/v2/calls), stored with the call and shown by GET.
 *
 * Modes:
 * - `off` (default): the agent never answers by itself (`POST …/speak` still works);
 * - `on_request`: it answers an utterance that names it: its `name` as a word, anywhere in what a
 *   participant said ("Nova, what is on the list?"), case-insensitive;
 * - `auto`: it answers every utterance of a participant.
 */
import { z } from "zod";

export const AGENT_MODES = ["off", "on_request", "auto"] as const;

export const MAX_AGENT_INSTRUCTIONS_CHARS = 4000;

export const CallAgentInput = z
  .object({
    mode: z
      .enum(AGENT_MODES)
      .default("off")
      .describe("off: silent; on_request: answers utterances that name it (`name`); auto: answers every utterance."),
    name: z
      .string()
      .trim()
      .min(1)
      .max(40)
      .regex(/^[\p{L}\p{N}][\p{L}\p{N} '-]*$/u, "letters, digits, spaces, ' and -")
      .default("Agent")
      .describe("What participants call the agent; in on_request mode an utterance naming it is a request."),
    instructions: z
      .string()
      .max(MAX_AGENT_INSTRUCTIONS_CHARS)
      .default("")
      .describe("The system prompt: who the agent is and how it should answer."),
    voice: z.string().trim().min(1).max(64).optional().describe("The text-to-speech voice (provider default when absent)."),
    model: z.string().trim().min(1).max(128).optional().describe("The language model (LLM_MODEL or the provider's default when absent)."),
  })
  .strict();
export type CallAgentInput = z.input<typeof CallAgentInput>;

/** The stored and returned form: every field present. */
export const CallAgentView = z.object({
  mode: z.enum(AGENT_MODES),
  name: z.string(),
  instructions: z.string(),
  voice: z.string().nullable(),
  model: z.string().nullable(),
});
export type CallAgent = z.infer<typeof CallAgentView>;

export const AGENT_OFF: CallAgent = { mode: "off", name: "Agent", instructions: "", voice: null, model: null };

export function callAgent(input: z.output<typeof CallAgentInput> | undefined): CallAgent {
  if (!input) return AGENT_OFF;
  return { mode: input.mode, name: input.name, instructions: input.instructions, voice: input.voice ?? null, model: input.model ?? null };
}

/** Whether an utterance asks this agent to answer. */
export function addressesAgent(agent: CallAgent, text: string): boolean {
  if (agent.mode === "auto") return true;
  if (agent.mode === "off") return false;
  const name = agent.name.toLowerCase().replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(^|[^\\p{L}\\p{N}])${name}($|[^\\p{L}\\p{N}])`, "u").test(text.toLowerCase());
}
