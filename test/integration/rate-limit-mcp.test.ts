/**
 * `/mcp` is rate limited like `/api` (docs/mcp.md#authentication-origin-and-limits): the same
 * per-credential budget, then 429 problem+json with `Retry-After`, and a tool call refused that
 * way changes nothing. Runs in the `workers-ratelimit` project (TEST_RATE_LIMIT per 60 s).
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, mintToken, problem } from "../helpers/api";
import { statePath, storedVersion } from "../helpers/auth";

const LIMIT = env.TEST_RATE_LIMIT!;
const WINDOW_MS = 60_000;
const MCP_HEADERS = { Accept: "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25" };

async function freshWindow(neededMs = 10_000): Promise<void> {
  const left = WINDOW_MS - (Date.now() % WINDOW_MS);
  if (left < neededMs) await new Promise((resolve) => setTimeout(resolve, left + 250));
}

const unique = (name: string) => `${name}-${crypto.randomUUID().slice(0, 8)}`;

function mcp(token: string, id: number, method: string, params: Record<string, unknown> = {}): Promise<Response> {
  return call("/mcp", { token, headers: MCP_HEADERS, body: { jsonrpc: "2.0", id, method, params } });
}

describe("/mcp rate limit", { timeout: 30_000 }, () => {
  it("allows the credential's budget, then 429 with Retry-After; the refused tool call saves nothing", async () => {
    const agent = unique("rl-mcp");
    await freshWindow();
    const token = await mintToken({ sub: unique("mcp-busy"), role: "user" });
    for (let i = 0; i < LIMIT; i++) expect((await mcp(token, i + 1, "tools/list")).status).toBe(200);
    const refused = await mcp(token, 99, "tools/call", { name: "save_agent_state", arguments: { agent_id: agent, state_data: { v: 1 } } });
    const doc = await problem(refused, 429);
    expect(doc.code).toBe("rate_limited");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await storedVersion(agent)).toBeNull();
    // The budget is the credential's across /mcp and /api.
    await problem(await call(statePath(agent), { token }), 429);
  });
});
