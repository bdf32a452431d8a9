/**
 * The language-model providers against fakes that check the documented requests: the
 * OpenAI-compatible server (`/v1/chat/completions`, `stream: true`, SSE chunks ending in
 * `data: [DONE]`, tool calls in pieces) and the Workers AI binding (its SSE of `{response}`),
 * plus provider selection from the environment.
 */
import { describe, expect, it, vi } from "vitest";
import { LLM_NOT_CONFIGURED, LlmError, llmFromEnv, type LlmEvent } from "../../src/llm/service";
import { OpenAiCompatibleLlm } from "../../src/llm/providers/openai-compatible";
import { WorkersAiLlm, WORKERS_AI_DEFAULT_MODEL } from "../../src/llm/providers/workers-ai";
import { sseData } from "../../src/llm/sse";

/** An SSE body made of `events` (each a JSON value or the literal [DONE]), split at odd places. */
function sse(events: unknown[], splitEvery = 7): ReadableStream<Uint8Array> {
  const text = events.map((e) => `data: ${e === "[DONE]" ? e : JSON.stringify(e)}\n\n`).join("");
  const bytes = new TextEncoder().encode(text);
  return new ReadableStream({
    start(c) {
      for (let i = 0; i < bytes.length; i += splitEvery) c.enqueue(bytes.slice(i, i + splitEvery));
      c.close();
    },
  });
}

const delta = (d: Record<string, unknown>, finish: string | null = null) => ({ choices: [{ index: 0, delta: d, finish_reason: finish }] });

async function collect(events: AsyncIterable<LlmEvent>): Promise<LlmEvent[]> {
  const out: LlmEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

function fakeServer(reply: (req: Request) => Response | Promise<Response>) {
  const seen: { url: string; headers: Headers; body: Record<string, unknown> }[] = [];
  const fetchFn = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init);
    seen.push({ url: req.url, headers: req.headers, body: (await req.clone().json()) as Record<string, unknown> });
    return reply(req);
  });
  return { fetchFn: fetchFn as unknown as typeof fetch, seen };
}

const streamed = (body: ReadableStream<Uint8Array>) => new Response(body, { headers: { "Content-Type": "text/event-stream" } });

describe("sseData", () => {
  it("yields each event's data across chunk boundaries, skips comments, stops at [DONE]", async () => {
    const text = ': keep-alive\n\ndata: {"a":1}\r\n\r\ndata: two\ndata: lines\n\ndata: [DONE]\n\ndata: after\n\n';
    const body = new Response(text).body!;
    const out: string[] = [];
    for await (const d of sseData(body)) out.push(d);
    expect(out).toEqual(['{"a":1}', "two\nlines"]);
  });
});

describe("OpenAiCompatibleLlm", () => {
  it("posts a streaming chat completion and yields text and whole tool calls", async () => {
    const { fetchFn, seen } = fakeServer(() =>
      streamed(
        sse([
          delta({ role: "assistant", content: "" }),
          delta({ content: "Hello" }),
          delta({ content: " there." }),
          delta({ tool_calls: [{ index: 0, id: "call_a", type: "function", function: { name: "request_", arguments: "" } }] }),
          delta({ tool_calls: [{ index: 0, function: { name: "approval", arguments: '{"title":' } }] }),
          delta({ tool_calls: [{ index: 0, function: { arguments: '"Release"}' } }] }),
          delta({}, "tool_calls"),
          "[DONE]",
        ]),
      ),
    );
    const llm = new OpenAiCompatibleLlm({ baseUrl: "http://llm.test/v1/", apiKey: "sk-test", model: "m1", fetch: fetchFn });
    const events = await collect(
      llm.stream({
        messages: [{ role: "user", content: "hi" }],
        tools: [{ name: "request_approval", description: "d", parameters: { type: "object" } }],
      }),
    );
    expect(events).toEqual([
      { type: "text", text: "Hello" },
      { type: "text", text: " there." },
      { type: "tool_call", call: { id: "call_a", name: "request_approval", arguments: '{"title":"Release"}' } },
    ]);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.url).toBe("http://llm.test/v1/chat/completions");
    expect(seen[0]!.headers.get("authorization")).toBe("Bearer sk-test");
    expect(seen[0]!.body).toEqual({
      model: "m1",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
      max_tokens: 400,
      tools: [{ type: "function", function: { name: "request_approval", description: "d", parameters: { type: "object" } } }],
      tool_choice: "auto",
    });
  });

  it("uses a request's model over the configured one and sends no tools when there are none", async () => {
    const { fetchFn, seen } = fakeServer(() => streamed(sse([delta({ content: "ok" }, "stop"), "[DONE]"])));
    const llm = new OpenAiCompatibleLlm({ baseUrl: "http://llm.test", fetch: fetchFn });
    expect(llm.model).toBe("gpt-4o-mini");
    await collect(llm.stream({ messages: [{ role: "user", content: "hi" }], model: "other" }));
    expect(seen[0]!.body.model).toBe("other");
    expect(seen[0]!.body).not.toHaveProperty("tools");
    expect(seen[0]!.headers.get("authorization")).toBeNull();
  });

  it("reports HTTP errors, non-stream answers and malformed events as LlmError", async () => {
    const cases: [Response, RegExp, boolean][] = [
      [new Response("overloaded", { status: 503 }), /HTTP 503: overloaded/, true],
      [new Response("bad key", { status: 401 }), /HTTP 401/, false],
      [Response.json({ choices: [] }), /not an event stream/, false],
      [streamed(new Response("data: {nope\n\n").body!), /not JSON/, false],
      [streamed(sse([{ choices: "x" }])), /unexpected shape/, false],
    ];
    for (const [res, message, transient] of cases) {
      const llm = new OpenAiCompatibleLlm({ baseUrl: "http://llm.test", fetch: (async () => res) as unknown as typeof fetch });
      const err = await collect(llm.stream({ messages: [] })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LlmError);
      expect((err as LlmError).message).toMatch(message);
      expect((err as LlmError).transient).toBe(transient);
    }
  });

  it("ends quietly when the caller aborts (barge-in)", async () => {
    let pull: ReadableStreamDefaultController<Uint8Array> | undefined;
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        pull = c;
        c.enqueue(new TextEncoder().encode(`data: ${JSON.stringify(delta({ content: "One. " }))}\n\n`));
      },
    });
    const abort = new AbortController();
    const fetchFn = (async (_: RequestInfo | URL, init?: RequestInit) => {
      init?.signal?.addEventListener("abort", () => pull?.error(new DOMException("aborted", "AbortError")));
      return streamed(body);
    }) as unknown as typeof fetch;
    const llm = new OpenAiCompatibleLlm({ baseUrl: "http://llm.test", fetch: fetchFn });
    const out: LlmEvent[] = [];
    for await (const e of llm.stream({ messages: [], signal: abort.signal })) {
      out.push(e);
      abort.abort();
    }
    expect(out).toEqual([{ type: "text", text: "One. " }]);
  });
});

