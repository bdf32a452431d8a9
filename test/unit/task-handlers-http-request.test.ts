import { afterEach, describe, expect, it, vi } from "vitest";
import { MAX_REDIRECTS } from "../../src/lib/outbound-fetch";
import { NonRetryableError, TaskCancelled, type TaskContext } from "../../src/tasks/handler";
import { checkHttpRequestTarget, httpRequest, HttpRequestInput, type HttpRequestResult } from "../../src/tasks/handlers/http-request";

function fakeContext(metadata: Record<string, unknown>, options: { signal?: AbortSignal; cancelled?: boolean } = {}) {
  const ctx: TaskContext = {
    taskId: "task-1",
    agentId: "agent-1",
    taskType: "http_request",
    attempt: 1,
    metadata,
    signal: options.signal ?? new AbortController().signal,
    async progress() {},
    async checkpoint() {
      if (options.cancelled) throw new TaskCancelled();
    },
  };
  return ctx;
}

/** Replaces fetch with `respond`, recording every request it is given. */
function mockFetch(respond: (request: Request) => Response | Promise<Response>) {
  const requests: Request[] = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input, init);
    requests.push(request);
    return respond(request);
  });
  return requests;
}

/** A fetch that never answers, rejecting only once its signal aborts (as the real one does). */
function hangingFetch() {
  vi.spyOn(globalThis, "fetch").mockImplementation(
    (_input, init) =>
      new Promise((_resolve, reject) => {
        const signal = init?.signal;
        if (signal?.aborted) reject(signal.reason);
        signal?.addEventListener("abort", () => reject(signal.reason));
      }),
  );
}

const run = async (ctx: TaskContext) => (await httpRequest(ctx)) as HttpRequestResult;

