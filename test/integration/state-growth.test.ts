/**
 * Growth (docs/state.md#growth): a save and a load do the same work for an agent with 10,000
 * saves behind it as for a young one, because every query they run is a search on a key or an
 * index that touches a bounded number of rows; and the agent list pages by a keyset on an index,
 * so a page reads the same rows wherever it starts, at 100,000 agents.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { AgentDO } from "../../durable-objects/agent";
import { call, mintToken } from "../helpers/api";

const INTERVALS = { snapshotMs: 10_000, indexRefreshMs: 300_000 };
const HISTORY_LIMIT = 100;

interface Traced {
  query: string;
  bindings: unknown[];
  rowsRead: number;
  rowsWritten: number;
}

afterEach(() => {
  vi.restoreAllMocks();
});

/**
 * Runs `fn` inside the agent's Durable Object and records every SQL statement it runs, with the
 * rows each read and wrote (the counts Cloudflare bills). Spies on the SqlStorage prototype, as
 * the object reaches its database through `ctx.storage.sql` afresh in each call.
 */
function traced(agentId: string, fn: (instance: AgentDO) => unknown): Promise<{ queries: Traced[]; plans: Record<string, string[]> }> {
  return runInDurableObject(env.AGENT.getByName(agentId), async (instance: AgentDO, state) => {
    const sql = state.storage.sql;
    const proto = Object.getPrototypeOf(sql) as SqlStorage;
    const exec = proto.exec;
    const seen: { query: string; bindings: unknown[]; cursor: SqlStorageCursor<Record<string, SqlStorageValue>> }[] = [];
    const spy = vi.spyOn(proto, "exec").mockImplementation(function (this: SqlStorage, query: string, ...bindings: unknown[]) {
      const cursor = exec.call(this, query, ...bindings);
      seen.push({ query, bindings, cursor });
      return cursor;
    });
    try {
      await fn(instance);
    } finally {
      spy.mockRestore();
    }
    const queries = seen.map(({ query, bindings, cursor }) => ({
      query,
      bindings,
      rowsRead: cursor.rowsRead,
      rowsWritten: cursor.rowsWritten,
    }));
    const plans: Record<string, string[]> = {};
    for (const { query, bindings } of queries) {
      plans[query] ??= sql
        .exec<{ detail: string }>(`EXPLAIN QUERY PLAN ${query}`, ...bindings)
        .toArray()
        .map((r) => r.detail);
    }
    return { queries, plans };
  });
}

function saveInput(agentId: string, n: number) {
  return {
    agentId,
    stateJson: JSON.stringify({ n, payload: "x".repeat(200) }),
    nowMs: Date.now(),
    historyLimit: HISTORY_LIMIT,
    copyIntervals: INTERVALS,
  };
}

/** Saves `count` versions straight into the agent's Durable Object. */
async function saveMany(agentId: string, count: number): Promise<void> {
  await runInDurableObject(env.AGENT.getByName(agentId), async (instance: AgentDO) => {
    for (let n = 1; n <= count; n++) {
      const result = await instance.saveState(saveInput(agentId, n));
      if (!result.ok) throw new Error(`save ${n} refused: ${result.reason}`);
    }
  });
}

/** One save and one load, with what they cost. */
async function saveAndLoad(agentId: string) {
  return traced(agentId, async (instance) => {
    const next = ((await instance.getState())?.version ?? 0) + 1;
    expect((await instance.saveState(saveInput(agentId, next))).ok).toBe(true);
    expect(instance.getState()?.version).toBe(next);
  });
}

const total = (queries: Traced[], key: "rowsRead" | "rowsWritten") => queries.reduce((sum, q) => sum + q[key], 0);

