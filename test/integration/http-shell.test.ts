import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { routesOf } from "../../src/http/route";
import { call, fetchWithEnv as fetchWith, json, mintToken, problem } from "../helpers/api";

describe("the HTTP shell", () => {
  it("gives every response a request id and echoes a safe one", async () => {
    const generated = await call("/health", { token: null });
    expect(generated.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const echoed = await call("/api/v2/agents/none/state", { headers: { "X-Request-Id": "client-req-42" } });
    expect(echoed.headers.get("x-request-id")).toBe("client-req-42");
    expect((await problem(echoed, 404)).request_id).toBe("client-req-42");
    const unsafe = await call("/health", { token: null, headers: { "X-Request-Id": "bad id with spaces" } });
    expect(unsafe.headers.get("x-request-id")).not.toBe("bad id with spaces");
  });

  it("answers unknown routes with a 404 problem document", async () => {
    const doc = await problem(await call("/api/v2/nothing-here"), 404);
    expect(doc).toMatchObject({ type: "/problems/not_found", title: "Not found", status: 404, instance: "/api/v2/nothing-here" });
  });

  it("serves the meaning of each problem type", async () => {
    const res = await call("/problems/precondition_failed", { token: null });
    expect(await json(res)).toMatchObject({ code: "precondition_failed", status: 412 });
    await problem(await call("/problems/no_such_thing", { token: null }), 404);
  });

  it("allows CORS only for configured origins", async () => {
    const preflight = (origin: string) =>
      fetchWith(
        { CORS_ALLOWED_ORIGINS: "https://app.example, https://admin.example" },
        new Request("http://local.test/api/v2/agents/a/state", {
          method: "OPTIONS",
          headers: { Origin: origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,if-match" },
        }),
      );
    const allowed = await preflight("https://admin.example");
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get("access-control-allow-origin")).toBe("https://admin.example");
    expect(allowed.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("if-match");
    const refused = await preflight("https://evil.example");
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
    // A browser must be able to read an error too: the problem response keeps the CORS headers.
    const failed = await fetchWith(
      { CORS_ALLOWED_ORIGINS: "https://app.example" },
      new Request("http://local.test/api/v2/agents/a/state", { headers: { Origin: "https://app.example", "X-Request-Id": "cors-err-1" } }),
    );
    expect(failed.status).toBe(401);
    expect(failed.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(failed.headers.get("access-control-expose-headers")).toContain("X-Request-Id");
    expect(failed.headers.get("x-request-id")).toBe("cors-err-1");
    const simple = await call("/health", { token: null, headers: { Origin: "https://evil.example" } });
    expect(simple.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("reports health from what is bound and configured (the checks to a credential)", async () => {
    // The checks are shown to any valid credential; /health is outside /api, so it is sent by hand.
    const auth = { Authorization: `Bearer ${await mintToken({ role: "guest" })}` };
    const health = (overrides: Record<string, unknown>) => fetchWith(overrides, new Request("http://local.test/health", { headers: auth }));
    const healthy = await json<{ status: string; features: Record<string, boolean>; checks: Record<string, { ok: boolean }> }>(
      await call("/health"),
    );
    expect(healthy.status).toBe("healthy");
    expect(healthy.features).toEqual({
      persistent_state: true,
      long_running_tasks: true,
      horizontal_scaling: true,
      email_integration: true,
      webrtc_integration: true,
      self_hosting: false,
    });
    expect(healthy.checks.d1!.ok && healthy.checks.kv!.ok && healthy.checks.auth!.ok && healthy.checks.queues!.ok).toBe(true);
    const calls = (healthy.checks as Record<string, { ok: boolean; detail: string }>).calls!;
    expect(calls.ok).toBe(true);
    expect(calls.detail).toContain("peer-to-peer media");
    expect(calls.detail).toContain("speech not configured");
    const configured = await json<{ checks: Record<string, { ok: boolean; detail: string }> }>(
      await health({ REALTIME_APP_ID: "app", REALTIME_APP_SECRET: "secret", SPEECH_BASE_URL: "http://speech.test" }),
    );
    expect(configured.checks.calls!.detail).toMatch(/Realtime SFU.*speech through openai-compatible/);
    const noCalls = await json<{ features: Record<string, boolean>; checks: Record<string, { ok: boolean }> }>(
      await health({ CALL_SESSION: undefined }),
    );
    expect(noCalls.features.webrtc_integration).toBe(false);
    expect(noCalls.checks.calls!.ok).toBe(false);

    // With no JWT_SECRET nor ADMIN_API_KEY the only credential left is an API key.
    const key = await json<{ key: string }>(await call("/api/v2/auth/api-keys", { body: { name: "health reader", role: "guest" } }));
    const noAuth = await fetchWith(
      { JWT_SECRET: "", ADMIN_API_KEY: "" },
      new Request("http://local.test/health", { headers: { "X-API-Key": key.key } }),
    );
    expect(noAuth.status).toBe(503);
    expect(await json(noAuth)).toMatchObject({ status: "degraded", checks: { auth: { ok: false } } });
  });
});

describe("the OpenAPI document", () => {
  it("is OpenAPI 3.1 and describes every state route with its schemas", async () => {
    const doc = await json<{
      openapi: string;
      paths: Record<
        string,
        Record<
          string,
          { operationId: string; parameters: { name: string; in: string }[]; requestBody?: unknown; responses: Record<string, unknown> }
        >
      >;
    }>(await call("/openapi.json", { token: null }));
    expect(doc.openapi).toBe("3.1.0");
    const ops = Object.values(doc.paths).flatMap((methods) => Object.values(methods).map((op) => op.operationId));
    expect(ops).toEqual(
      expect.arrayContaining([
        "saveAgentState",
        "loadAgentState",
        "deleteAgentState",
        "listStateVersions",
        "getStateVersion",
        "restoreStateVersion",
        "listAgents",
        "createApiKey",
        "listApiKeys",
        "revokeApiKey",
        "health",
      ]),
    );
    const save = doc.paths["/api/v2/agents/{agent_id}/state"]!.post!;
    expect(save.parameters).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: "agent_id", in: "path" }),
        expect.objectContaining({ name: "If-Match", in: "header" }),
      ]),
    );
    expect(save.requestBody).toMatchObject({
      content: {
        "application/json": {
          schema: {
            type: "object",
            required: ["state_data"],
            properties: { agent_type: { enum: expect.arrayContaining(["analytics", "webrtc"]) } },
          },
        },
      },
    });
    expect(Object.keys(save.responses)).toEqual(expect.arrayContaining(["200", "401", "403", "412", "413", "422", "429"]));
    expect(Object.keys(doc.paths["/health"]!.get!.responses)).not.toContain("401");
  });

  it("lists each route of its own app once, however many apps are built", async () => {
    const first = createApp();
    const second = createApp();
    const res = await second.request("/openapi.json", {}, env);
    const doc = await json<{ paths: Record<string, Record<string, { operationId: string }>> }>(res);
    const ops = Object.values(doc.paths).flatMap((methods) => Object.values(methods).map((op) => op.operationId));
    expect(new Set(ops).size).toBe(ops.length);
    expect(routesOf(second).length).toBe(ops.length);
    expect(routesOf(first).length).toBe(routesOf(second).length);
  });

  it("is rendered at /docs as a self-contained page", async () => {
    const res = await call("/docs", { token: null });
    expect(res.headers.get("content-type")).toContain("text/html");
    const html = await res.text();
    expect(html).toContain("/api/v2/agents/{agent_id}/state/restore");
    expect(html).not.toMatch(/<script[^>]+src=/);
  });
});