describe("http_request handler", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("sends the method, headers and a JSON body, and records the response", async () => {
    const requests = mockFetch(
      () => new Response('{"id":7}', { status: 201, headers: { "content-type": "application/json", "x-other": "y" } }),
    );
    const result = await run(
      fakeContext({ url: "https://api.example.com/items", method: "post", headers: { "x-token": "abc" }, body: { name: "a", n: [1, 2] } }),
    );
    expect(requests).toHaveLength(1);
    const sent = requests[0]!;
    expect(sent.method).toBe("POST");
    expect(sent.url).toBe("https://api.example.com/items");
    expect(sent.headers.get("x-token")).toBe("abc");
    expect(sent.headers.get("content-type")).toBe("application/json");
    expect(await sent.json()).toEqual({ name: "a", n: [1, 2] });
    expect(result).toMatchObject({
      url: "https://api.example.com/items",
      method: "POST",
      status: 201,
      ok: true,
      headers: { "content-type": "application/json" },
      body_excerpt: '{"id":7}',
      truncated: false,
    });
    expect(result.duration_ms).toBeGreaterThanOrEqual(0);
  });

  it("defaults to GET and sends a string body as is, keeping a given content type", async () => {
    const requests = mockFetch(() => new Response("ok"));
    await run(fakeContext({ url: "http://example.com/" }));
    expect(requests[0]!.method).toBe("GET");
    await run(fakeContext({ url: "http://example.com/", method: "PUT", headers: { "Content-Type": "text/plain" }, body: "raw" }));
    expect(requests[1]!.headers.get("content-type")).toBe("text/plain");
    expect(await requests[1]!.text()).toBe("raw");
  });

  it("completes with a 4xx status recorded, without retrying", async () => {
    const requests = mockFetch(() => new Response("no such item", { status: 404 }));
    const result = await run(fakeContext({ url: "https://example.com/missing" }));
    expect(result).toMatchObject({ status: 404, ok: false, body_excerpt: "no such item", truncated: false });
    expect(requests).toHaveLength(1);
  });

  it("throws a retryable error on a 5xx, naming the status", async () => {
    mockFetch(() => new Response("upstream down", { status: 503 }));
    const attempt = run(fakeContext({ url: "https://example.com/" }));
    await expect(attempt).rejects.toThrow("GET https://example.com answered 503: upstream down");
    await expect(attempt).rejects.not.toBeInstanceOf(NonRetryableError);
  });

  it("throws a retryable error on a network failure", async () => {
    vi.spyOn(globalThis, "fetch").mockRejectedValue(new TypeError("Network connection lost."));
    const attempt = run(fakeContext({ url: "https://example.com/" }));
    await expect(attempt).rejects.toThrow(/failed: Network connection lost/);
    await expect(attempt).rejects.not.toBeInstanceOf(NonRetryableError);
  });

  it("keeps at most max_body_bytes of a larger body, read from a stream that is then cancelled", async () => {
    let pulls = 0;
    let cancelled = false;
    const chunk = new TextEncoder().encode("x".repeat(1000));
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulls += 1;
        controller.enqueue(chunk);
      },
      cancel() {
        cancelled = true;
      },
    });
    mockFetch(() => new Response(endless, { headers: { "content-type": "text/plain" } }));
    const result = await run(fakeContext({ url: "https://example.com/big", max_body_bytes: 2500 }));
    expect(result.body_excerpt).toBe("x".repeat(2500));
    expect(result.truncated).toBe(true);
    expect(cancelled).toBe(true);
    expect(pulls).toBeLessThan(10);
  });

  it("does not split a multi-byte character at the limit, and a body of exactly the limit is not truncated", async () => {
    mockFetch(() => new Response("ab€cd"));
    const cut = await run(fakeContext({ url: "https://example.com/", max_body_bytes: 4 }));
    expect(cut).toMatchObject({ body_excerpt: "ab", truncated: true });
    const exact = await run(fakeContext({ url: "https://example.com/", max_body_bytes: 7 }));
    expect(exact).toMatchObject({ body_excerpt: "ab€cd", truncated: false });
  });

  it("fails (retryably) when the request outlives timeout_seconds", async () => {
    hangingFetch();
    const attempt = run(fakeContext({ url: "https://slow.example.com/", timeout_seconds: 0.05 }));
    await expect(attempt).rejects.toThrow("GET https://slow.example.com timed out after 0.05 s");
    await expect(attempt).rejects.not.toBeInstanceOf(NonRetryableError);
  });

  it("throws TaskCancelled when ctx.signal aborts for a cancellation", async () => {
    hangingFetch();
    const controller = new AbortController();
    const attempt = run(fakeContext({ url: "https://example.com/" }, { signal: controller.signal }));
    controller.abort(new TaskCancelled());
    await expect(attempt).rejects.toBeInstanceOf(TaskCancelled);
  });

  it("asks ctx.checkpoint() when the abort reason does not say why, sending nothing once aborted", async () => {
    const requests = mockFetch(() => new Response("unexpected"));
    const cancelled = new AbortController();
    cancelled.abort();
    await expect(run(fakeContext({ url: "https://example.com/" }, { signal: cancelled.signal, cancelled: true }))).rejects.toBeInstanceOf(
      TaskCancelled,
    );
    const timedOut = new AbortController();
    timedOut.abort(new Error("task timed out"));
    const attempt = run(fakeContext({ url: "https://example.com/" }, { signal: timedOut.signal }));
    await expect(attempt).rejects.toThrow("GET https://example.com was aborted: task timed out");
    await expect(attempt).rejects.not.toBeInstanceOf(TaskCancelled);
    expect(requests).toHaveLength(0);
  });

  it.each([
    [{}, /metadata\.url: is required/],
    [{ url: "not a url" }, /metadata\.url: must be an absolute http or https URL/],
    [{ url: "ftp://example.com/file" }, /metadata\.url: must be an absolute http or https URL/],
    [{ url: "https://example.com/", method: "FETCH" }, /metadata\.method: must be one of GET, HEAD/],
    [{ url: "https://example.com/", headers: { a: 1 } }, /metadata\.headers\.a: header values must be strings/],
    [{ url: "https://example.com/", body: "x" }, /metadata\.body: is not allowed with GET or HEAD/],
    [{ url: "https://example.com/", timeout_seconds: 0 }, /metadata\.timeout_seconds/],
    [{ url: "https://example.com/", max_body_bytes: 1e6 }, /metadata\.max_body_bytes/],
  ])("refuses invalid input %j without sending anything", async (metadata, message) => {
    const requests = mockFetch(() => new Response("unexpected"));
    const attempt = run(fakeContext(metadata));
    await expect(attempt).rejects.toBeInstanceOf(NonRetryableError);
    await expect(attempt).rejects.toThrow(message);
    expect(requests).toHaveLength(0);
  });
});

