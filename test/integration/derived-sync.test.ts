/**
 * The derived copies of agent state (docs/state.md#derived-copies): the KV snapshot behind
 * `?consistency=eventual` and the D1 row behind GET /api/v2/agents follow each agent's Durable
 * Object, at a cost per save that is counted here, not guessed: every KV put and every row the
 * D1 `agents` table takes is recorded (the Durable Objects share these bindings with the test).
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { call, json } from "../helpers/api";
import { indexRow, save, saveWith } from "../helpers/state";

const AGENTS_DDL =
  "CREATE TABLE agents (agent_id TEXT PRIMARY KEY, agent_type TEXT NOT NULL, version INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, instances INTEGER NOT NULL DEFAULT 1)";

/** Intervals short enough to watch them pass (whole seconds, as they are configured). */
const QUICK = { STATE_SNAPSHOT_INTERVAL_SECONDS: "1", AGENT_INDEX_REFRESH_SECONDS: "1" };

/** Every row written to D1's `agents` (insert, update, delete), recorded by triggers. */
async function recordIndexWrites(): Promise<void> {
  await env.DB.prepare("CREATE TABLE IF NOT EXISTS agents_writes (agent_id TEXT NOT NULL, op TEXT NOT NULL)").run();
  for (const [op, row] of [
    ["INSERT", "NEW"],
    ["UPDATE", "NEW"],
    ["DELETE", "OLD"],
  ] as const) {
    await env.DB.prepare(
      `CREATE TRIGGER IF NOT EXISTS agents_${op.toLowerCase()}_recorded AFTER ${op} ON agents
       BEGIN INSERT INTO agents_writes (agent_id, op) VALUES (${row}.agent_id, '${op}'); END`,
    ).run();
  }
}

async function indexWrites(agentId: string): Promise<number> {
  return (await env.DB.prepare("SELECT count(*) AS n FROM agents_writes WHERE agent_id = ?").bind(agentId).first<{ n: number }>())!.n;
}

function countSnapshotPuts() {
  const put = vi.spyOn(env.STATE_SNAPSHOTS, "put");
  return (agentId: string) => put.mock.calls.filter(([key]) => key === `agent_state:${agentId}`).length;
}

async function snapshotVersion(agentId: string): Promise<number | undefined> {
  return (await env.STATE_SNAPSHOTS.getWithMetadata<{ version: number }>(`agent_state:${agentId}`)).metadata?.version;
}

/** Whether both copies show `version`, what the agent's Durable Object holds after its last save. */
async function copiesShow(agentId: string, version: number): Promise<boolean> {
  return (await indexRow(agentId))?.version === version && (await snapshotVersion(agentId)) === version;
}

