/**
 * The dashboard at `/` without a browser: content negotiation (browsers get the page, API clients
 * keep the JSON index), its strict headers, its built script and style among the static assets,
 * the task types its create form is generated from, and signing in through the dashboard's own
 * client code (src/dashboard/client/session.ts) against the real Worker: a wrong key is refused
 * with the 401 problem's title and detail and leaves nothing in storage.
 */
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ApiError, apiClient } from "../../src/dashboard/client/api";
import { CREDENTIAL_KEY, signIn, type KeyValueStore } from "../../src/dashboard/client/session";
import { ADMIN_KEY, call, json, mintToken, problem } from "../helpers/api";

const BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";
const get = (accept: string | null) => call("/", { token: null, headers: accept === null ? {} : { Accept: accept } });

/** sessionStorage's shape over a Map, so the test can see everything that was stored. */
function memoryStore(): KeyValueStore & { entries: Map<string, string> } {
  const entries = new Map<string, string>();
  return {
    entries,
    getItem: (k) => entries.get(k) ?? null,
    setItem: (k, v) => void entries.set(k, v),
    removeItem: (k) => void entries.delete(k),
  };
}

/** The dashboard client's fetch, aimed at the Worker under test. */
const workerFetch = (path: string, init: RequestInit) => exports.default.fetch(new Request(`http://local.test${path}`, init));

describe("GET / negotiates", () => {
  it("a browser (Accept: text/html first) gets the dashboard page", async () => {
    const res = await get(BROWSER_ACCEPT);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("vary")).toBe("Accept");
    const html = await res.text();
    expect(html).toContain('<script type="module" src="/assets/dashboard.js"></script>');
    expect(html).toContain('<link rel="stylesheet" href="/assets/dashboard.css">');
    expect(html).toContain('<a href="/docs">API docs</a>');
  });

  it.each([
    ["application/json", "application/json"],
    ["*/* (curl)", "*/*"],
    ["no Accept header", null],
    ["JSON preferred over HTML", "application/json, text/html;q=0.5"],
    ["HTML refused", "text/html;q=0, application/json"],
  ])("an API client (%s) keeps the JSON index", async (_label, accept) => {
    const res = await get(accept);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.headers.get("vary")).toBe("Accept");
    expect(await json(res)).toEqual({
      name: "DataMCPServerAgent",
      version: expect.any(String),
      links: { dashboard: "/", docs: "/docs", openapi: "/openapi.json", health: "/health" },
    });
  });

  it("serves the page under a CSP without 'unsafe-inline', and with no inline script or style to need it", async () => {
    const res = await get("text/html");
    const csp = res.headers.get("content-security-policy") ?? "";
    for (const directive of [
      "default-src 'none'",
      "script-src 'self'",
      "style-src 'self'",
      "connect-src 'self'",
      "frame-ancestors 'none'",
    ]) {
      expect(csp).toContain(directive);
    }
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).not.toContain("unsafe-eval");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(res.headers.get("permissions-policy")).toContain("camera=()");
    const html = await res.text();
    // Every <script> has a src, nothing carries a style attribute or a <style> block, no third-party URL.
    expect(html.match(/<script\b[^>]*>/g)?.every((tag) => / src="\/assets\//.test(tag))).toBe(true);
    expect(html).not.toMatch(/\sstyle=|<style\b|\son[a-z]+=/i);
    expect(html).not.toMatch(/(?:src|href)="(?:https?:)?\/\//);
  });

  it("has its script and style among the static assets (built by npm run build:client)", async () => {
    const asset = (path: string) => env.ASSETS.fetch(new Request(`http://localhost:8787${path}`));
    const js = await asset("/assets/dashboard.js");
    expect(js.status, "dist/client/assets/dashboard.js (npm test builds it first)").toBe(200);
    expect(js.headers.get("content-type")).toMatch(/javascript/);
    expect(await js.text()).toContain("dmsa.dashboard.credential");
    const css = await asset("/assets/dashboard.css");
    expect(css.status).toBe(200);
    expect(css.headers.get("content-type")).toMatch(/text\/css/);
  });
});