describe("an agent's saves and loads", () => {
  it("run only searches on a key or an index: no query scans a table", async () => {
    await saveMany("plan-agent", 150);
    const { queries, plans } = await saveAndLoad("plan-agent");
    expect(queries.length).toBeGreaterThan(0);
    // The statements the save path is known to run are among them, so the check covers them.
    expect(queries.map((q) => q.query)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^DELETE FROM state_versions WHERE version <= \?/),
        expect.stringMatching(/JOIN state_versions/),
      ]),
    );
    for (const [query, plan] of Object.entries(plans)) {
      for (const step of plan) expect(step, query).not.toMatch(/^SCAN|TEMP B-TREE/);
    }
    // The pruning delete and the current-version join go through the version key.
    const prune = Object.entries(plans).find(([q]) => q.startsWith("DELETE FROM state_versions"))![1];
    expect(prune).toEqual([expect.stringMatching(/^SEARCH state_versions USING INTEGER PRIMARY KEY/)]);
    const current = Object.entries(plans).find(([q]) => q.includes("JOIN state_versions"))![1];
    expect(current).toEqual([
      expect.stringMatching(/^SEARCH m USING INTEGER PRIMARY KEY/),
      expect.stringMatching(/^SEARCH v USING INTEGER PRIMARY KEY/),
    ]);
  });

  it("cost the same for an agent with 10,000 saves behind it as for a young one", async () => {
    await saveMany("young", HISTORY_LIMIT + 50);
    await saveMany("old", 10_000);
    const young = await saveAndLoad("young");
    const old = await saveAndLoad("old");
    expect(old.queries.map((q) => q.query)).toEqual(young.queries.map((q) => q.query));
    expect(total(old.queries, "rowsRead")).toBe(total(young.queries, "rowsRead"));
    expect(total(old.queries, "rowsWritten")).toBe(total(young.queries, "rowsWritten"));
    // A save in steady state writes its version, the current pointer and the pruned version:
    // nothing per save for the derived copies (their timer is already set).
    expect(total(old.queries, "rowsWritten")).toBeLessThanOrEqual(3);
    const history = await runInDurableObject(env.AGENT.getByName("old"), (_i, state) =>
      state.storage.sql.exec<{ n: number; newest: number }>("SELECT count(*) AS n, max(version) AS newest FROM state_versions").one(),
    );
    expect(history).toEqual({ n: HISTORY_LIMIT, newest: 10_001 });
  }, 120_000);
});

describe("the agent list", () => {
  /** The SQL (and bound values) GET /api/v2/agents sends to D1, for each request given. */
  async function listQueries(requests: { path: string; token?: string }[]) {
    const seen: { query: string; values: unknown[] }[] = [];
    const prepare = env.DB.prepare.bind(env.DB);
    vi.spyOn(env.DB, "prepare").mockImplementation((query: string) => {
      const statement = prepare(query);
      const bind = statement.bind.bind(statement);
      statement.bind = (...values: unknown[]) => {
        seen.push({ query, values });
        return bind(...values);
      };
      return statement;
    });
    for (const { path, token } of requests) expect((await call(path, token ? { token } : {})).status).toBe(200);
    vi.restoreAllMocks();
    return seen.filter((s) => /\bFROM agents\b/.test(s.query));
  }

  it("pages by a keyset on an index: a page reads the same rows at the start and at the end of 100,000 agents", async () => {
    await env.DB.prepare(
      `INSERT INTO agents (agent_id, agent_type, version, created_at, updated_at)
       WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
       SELECT printf('g-%06d', i), CASE i % 2 WHEN 0 THEN 'worker' ELSE 'analytics' END, 1, 0, 0 FROM n`,
    ).run();
    const token = await mintToken({ role: "guest", agents: ["g-000001", "g-050000", "g-099999"] });
    const queries = await listQueries([
      { path: "/api/v2/agents?limit=100" },
      { path: "/api/v2/agents?limit=100&agent_type=worker" },
      { path: "/api/v2/agents?limit=100", token },
    ]);
    expect(queries).toHaveLength(3);
    for (const { query, values } of queries) {
      const plan = (
        await env.DB.prepare(`EXPLAIN QUERY PLAN ${query}`)
          .bind(...values)
          .all<{ detail: string }>()
      ).results.map((r) => r.detail);
      // Never a scan of the agents table, never a sort of everything that matched.
      expect(
        plan.filter((d) => /agents/.test(d)),
        query,
      ).toEqual([expect.stringMatching(/^SEARCH agents USING (COVERING )?INDEX .*agent_id/)]);
      expect(plan.join("\n"), query).not.toMatch(/SCAN agents|TEMP B-TREE/);
      // The cursor is the first value: the same page size reads the same rows wherever it starts.
      const read = async (cursor: string) =>
        (
          await env.DB.prepare(query)
            .bind(cursor, ...values.slice(1))
            .all()
        ).meta.rows_read;
      const first = await read("");
      expect(first).toBeLessThanOrEqual(202);
      expect(await read("g-050000")).toBe(first);
      expect(await read("g-099000")).toBe(first);
    }
  }, 60_000);
});