describe("http_request and the outbound policy", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it.each([
    ["http://127.1/", "loopback"],
    ["http://2130706433/", "loopback"],
    ["http://[::1]:8080/", "loopback"],
    ["http://[::ffff:127.0.0.1]/", "loopback"],
    ["http://localhost:8787/api/v2/agents", "loopback"],
    ["http://169.254.169.254/latest/meta-data/", "link_local"],
    ["http://10.0.0.1/", "private"],
    ["http://[fd00::1]/", "unique_local"],
    ["http://metadata.google.internal/", "local_name"],
    ["http://user:pw@example.com/", "userinfo"],
  ])("refuses %s (%s) without sending anything, and without retries", async (url, rule) => {
    const requests = mockFetch(() => new Response("secret"));
    const attempt = run(fakeContext({ url }));
    await expect(attempt).rejects.toBeInstanceOf(NonRetryableError);
    await expect(attempt).rejects.toThrow(`refused by the outbound policy (${rule})`);
    expect(requests).toHaveLength(0);
  });

  it("fails, without retries, when a redirect leads to a refused address; nothing is sent there", async () => {
    const requests = mockFetch((req) =>
      req.url.startsWith("https://api.example.com/")
        ? new Response(null, { status: 302, headers: { location: "http://169.254.169.254/latest/meta-data/?token=x" } })
        : new Response("secret"),
    );
    const attempt = run(fakeContext({ url: "https://api.example.com/start" }));
    await expect(attempt).rejects.toBeInstanceOf(NonRetryableError);
    await expect(attempt).rejects.toThrow(
      "GET https://api.example.com: redirect 1 to http://169.254.169.254 is refused by the outbound policy (link_local): 169.254.169.254 is in 169.254.0.0/16",
    );
    expect(requests.map((r) => r.url)).toEqual(["https://api.example.com/start"]);
  });

  it("follows a redirect the policy allows and records where the chain ended", async () => {
    const requests = mockFetch((req) =>
      req.url.endsWith("/old") ? new Response(null, { status: 301, headers: { location: "/new" } }) : new Response("moved here"),
    );
    const result = await run(fakeContext({ url: "https://example.com/old" }));
    expect(result).toMatchObject({ url: "https://example.com/old", status: 200, body_excerpt: "moved here" });
    expect(requests.map((r) => r.url)).toEqual(["https://example.com/old", "https://example.com/new"]);
  });

  it(`fails, without retries, after ${MAX_REDIRECTS} redirects`, async () => {
    const requests = mockFetch(() => new Response(null, { status: 302, headers: { location: "/again" } }));
    const attempt = run(fakeContext({ url: "https://example.com/loop" }));
    await expect(attempt).rejects.toBeInstanceOf(NonRetryableError);
    await expect(attempt).rejects.toThrow(`GET https://example.com: more than ${MAX_REDIRECTS} redirects`);
    expect(requests).toHaveLength(MAX_REDIRECTS + 1);
  });

  it("checkHttpRequestTarget names the field and the rule, and follows the deployment's allow-list", () => {
    const input = HttpRequestInput.parse({ url: "http://[::ffff:127.0.0.1]:9/" });
    const allowing = (hosts: string) => ({ OUTBOUND_ALLOW_HOSTS: hosts }) as unknown as Env;
    expect(checkHttpRequestTarget(input, allowing(""))).toEqual([
      {
        path: "metadata.url",
        message:
          "refused by the outbound policy (loopback): [::ffff:7f00:1] embeds 127.0.0.1 (IPv4-mapped), which is in 127.0.0.0/8 (loopback)",
      },
    ]);
    // Exact entries: the IPv4 address does not cover its IPv4-mapped spelling.
    expect(checkHttpRequestTarget(input, allowing("127.0.0.1:9"))).toHaveLength(1);
    expect(checkHttpRequestTarget(input, allowing("[::ffff:127.0.0.1]:9"))).toEqual([]);
    expect(checkHttpRequestTarget(HttpRequestInput.parse({ url: "https://example.com/" }), allowing(""))).toEqual([]);
  });
});
