/** /metrics helpers: a scrape as the test admin, and publishing an agent's task roll-up now. */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { callWith, mintToken } from "./api";
import { samples, type Sample } from "./prometheus";

/** A scrape with METRICS_TOKEN unset and an admin credential (whatever a developer's .dev.vars holds). */
export async function scrape(): Promise<{ text: string; samples: Sample[] }> {
  const res = await callWith({ METRICS_TOKEN: "" }, "/metrics", { token: await mintToken({ role: "admin" }) });
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return { text, samples: samples(text) };
}

/** Makes the agent's task roll-up due and runs its alarm, as if its interval had passed. */
export async function publishTaskRollup(agentId: string): Promise<void> {
  const stub = env.AGENT.getByName(agentId);
  const armed = await runInDurableObject(
    stub,
    (_i, state) => state.storage.sql.exec("UPDATE timers SET due_at = 0 WHERE name = 'task-rollup'").rowsWritten,
  );
  if (armed > 0) expect(await runDurableObjectAlarm(stub)).toBe(true);
}

/** What D1 holds for the agent (its last publish): status → count. */
export async function publishedCounts(agentId: string): Promise<Record<string, number>> {
  const { results } = await env.DB.prepare("SELECT status, n FROM agent_task_counts WHERE agent_id = ?")
    .bind(agentId)
    .all<{ status: string; n: number }>();
  return Object.fromEntries(results.filter((r) => r.n !== 0).map((r) => [r.status, r.n]));
}
