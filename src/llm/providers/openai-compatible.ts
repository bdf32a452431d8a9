/**
 * Any OpenAI-compatible chat completions server (OpenAI itself, or self-hosted ones such as
 * vLLM, llama.cpp's server, Ollama), set with `LLM_BASE_URL` (+ optional `LLM_API_KEY`, `LLM_MODEL`).
 *
 * `POST {base}/v1/chat/completions` with `{model, messages, stream: true, max_tokens, tools?}`;
 * the answer is SSE: `data: {"choices":[{"delta":{"content"?, "tool_calls"?}, "finish_reason"}]}`
 * chunks and `data: [DONE]`. A tool call arrives in pieces keyed by `index` (the first carries `id`
 * and `function.name`, the rest append to `function.arguments`); it is yielded whole when the
 * choice finishes. A base URL that already ends in `/v1` is accepted as well.
 * @see https://platform.openai.com/docs/api-reference/chat/create
 * @see https://platform.openai.com/docs/api-reference/chat-streaming
 */
import { z } from "zod";
import { openAiCompatibleBase } from "../../lib/openai-compatible-url";
import { sseData } from "../sse";
import { DEFAULT_MAX_TOKENS, LlmError, type ChatRequest, type LlmEvent, type LlmProvider, type ToolCall } from "../types";

export const OPENAI_DEFAULT_MODEL = "gpt-4o-mini";
/** Deadline for a whole answer (a spoken reply is a few sentences; a stuck server must not hold the turn). */
export const LLM_TIMEOUT_MS = 30_000;

const NAME = "openai-compatible";

const Chunk = z.object({
  choices: z
    .array(
      z.object({
        delta: z
          .object({
            content: z.string().nullish(),
            tool_calls: z
              .array(
                z.object({
                  index: z.number().int().min(0).max(63),
                  id: z.string().nullish(),
                  function: z.object({ name: z.string().nullish(), arguments: z.string().nullish() }).partial().nullish(),
                }),
              )
              .nullish(),
          })
          .nullish(),
        finish_reason: z.string().nullish(),
      }),
    )
    .default([]),
});

export interface OpenAiCompatibleLlmOptions {
  baseUrl: string;
  apiKey?: string;
  model?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

export class OpenAiCompatibleLlm implements LlmProvider {
  readonly name = NAME;
  readonly model: string;
  readonly #options: OpenAiCompatibleLlmOptions;
  readonly #url: string;

  constructor(options: OpenAiCompatibleLlmOptions) {
    this.#options = options;
    this.model = options.model ?? OPENAI_DEFAULT_MODEL;
    this.#url = `${openAiCompatibleBase(options.baseUrl)}/v1/chat/completions`;
  }

  async *stream(request: ChatRequest): AsyncGenerator<LlmEvent> {
    const body = {
      model: request.model ?? this.model,
      messages: request.messages,
      stream: true,
      max_tokens: request.maxTokens ?? DEFAULT_MAX_TOKENS,
      ...(request.tools && request.tools.length > 0
        ? { tools: request.tools.map((t) => ({ type: "function", function: t })), tool_choice: "auto" }
        : {}),
    };
    const headers: Record<string, string> = { "Content-Type": "application/json", Accept: "text/event-stream" };
    if (this.#options.apiKey) headers.Authorization = `Bearer ${this.#options.apiKey}`;
    const timeoutMs = this.#options.timeoutMs ?? LLM_TIMEOUT_MS;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
    let res: Response;
    try {
      res = await (this.#options.fetch ?? globalThis.fetch)(this.#url, { method: "POST", headers, body: JSON.stringify(body), signal });
    } catch (err) {
      if (request.signal?.aborted) return;
      const message = timeout.aborted
        ? `no answer within ${timeoutMs} ms`
        : `request failed: ${err instanceof Error ? err.message : String(err)}`;
      throw new LlmError(NAME, `/v1/chat/completions: ${message}`, { transient: true, cause: err });
    }
    if (!res.ok) {
      const text = (await res.text().catch(() => "")).slice(0, 300);
      throw new LlmError(NAME, `/v1/chat/completions: HTTP ${res.status}${text ? `: ${text}` : ""}`, {
        transient: res.status === 429 || res.status >= 500,
        status: res.status,
      });
    }
    const type = (res.headers.get("Content-Type") ?? "").toLowerCase();
    if (!type.startsWith("text/event-stream") || !res.body) {
      await res.body?.cancel();
      throw new LlmError(NAME, `/v1/chat/completions answered with ${type || "no Content-Type"}, not an event stream`, {
        transient: false,
      });
    }
    const pending = new Map<number, ToolCall>();
    function* finished(): Generator<LlmEvent> {
      for (const [index, call] of [...pending.entries()].sort((a, b) => a[0] - b[0]))
        yield { type: "tool_call", call: { ...call, id: call.id || `call_${index}` } };
      pending.clear();
    }
    try {
      for await (const data of sseData(res.body)) {
        let raw: unknown;
        try {
          raw = JSON.parse(data);
        } catch {
          throw new LlmError(NAME, "a stream event is not JSON", { transient: false });
        }
        const chunk = Chunk.safeParse(raw);
        if (!chunk.success) throw new LlmError(NAME, "a stream event has an unexpected shape", { transient: false });
        for (const choice of chunk.data.choices) {
          if (choice.delta?.content) yield { type: "text", text: choice.delta.content };
          for (const piece of choice.delta?.tool_calls ?? []) {
            const call = pending.get(piece.index) ?? { id: "", name: "", arguments: "" };
            if (piece.id) call.id = piece.id;
            if (piece.function?.name) call.name += piece.function.name;
            if (piece.function?.arguments) call.arguments += piece.function.arguments;
            pending.set(piece.index, call);
          }
          if (choice.finish_reason) yield* finished();
        }
      }
    } catch (err) {
      if (request.signal?.aborted) return;
      if (err instanceof LlmError) throw err;
      throw new LlmError(NAME, `the stream broke: ${err instanceof Error ? err.message : String(err)}`, { transient: true, cause: err });
    }
    yield* finished();
  }
}
