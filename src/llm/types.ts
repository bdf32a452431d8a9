/**
 * What every language-model provider implements: a streamed chat completion in the OpenAI
 * message format (the lingua franca of Workers AI, OpenAI and self-hosted servers alike), yielding
 * text as it arrives and each tool call once its arguments are complete.
 */

/** A tool call as the model asked for it: `arguments` is the JSON text the model wrote (unparsed). */
export interface ToolCall {
  id: string;
  name: string;
  arguments: string;
}

/** OpenAI chat messages (the subset the agent sends). */
export type ChatMessage =
  | { role: "system" | "user"; content: string }
  | {
      role: "assistant";
      content: string | null;
      tool_calls?: { id: string; type: "function"; function: { name: string; arguments: string } }[];
    }
  | { role: "tool"; tool_call_id: string; content: string };

/** A function the model may call; `parameters` is a JSON Schema object. */
export interface ToolSpec {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
}

export type LlmEvent = { type: "text"; text: string } | { type: "tool_call"; call: ToolCall };

export interface ChatRequest {
  messages: ChatMessage[];
  tools?: readonly ToolSpec[];
  /** Overrides the provider's configured model (a call's `agent.model`). */
  model?: string;
  /** Cancels the request and ends the stream (barge-in). */
  signal?: AbortSignal;
  maxTokens?: number;
}

export interface LlmProvider {
  /** Named in errors, logs and /health: "workers-ai", "openai-compatible". */
  readonly name: string;
  /** The model used when a request names none. */
  readonly model: string;
  stream(request: ChatRequest): AsyncIterable<LlmEvent>;
}

/** A provider failed or answered with something unusable. */
export class LlmError extends Error {
  readonly provider: string;
  readonly transient: boolean;
  readonly status?: number;
  constructor(provider: string, message: string, options: { transient: boolean; status?: number; cause?: unknown }) {
    super(`${provider}: ${message}`, { cause: options.cause });
    this.name = "LlmError";
    this.provider = provider;
    this.transient = options.transient;
    this.status = options.status;
  }
}

/** Default answer budget: a spoken reply is a few sentences. */
export const DEFAULT_MAX_TOKENS = 400;
