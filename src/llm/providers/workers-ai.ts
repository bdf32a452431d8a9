/**
 * Text generation on Workers AI (`env.AI`, runs only on Cloudflare; locally every call throws
 * "needs to be run remotely", reported as a non-transient {@link LlmError}).
 *
 * `env.AI.run(model, {messages, stream: true, max_tokens, tools?})` returns an SSE stream of
 * `data: {"response": "…"}` events ending with `data: [DONE]`. Models with function calling
 * (e.g. the default `@cf/meta/llama-3.3-70b-instruct-fp8-fast`) take `tools` in the OpenAI shape
 * and report calls as `tool_calls` (`[{name, arguments}]`, arguments an object or JSON text, or
 * OpenAI's `{id, function: {name, arguments}}`); both are accepted, as are OpenAI-style
 * `choices[].delta` events some models send.
 * @see https://developers.cloudflare.com/workers-ai/features/function-calling/
 * @see https://developers.cloudflare.com/workers-ai/models/llama-3.3-70b-instruct-fp8-fast/
 */
import { z } from "zod";
import { sseData } from "../sse";
import { DEFAULT_MAX_TOKENS, LlmError, type ChatRequest, type LlmEvent, type LlmProvider } from "../types";

export const WORKERS_AI_DEFAULT_MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast";

/** The one method we use, typed loosely: `Ai.run`'s overloads are keyed on the model list. */
export interface AiTextRunner {
  run(model: string, inputs: Record<string, unknown>): Promise<unknown>;
}

const NAME = "workers-ai";

const WorkersAiCall = z.object({
  id: z.string().nullish(),
  name: z.string().nullish(),
  arguments: z.unknown().optional(),
  function: z.object({ name: z.string(), arguments: z.unknown().optional() }).nullish(),
});

const Event = z.object({
  response: z.string().nullish(),
  tool_calls: z.array(WorkersAiCall).nullish(),
  choices: z.array(z.object({ delta: z.object({ content: z.string().nullish() }).nullish() })).nullish(),
});

function argumentsText(value: unknown): string {
  if (value === undefined || value === null) return "{}";
  return typeof value === "string" ? value : JSON.stringify(value);
}

export class WorkersAiLlm implements LlmProvider {
  readonly name = NAME;
  readonly model: string;
  readonly #ai: AiTextRunner;

  constructor(ai: AiTextRunner, options: { model?: string } = {}) {
    this.#ai = ai;
    this.model = options.model ?? WORKERS_AI_DEFAULT_MODEL;
  }

  async *stream(request: ChatRequest): AsyncGenerator<LlmEvent> {
    const model = request.model ?? this.model;
    let out: unknown;
    try {
      out = await this.#ai.run(model, {
        messages: request.messages,
        stream: true,
        max_tokens: request.maxTokens ?? DEFAULT_MAX_TOKENS,
        ...(request.tools && request.tools.length > 0 ? { tools: request.tools.map((t) => ({ type: "function", function: t })) } : {}),
      });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const local = /needs to be run remotely|not (yet )?supported/i.test(message);
      throw new LlmError(
        NAME,
        local
          ? `${model} cannot run here (Workers AI only runs on Cloudflare; set LLM_BASE_URL for a local model server)`
          : `${model}: ${message}`,
        { transient: !local, cause: err },
      );
    }
    if (!(out instanceof ReadableStream)) throw new LlmError(NAME, `${model} did not answer with a stream`, { transient: false });
    let calls = 0;
    for await (const data of sseData(out as ReadableStream<Uint8Array>)) {
      if (request.signal?.aborted) return;
      let raw: unknown;
      try {
        raw = JSON.parse(data);
      } catch {
        throw new LlmError(NAME, "a stream event is not JSON", { transient: false });
      }
      const event = Event.safeParse(raw);
      if (!event.success) throw new LlmError(NAME, "a stream event has an unexpected shape", { transient: false });
      const text = event.data.response ?? event.data.choices?.[0]?.delta?.content;
      if (text) yield { type: "text", text };
      for (const c of event.data.tool_calls ?? []) {
        const name = c.function?.name ?? c.name;
        if (!name) continue;
        yield {
          type: "tool_call",
          call: { id: c.id ?? `call_${calls++}`, name, arguments: argumentsText(c.function ? c.function.arguments : c.arguments) },
        };
      }
    }
  }
}
