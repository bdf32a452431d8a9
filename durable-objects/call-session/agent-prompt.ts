/**
 * What the answering agent sends the model: its instructions, how to speak in a call, and the
 * recent transcript as a conversation (participants' lines as `user` turns named by speaker, the
 * agent's own spoken lines as `assistant` turns; tool events are left out, their results came
 * back to the model in the turn that ran them).
 */
import type { CallAgent } from "../../src/calls/agent-config";
import type { ChatMessage } from "../../src/llm/types";

/** Lines of transcript the model sees: enough context for a conversation, bounded cost per turn. */
export const CONTEXT_LINES = 24;

export interface PromptLine {
  participant_id: string | null;
  text: string;
  source: string;
}

export function agentMessages(
  agent: CallAgent,
  lines: readonly PromptLine[],
  speakers: ReadonlyMap<string, { name: string; isAgent: boolean }>,
): ChatMessage[] {
  const system = [
    `You are ${agent.name}, a participant in a live voice call. What you write is spoken aloud at once, sentence by sentence.`,
    "Answer briefly in plain spoken sentences: no lists, no markdown, no emoji, no URLs.",
    "Use the tools to read or save your state, start a task or ask a person for approval when asked to; say in one sentence what you did.",
    agent.instructions.trim() ? `Instructions from whoever set up this call:\n${agent.instructions.trim()}` : "",
  ]
    .filter(Boolean)
    .join("\n");
  const messages: ChatMessage[] = [{ role: "system", content: system }];
  for (const line of lines) {
    if (line.source === "agent_event") continue;
    const speaker = line.participant_id === null ? undefined : speakers.get(line.participant_id);
    const byAgent = line.source === "text_to_speech" || speaker?.isAgent === true;
    if (byAgent) messages.push({ role: "assistant", content: line.text });
    else messages.push({ role: "user", content: `${speaker?.name ?? "Someone"}: ${line.text}` });
  }
  return messages;
}