describe("GET /api/v2/task-types", () => {
  it("lists every built-in type with the JSON Schema its metadata is checked against", async () => {
    const res = await call("/api/v2/task-types", { token: await mintToken({ role: "guest" }) });
    expect(res.status).toBe(200);
    const body = await json<{ task_types: { task_type: string; permissions: string[]; input_schema: Record<string, any> }[] }>(res);
    expect(body.task_types.map((t) => t.task_type)).toEqual(["data_analysis", "http_request", "noop", "delay", "send_email"]);
    const delay = body.task_types.find((t) => t.task_type === "delay")!;
    expect(delay.input_schema).toMatchObject({
      type: "object",
      required: ["seconds"],
      properties: { seconds: { type: "number", minimum: 0, maximum: 300 } },
    });
    expect(body.task_types.find((t) => t.task_type === "send_email")!.permissions).toEqual(["email:send"]);
  });

  it("is in the OpenAPI document, and refuses a request without credentials", async () => {
    const doc = await json<{ paths: Record<string, Record<string, { operationId: string }>> }>(
      await call("/openapi.json", { token: null }),
    );
    expect(doc.paths["/api/v2/task-types"]?.get?.operationId).toBe("listTaskTypes");
    const refused = await problem(await call("/api/v2/task-types", { token: null }), 401);
    expect(refused.code).toBe("unauthenticated");
  });
});

describe("signing in (the dashboard's session code against the Worker)", () => {
  it("a wrong key is refused with the 401 problem's title and detail, and nothing is stored", async () => {
    const store = memoryStore();
    const expected = await problem(await call("/api/v2/agents?limit=1", { token: "dmsa_wrong_key_0000000000000000" }), 401);
    const err = await signIn("dmsa_wrong_key_0000000000000000", store, workerFetch).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(401);
    expect((err as ApiError).title).toBe("Authentication required");
    expect((err as ApiError).title).toBe(expected.title);
    expect((err as ApiError).detail).toBe(expected.detail);
    expect(store.entries.size).toBe(0);
  });

  it("an empty field is refused before any request, and nothing is stored", async () => {
    const store = memoryStore();
    let requests = 0;
    const err = await signIn("   ", store, async (p, i) => {
      requests += 1;
      return workerFetch(p, i);
    }).catch((e: unknown) => e);
    expect((err as ApiError).title).toBe("Enter an API key or a token");
    expect(requests).toBe(0);
    expect(store.entries.size).toBe(0);
  });

  it("a valid key is kept (and only then), and the client it returns sends it as a bearer token", async () => {
    const store = memoryStore();
    const client = await signIn(` ${ADMIN_KEY} `, store, workerFetch);
    expect([...store.entries]).toEqual([[CREDENTIAL_KEY, ADMIN_KEY]]);
    const health = await client.request<{ checks?: unknown }>("GET", "/health", { alsoOk: [503] });
    // checks are shown only to a valid credential: the key went along.
    expect(health.data.checks).toBeDefined();
  });

  it("a credential the server knows but that may not list agents (a 403 problem) is kept: the views say what it may not do", async () => {
    const store = memoryStore();
    const forbidden = async () =>
      new Response(JSON.stringify({ type: "/problems/forbidden", title: "Not allowed", status: 403, detail: "no state:read" }), {
        status: 403,
        headers: { "content-type": "application/problem+json" },
      });
    await signIn("a-valid-but-limited-token", store, forbidden);
    expect(store.getItem(CREDENTIAL_KEY)).toBe("a-valid-but-limited-token");
  });

  it("a server that fails (500) or does not answer leaves nothing stored, and says so", async () => {
    for (const fetchFn of [
      async () => new Response("boom", { status: 500, statusText: "Internal Server Error" }),
      async () => {
        throw new TypeError("Failed to fetch");
      },
    ]) {
      const store = memoryStore();
      const err = (await signIn(ADMIN_KEY, store, fetchFn).catch((e: unknown) => e)) as ApiError;
      expect(err).toBeInstanceOf(ApiError);
      expect(err.title).toMatch(/^(HTTP 500 Internal Server Error|The server did not answer)$/);
      expect(err.detail).toMatch(/^(boom|Failed to fetch)$/);
      expect(store.entries.size).toBe(0);
    }
  });
});

describe("the dashboard's API client", () => {
  it("turns a 422 into the problem's title and detail, each field error once, and nothing is stored", async () => {
    const client = apiClient(ADMIN_KEY, workerFetch);
    const agent = `dash-client-${crypto.randomUUID().slice(0, 8)}`;
    const err = (await client
      .post(`/api/v2/agents/${agent}/tasks`, { task_type: "delay", metadata: { seconds: 500 } })
      .catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(422);
    expect(err.title).toBe("Validation failed");
    expect(err.detail.split("metadata.seconds").length - 1).toBe(1);
    const listed = await json<{ tasks: unknown[] }>(await call(`/api/v2/agents/${agent}/tasks`));
    expect(listed.tasks).toEqual([]);
  });
});
