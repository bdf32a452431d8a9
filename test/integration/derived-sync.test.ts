import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, json } from "../helpers/api";
import { indexRow, save } from "../helpers/state";

const AGENTS_DDL =
  "CREATE TABLE agents (agent_id TEXT PRIMARY KEY, agent_type TEXT NOT NULL, version INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, instances INTEGER NOT NULL DEFAULT 1)";

/** See the burst test: far above the 1 s throttle, far below the 19 s of copying one by one. */
const COALESCED_WITHIN_MS = 10_000;

function syncRow(agentId: string) {
  return runInDurableObject(env.AGENT.getByName(agentId), (_instance, state) =>
    state.storage.sql.exec<{ wanted_generation: number; synced_generation: number; failures: number }>("SELECT * FROM derived_sync").one(),
  );
}

describe("derived stores (KV snapshot, D1 index)", () => {
  it("follow every save and list agents through the index", async () => {
    await save("idx-b", { n: 1 }, {}, { agent_type: "worker" });
    await save("idx-a", { n: 1 });
    await save("idx-a", { n: 2 });
    // The second save lands within the one-copy-per-second throttle, so it is copied up to 1 s later.
    await expect.poll(async () => (await indexRow("idx-a"))?.version, { timeout: 10_000 }).toBe(2);
    await expect.poll(async () => (await indexRow("idx-b"))?.version).toBe(1);
    const snapshot = await env.STATE_SNAPSHOTS.getWithMetadata<{ version: number }>("agent_state:idx-a", "json");
    expect(snapshot.metadata).toEqual({ version: 2 });
    expect(snapshot.value).toMatchObject({ agent_id: "idx-a", version: 2, state_data: { n: 2 } });

    const list = await json<{
      agents: { agent_id: string; agent_type: string; version: number; instances: number }[];
      next_cursor: string | null;
    }>(await call("/api/v2/agents?limit=1"));
    expect(list.agents).toEqual([expect.objectContaining({ agent_id: "idx-a", agent_type: "analytics", version: 2, instances: 1 })]);
    const rest = await json<{ agents: { agent_id: string }[]; next_cursor: string | null }>(
      await call(`/api/v2/agents?cursor=${list.next_cursor}`),
    );
    expect(rest.agents.map((a) => a.agent_id)).toEqual(["idx-b"]);
    expect(rest.next_cursor).toBeNull();
    const workers = await json<{ agents: { agent_id: string }[] }>(await call("/api/v2/agents?agent_type=worker"));
    expect(workers.agents.map((a) => a.agent_id)).toEqual(["idx-b"]);
  }, 30_000);

  it("copy a burst of saves as the last version, at most once per second", async () => {
    for (let i = 1; i <= 20; i++) await save("burst", { i });
    // After the burst, a coalesced copy lands within one throttle interval (1 s); copied one by one
    // at one per second, version 20 would come 19 s later. COALESCED_WITHIN_MS sits in between,
    // with a wide margin for a busy machine.
    const burstDone = Date.now();
    await expect.poll(async () => (await indexRow("burst"))?.version, { timeout: COALESCED_WITHIN_MS, interval: 50 }).toBe(20);
    expect(Date.now() - burstDone).toBeLessThan(COALESCED_WITHIN_MS);
    const snapshot = await env.STATE_SNAPSHOTS.getWithMetadata<{ version: number }>("agent_state:burst", "json");
    expect(snapshot.metadata).toEqual({ version: 20 });
  }, 30_000);

  it("repair themselves from the alarm after a failed write", async () => {
    await save("repair", { n: 1 });
    await expect.poll(async () => (await indexRow("repair"))?.version).toBe(1);

    // Break the index: the next sync fails, is counted, and a retry is scheduled.
    await env.DB.exec("DROP TABLE agents");
    try {
      await save("repair", { n: 2 });
      await expect.poll(async () => (await syncRow("repair")).failures, { timeout: 10_000 }).toBeGreaterThan(0);
      const row = await syncRow("repair");
      expect(row.synced_generation).toBeLessThan(row.wanted_generation);
      const alarm = await runInDurableObject(env.AGENT.getByName("repair"), (_i, state) => state.storage.getAlarm());
      expect(alarm).not.toBeNull();
    } finally {
      await env.DB.exec(AGENTS_DDL);
    }

    // The alarm brings both derived stores to the current version. Run it now, unless its retry
    // (due a second after the failure) already ran on its own: nothing else copies, either way.
    await runDurableObjectAlarm(env.AGENT.getByName("repair"));
    expect((await indexRow("repair"))?.version).toBe(2);
    expect(await env.STATE_SNAPSHOTS.getWithMetadata("agent_state:repair")).toMatchObject({ metadata: { version: 2 } });
    const row = await syncRow("repair");
    expect(row).toMatchObject({ failures: 0, synced_generation: row.wanted_generation });
  }, 30_000);
});
