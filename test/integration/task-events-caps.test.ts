/**
 * Open task event streams are capped per agent (exact, in the agent's Durable Object) and per
 * credential (per isolate); beyond either cap the request is 429 with Retry-After, naming the cap.
 * Small caps come from the env of each request (callWithEnv), as a deployment's vars would.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, json, mintToken, problem } from "../helpers/api";
import { callWithEnv } from "../helpers/auth";
import { SseReader } from "../helpers/sse";

async function externalTask(agent: string): Promise<string> {
  const res = await call(`/api/v2/agents/${agent}/tasks`, { body: { task_type: "render_video" } });
  expect(res.status).toBe(202);
  return (await json<{ task_id: string }>(res)).task_id;
}

const tokenOf = (sub: string) => mintToken({ role: "guest", sub });

/** Opens a stream under the given caps; returns the response (200 or a problem). */
function open(taskId: string, token: string, caps: { agent?: number; credential?: number }): Promise<Response> {
  return callWithEnv(
    {
      ...(caps.agent ? { SSE_MAX_STREAMS_PER_AGENT: String(caps.agent) } : {}),
      ...(caps.credential ? { SSE_MAX_STREAMS_PER_CREDENTIAL: String(caps.credential) } : {}),
    },
    `/api/v2/tasks/${taskId}/events`,
    { token },
  );
}

async function opened(res: Response): Promise<SseReader> {
  expect(res.status).toBe(200);
  const sse = new SseReader(res);
  expect(await sse.next()).not.toBeNull();
  return sse;
}

async function refused(res: Response, cap: "per_agent" | "per_credential", setting: string, limit: number): Promise<void> {
  if (res.status !== 429) {
    // An opened stream would never end: close it before failing.
    await res.body?.cancel();
    expect(res.status).toBe(429);
  }
  expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
  const doc = await problem(res, 429);
  expect(doc).toMatchObject({ code: "rate_limited", cap, limit });
  expect(doc.detail).toContain(setting);
}

describe("SSE stream caps", () => {
  it("per agent: beyond SSE_MAX_STREAMS_PER_AGENT open streams of one agent, 429 whoever asks; other agents are not affected", async () => {
    const agent = "sse-cap-agent";
    const [t1, t2, t3] = [await externalTask(agent), await externalTask(agent), await externalTask(agent)];
    const caps = { agent: 2 };
    const a = await opened(await open(t1, await tokenOf("cap-agent-a"), caps));
    const b = await opened(await open(t2, await tokenOf("cap-agent-b"), caps));
    expect(await env.AGENT.getByName(agent).openEventStreams()).toBe(2);
    // A third credential, another task of the same agent: the agent's cap.
    await refused(await open(t3, await tokenOf("cap-agent-c"), caps), "per_agent", "SSE_MAX_STREAMS_PER_AGENT", 2);
    expect(await env.AGENT.getByName(agent).openEventStreams()).toBe(2);
    // Another agent has its own count.
    await opened(await open(await externalTask("sse-cap-agent-other"), await tokenOf("cap-agent-c"), caps)).then((s) => s.cancel());

    // A stream that ends gives its place back: one cancelled by its client, one ended with its task.
    await a.cancel();
    await expect.poll(() => env.AGENT.getByName(agent).openEventStreams(), { timeout: 10_000, interval: 20 }).toBe(1);
    const c = await opened(await open(t3, await tokenOf("cap-agent-c"), caps));
    expect((await call(`/api/v2/tasks/${t2}/cancel`, { method: "POST" })).status).toBe(200);
    await b.rest();
    await expect.poll(() => env.AGENT.getByName(agent).openEventStreams(), { timeout: 10_000, interval: 20 }).toBe(1);
    await opened(await open(t1, await tokenOf("cap-agent-a"), caps)).then((s) => s.cancel());
    await c.cancel();
  });

  it("per credential: beyond SSE_MAX_STREAMS_PER_CREDENTIAL open streams of one credential across agents, 429; others are not affected", async () => {
    const [x1, x2, x3] = [await externalTask("sse-cap-cred-1"), await externalTask("sse-cap-cred-2"), await externalTask("sse-cap-cred-3")];
    const caps = { credential: 2 };
    const token = await tokenOf("cap-cred-x");
    const s1 = await opened(await open(x1, token, caps));
    const s2 = await opened(await open(x2, token, caps));
    await refused(await open(x3, token, caps), "per_credential", "SSE_MAX_STREAMS_PER_CREDENTIAL", 2);
    // The refused request opened nothing in the agent.
    expect(await env.AGENT.getByName("sse-cap-cred-3").openEventStreams()).toBe(0);
    // Another credential, same task: its own count.
    await opened(await open(x3, await tokenOf("cap-cred-y"), caps)).then((s) => s.cancel());

    // Closing one (by the client, or by the task ending) frees a place at once.
    await s1.cancel();
    const s3 = await opened(await open(x3, token, caps));
    await refused(await open(x1, token, caps), "per_credential", "SSE_MAX_STREAMS_PER_CREDENTIAL", 2);
    expect((await call(`/api/v2/tasks/${x2}/complete`, { body: { result: 1 } })).status).toBe(200);
    await s2.rest();
    await opened(await open(x1, token, caps)).then((s) => s.cancel());
    await s3.cancel();
  });

  it("the caps default to the configured vars and are documented", async () => {
    const doc = await json<{
      paths: Record<string, { get: { description: string; responses: Record<string, { headers?: Record<string, unknown> }> } }>;
    }>(await call("/openapi.json"));
    const op = doc.paths["/api/v2/tasks/{task_id}/events"]!.get;
    expect(op.description).toContain("SSE_MAX_STREAMS_PER_AGENT");
    expect(op.description).toContain("SSE_MAX_STREAMS_PER_CREDENTIAL");
    expect(op.responses["429"]!.headers).toHaveProperty("Retry-After");
    // wrangler.toml's [vars] (read through a plain record: the generated Env may lag behind them).
    const vars = env as unknown as Record<string, unknown>;
    expect(vars.SSE_MAX_STREAMS_PER_AGENT).toBe("100");
    expect(vars.SSE_MAX_STREAMS_PER_CREDENTIAL).toBe("20");
  });
});