function syncRow(agentId: string) {
  return runInDurableObject(env.AGENT.getByName(agentId), (_instance, state) =>
    state.storage.sql.exec<{ failures: number; retry_at: number; index_version: number | null }>("SELECT * FROM derived_sync").one(),
  );
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(recordIndexWrites);
afterEach(() => {
  vi.restoreAllMocks();
});

describe("derived copies of a new agent", () => {
  it("are written at once: its index row (so the list shows it) and its snapshot", async () => {
    const puts = countSnapshotPuts();
    // Default settings: a 10 s snapshot interval and a 300 s index refresh do not delay a first save.
    expect((await save("fresh", { n: 1 }, {}, { agent_type: "worker" })).status).toBe(200);
    await expect.poll(() => indexRow("fresh")).toEqual({ agent_id: "fresh", agent_type: "worker", version: 1 });
    await expect.poll(() => snapshotVersion("fresh")).toBe(1);
    const list = await json<{ agents: { agent_id: string }[] }>(await call("/api/v2/agents?limit=100"));
    expect(list.agents.map((a) => a.agent_id)).toContain("fresh");
    expect(await indexWrites("fresh")).toBe(1);
    expect(puts("fresh")).toBe(1);
  });
});

describe("derived copies of an existing agent", () => {
  it("saving once a second with the default settings: at most 0.2 KV writes and no D1 write per save", async () => {
    await save("paced", { n: 0 });
    await expect.poll(() => copiesShow("paced", 1)).toBe(true);
    const puts = countSnapshotPuts();
    const d1Before = await indexWrites("paced");

    const SAVES = 15;
    const started = Date.now();
    for (let n = 1; n <= SAVES; n++) {
      expect((await save("paced", { n })).status).toBe(200);
      if (n < SAVES) await pause(Math.max(0, started + n * 1000 - Date.now()));
    }
    // The last version reaches KV within the 10 s interval, from the alarm.
    await expect.poll(() => snapshotVersion("paced"), { timeout: 15_000 }).toBe(SAVES + 1);
    expect(puts("paced") / SAVES).toBeLessThanOrEqual(0.2);
    expect(((await indexWrites("paced")) - d1Before) / SAVES).toBe(0);
  }, 60_000);

  it("cost at most 0.2 KV writes and 0.01 D1 writes per save, counted over sixty saves", async () => {
    // The defaults scaled by ten: an agent saving once a second with the default 10 s snapshot
    // interval makes as many KV writes per save as one saving ten times a second with 1 s. The
    // index refresh keeps its default (300 s): an existing agent's saves write nothing to D1.
    const settings = { STATE_SNAPSHOT_INTERVAL_SECONDS: "1" };
    await saveWith(settings, "steady", { n: 0 });
    await expect.poll(() => copiesShow("steady", 1)).toBe(true);
    const puts = countSnapshotPuts();
    const d1Before = await indexWrites("steady");

    const SAVES = 60;
    const started = Date.now();
    for (let n = 1; n <= SAVES; n++) {
      expect((await saveWith(settings, "steady", { n })).status).toBe(200);
      await pause(Math.max(0, started + n * 100 - Date.now())); // ten saves a second
    }
    const elapsedS = (Date.now() - started) / 1000;
    // The last version reaches KV within one interval (from the alarm), in one more write.
    await expect.poll(() => snapshotVersion("steady")).toBe(SAVES + 1);

    const kvPerSave = puts("steady") / SAVES;
    const d1PerSave = ((await indexWrites("steady")) - d1Before) / SAVES;
    // One write per elapsed interval at most (plus the one after the last save), whatever the pace.
    expect(puts("steady")).toBeLessThanOrEqual(Math.ceil(elapsedS) + 1);
    expect(kvPerSave).toBeLessThanOrEqual(0.2);
    expect(d1PerSave).toBeLessThanOrEqual(0.01);
    expect(d1PerSave).toBe(0);
    // The list still shows the latest version: it reads it from the agent's Durable Object.
    const list = await json<{ agents: { agent_id: string; version: number }[] }>(await call("/api/v2/agents?limit=100"));
    expect(list.agents.find((a) => a.agent_id === "steady")?.version).toBe(SAVES + 1);
  }, 60_000);

  it("refresh the index row's version once per refresh interval, and not at all when nothing changed", async () => {
    await saveWith(QUICK, "refresh", { n: 1 });
    await expect.poll(() => copiesShow("refresh", 1)).toBe(true);
    const before = await indexWrites("refresh");
    const started = Date.now();
    for (let n = 2; n <= 6; n++) await saveWith(QUICK, "refresh", { n });
    const elapsedS = (Date.now() - started) / 1000;
    await expect.poll(async () => (await indexRow("refresh"))?.version).toBe(6);
    const refreshes = (await indexWrites("refresh")) - before;
    expect(refreshes).toBeGreaterThanOrEqual(1);
    expect(refreshes).toBeLessThanOrEqual(Math.ceil(elapsedS) + 1);
    expect(refreshes).toBeLessThan(5);
    // Three quiet intervals: nothing changed, so nothing is written.
    const settled = await indexWrites("refresh");
    await pause(3000);
    expect(await indexWrites("refresh")).toBe(settled);
  }, 30_000);

  it("write the index row at once when the agent changes type", async () => {
    // Default settings: waiting for the refresh would take 300 s.
    await save("retyped", { n: 1 });
    await expect.poll(() => copiesShow("retyped", 1)).toBe(true);
    await save("retyped", { n: 2 }, {}, { agent_type: "email" });
    await expect.poll(() => indexRow("retyped")).toEqual({ agent_id: "retyped", agent_type: "email", version: 2 });
    const emails = await json<{ agents: { agent_id: string }[] }>(await call("/api/v2/agents?agent_type=email"));
    expect(emails.agents.map((a) => a.agent_id)).toEqual(["retyped"]);
  });

  it("copy a burst of saves as its last version, not one by one", async () => {
    const puts = countSnapshotPuts();
    const started = Date.now();
    for (let i = 1; i <= 20; i++) await saveWith(QUICK, "burst", { i });
    const elapsedS = (Date.now() - started) / 1000;
    await expect.poll(() => snapshotVersion("burst")).toBe(20);
    await expect.poll(async () => (await indexRow("burst"))?.version).toBe(20);
    expect(puts("burst")).toBeLessThanOrEqual(Math.ceil(elapsedS) + 2);
    expect(puts("burst")).toBeLessThan(20);
  });
});

describe("GET /api/v2/agents", () => {
  it("shows each agent's live version and updated_at while its index row lags, pages by cursor and filters by type", async () => {
    await save("idx-b", { n: 1 }, {}, { agent_type: "worker" });
    for (let n = 1; n <= 3; n++) await save("idx-a", { n });
    await expect.poll(async () => (await indexRow("idx-b"))?.version).toBe(1);
    // With the default 300 s refresh the index row of idx-a still says version 1.
    expect((await indexRow("idx-a"))?.version).toBe(1);
    const state = await json<{ version: number; updated_at: string }>(await call("/api/v2/agents/idx-a/state"));

    const list = await json<{
      agents: { agent_id: string; agent_type: string; version: number; updated_at: string; instances: number }[];
      next_cursor: string | null;
    }>(await call("/api/v2/agents?limit=1&cursor=idx-"));
    expect(list.agents).toEqual([{ agent_id: "idx-a", agent_type: "analytics", version: 3, updated_at: state.updated_at, instances: 1 }]);
    const rest = await json<{ agents: { agent_id: string }[]; next_cursor: string | null }>(
      await call(`/api/v2/agents?limit=1&cursor=${list.next_cursor}`),
    );
    expect(rest.agents.map((a) => a.agent_id)).toEqual(["idx-b"]);
    const workers = await json<{ agents: { agent_id: string }[] }>(await call("/api/v2/agents?agent_type=worker&cursor=idx-"));
    expect(workers.agents.map((a) => a.agent_id)).toEqual(["idx-b"]);
  });

  it("leaves out an index row whose agent has no state (a delete whose cleanup has not landed yet)", async () => {
    await env.DB.prepare(
      "INSERT INTO agents (agent_id, agent_type, version, created_at, updated_at) VALUES ('orphan', 'worker', 7, 1, 1)",
    ).run();
    const list = await json<{ agents: { agent_id: string }[] }>(await call("/api/v2/agents?limit=100"));
    expect(list.agents.map((a) => a.agent_id)).not.toContain("orphan");
  });
});

describe("after a failed write", () => {
  it("the copies repair themselves from the alarm", async () => {
    await save("repair", { n: 1 });
    await expect.poll(() => copiesShow("repair", 1)).toBe(true);

    // Break the index, then change the type: that index write is due at once, fails, is counted,
    // and a retry is scheduled.
    await env.DB.exec("DROP TABLE agents");
    try {
      await save("repair", { n: 2 }, {}, { agent_type: "webrtc" });
      await expect.poll(async () => (await syncRow("repair")).failures).toBeGreaterThan(0);
      expect((await syncRow("repair")).index_version).toBe(1);
      const alarm = await runInDurableObject(env.AGENT.getByName("repair"), (_i, state) => state.storage.getAlarm());
      expect(alarm).not.toBeNull();
    } finally {
      await env.DB.exec(AGENTS_DDL);
      await recordIndexWrites();
    }

    // The alarm brings the index to the current version and type. Run it now, unless its retry
    // (due a second after the failure) already ran on its own: nothing else copies, either way.
    await runDurableObjectAlarm(env.AGENT.getByName("repair"));
    expect(await indexRow("repair")).toEqual({ agent_id: "repair", agent_type: "webrtc", version: 2 });
    expect(await syncRow("repair")).toMatchObject({ failures: 0, retry_at: 0, index_version: 2 });
  });
});