describe("WorkersAiLlm", () => {
  it("runs the model with stream: true and reads response text and tool calls", async () => {
    const run = vi.fn(async () =>
      sse([
        { response: "Sure" },
        { response: ", done." },
        { response: "", tool_calls: [{ name: "create_task", arguments: { task_type: "noop" } }] },
        "[DONE]",
      ]),
    );
    const llm = new WorkersAiLlm({ run });
    const events = await collect(
      llm.stream({ messages: [{ role: "user", content: "go" }], tools: [{ name: "create_task", description: "d", parameters: {} }] }),
    );
    expect(events).toEqual([
      { type: "text", text: "Sure" },
      { type: "text", text: ", done." },
      { type: "tool_call", call: { id: "call_0", name: "create_task", arguments: '{"task_type":"noop"}' } },
    ]);
    expect(run).toHaveBeenCalledWith(WORKERS_AI_DEFAULT_MODEL, {
      messages: [{ role: "user", content: "go" }],
      stream: true,
      max_tokens: 400,
      tools: [{ type: "function", function: { name: "create_task", description: "d", parameters: {} } }],
    });
  });

  it("says that Workers AI runs only on Cloudflare when the local binding refuses", async () => {
    const llm = new WorkersAiLlm({
      run: async () => {
        throw new Error("Binding AI needs to be run remotely");
      },
    });
    const err = (await collect(llm.stream({ messages: [] })).catch((e: unknown) => e)) as LlmError;
    expect(err).toBeInstanceOf(LlmError);
    expect(err.message).toContain("set LLM_BASE_URL");
    expect(err.transient).toBe(false);
  });
});

describe("llmFromEnv", () => {
  it("prefers LLM_BASE_URL, then LLM_PROVIDER=workers-ai, else says what to set", () => {
    expect(llmFromEnv({ LLM_BASE_URL: "http://llm.test", LLM_MODEL: "m", LLM_PROVIDER: "workers-ai" }, {}).provider).toMatchObject({
      name: "openai-compatible",
      model: "m",
    });
    expect(llmFromEnv({ LLM_PROVIDER: "workers-ai", AI: { run: async () => null } }).provider?.name).toBe("workers-ai");
    expect(llmFromEnv({ LLM_PROVIDER: "workers-ai" })).toEqual({ provider: null, reason: expect.stringContaining("no AI binding") });
    expect(llmFromEnv({ LLM_PROVIDER: "gpt" })).toEqual({ provider: null, reason: expect.stringContaining('Unknown LLM_PROVIDER "gpt"') });
    expect(llmFromEnv({ LLM_BASE_URL: "ftp://x" })).toEqual({ provider: null, reason: expect.stringContaining("http(s) URL") });
    expect(llmFromEnv({ LLM_BASE_URL: " " })).toEqual({ provider: null, reason: LLM_NOT_CONFIGURED });
  });
});
