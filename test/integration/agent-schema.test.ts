import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { planCopies, type CopyMarkers } from "../../durable-objects/agent/derived-plan";
import { AGENT_MIGRATIONS } from "../../durable-objects/agent/schema";
import { migrate } from "../../durable-objects/shared/migrate";

describe("AgentDO schema migrations", () => {
  it("record the schema version in their own table and run once", async () => {
    const stub = env.AGENT.getByName("schema-check");
    await runInDurableObject(stub, (_instance, state) => {
      const sql = state.storage.sql;
      const latest = AGENT_MIGRATIONS[AGENT_MIGRATIONS.length - 1]!.version;
      expect(sql.exec<{ version: number }>("SELECT version FROM _schema").one().version).toBe(latest);
      // Running again at wake is a no-op: no DDL fails on existing tables.
      expect(migrate(state.storage, AGENT_MIGRATIONS)).toBe(latest);
      const tables = sql
        .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .toArray()
        .map((r) => r.name);
      expect(tables).toEqual(expect.arrayContaining(["_schema", "state_meta", "state_versions", "derived_sync", "timers"]));
    });
  });

  it("apply only the migrations newer than the stored version, in order, atomically", async () => {
    const stub = env.AGENT.getByName("schema-upgrade");
    await runInDurableObject(stub, (_instance, state) => {
      const sql = state.storage.sql;
      const next = [
        ...AGENT_MIGRATIONS,
        { version: 100, name: "add a column", sql: "ALTER TABLE state_meta ADD COLUMN note TEXT" },
        { version: 101, name: "an index", sql: "CREATE INDEX state_versions_saved ON state_versions (saved_at)" },
      ];
      expect(migrate(state.storage, next)).toBe(101);
      expect(sql.exec("SELECT note FROM state_meta").columnNames).toEqual(["note"]);
      const broken = [...next, { version: 102, name: "fails", sql: "CREATE TABLE ok_table (x); THIS IS NOT SQL" }];
      expect(() => migrate(state.storage, broken)).toThrow();
      expect(sql.exec<{ version: number }>("SELECT version FROM _schema").one().version).toBe(101);
      expect(sql.exec("SELECT name FROM sqlite_master WHERE name = 'ok_table'").toArray()).toEqual([]);
    });
  });

  it("v5 rebuilds task_events WITHOUT ROWID and keeps every stored event", async () => {
    const stub = env.AGENT.getByName("schema-v5");
    await runInDurableObject(stub, (_instance, state) => {
      const sql = state.storage.sql;
      // Back to a v4 database: drop everything, then migrate up to 4 only.
      for (const { name } of sql
        .exec<{ name: string }>(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'",
        )
        .toArray()) {
        sql.exec(`DROP TABLE "${name}"`);
      }
      expect(
        migrate(
          state.storage,
          AGENT_MIGRATIONS.filter((m) => m.version <= 4),
        ),
      ).toBe(4);
      sql.exec(
        "INSERT INTO task_events (task_id, seq, type, status, progress, message, at) VALUES ('t1', 1, 'status', 'pending', 0, NULL, 10), ('t1', 2, 'progress', 'running', 50, 'half', 20)",
      );
      expect(migrate(state.storage, AGENT_MIGRATIONS)).toBe(AGENT_MIGRATIONS.at(-1)!.version);
      expect(sql.exec("SELECT task_id, seq, type, status, progress, message, at FROM task_events ORDER BY seq").toArray()).toEqual([
        { task_id: "t1", seq: 1, type: "status", status: "pending", progress: 0, message: null, at: 10 },
        { task_id: "t1", seq: 2, type: "progress", status: "running", progress: 50, message: "half", at: 20 },
      ]);
      expect(sql.exec<{ sql: string }>("SELECT sql FROM sqlite_master WHERE name = 'task_events'").one().sql).toMatch(/WITHOUT ROWID/);
      // Still one row per (task, seq).
      expect(() =>
        sql.exec("INSERT INTO task_events (task_id, seq, type, status, progress, message, at) VALUES ('t1', 2, 'status', 'x', 0, NULL, 0)"),
      ).toThrow();
    });
  });
  it("v10 keeps a gated task's approval for the view, marks its stored events waiting, and writes an event when the gate opens", async () => {
    const stub = env.AGENT.getByName("schema-v10");
    await runInDurableObject(stub, (_instance, state) => {
      const sql = state.storage.sql;
      for (const { name } of sql
        .exec<{ name: string }>(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'",
        )
        .toArray()) {
        sql.exec(`DROP TABLE "${name}"`);
      }
      expect(
        migrate(
          state.storage,
          AGENT_MIGRATIONS.filter((m) => m.version <= 9),
        ),
      ).toBe(9);
      const insert = (id: string, approval: string | null) =>
        sql.exec(
          `INSERT INTO tasks (task_id, agent_id, task_type, status, progress, created_at, metadata, max_attempts, timeout_seconds, last_activity_at, approval_id, executor)
           VALUES (?, 'a', 'x', 'pending', 0, 10, '{}', 1, 60, 10, ?, 'external')`,
          id,
          approval,
        );
      insert("gated", "approval_1");
      insert("plain", null);
      expect(migrate(state.storage, AGENT_MIGRATIONS)).toBe(AGENT_MIGRATIONS.at(-1)!.version);
      const rows = sql
        .exec<{ task_id: string; gate_approval_id: string | null }>("SELECT task_id, gate_approval_id FROM tasks ORDER BY task_id")
        .toArray();
      expect(rows).toEqual([
        { task_id: "gated", gate_approval_id: "approval_1" },
        { task_id: "plain", gate_approval_id: null },
      ]);
      const waiting = () =>
        sql
          .exec<{ task_id: string; seq: number; type: string; waiting_for_approval: number }>(
            "SELECT task_id, seq, type, waiting_for_approval FROM task_events ORDER BY task_id, seq",
          )
          .toArray();
      expect(waiting()).toEqual([
        { task_id: "gated", seq: 1, type: "status", waiting_for_approval: 1 },
        { task_id: "plain", seq: 1, type: "status", waiting_for_approval: 0 },
      ]);
      // The gate opens: one `approval` event, no longer waiting; the view keeps the approval.
      sql.exec("UPDATE tasks SET approval_id = NULL, last_activity_at = 20 WHERE task_id = 'gated'");
      expect(
        waiting()
          .filter((e) => e.task_id === "gated")
          .at(-1),
      ).toEqual({ task_id: "gated", seq: 2, type: "approval", waiting_for_approval: 0 });
      expect(
        sql.exec<{ gate_approval_id: string }>("SELECT gate_approval_id FROM tasks WHERE task_id = 'gated'").one().gate_approval_id,
      ).toBe("approval_1");
    });
  });
  it("v11 turns the derived-copy generations into markers: copies that were current stay current, a pending one is copied again", async () => {
    /** A v10 database holding version 4 of an agent, its copies at `synced` of 7 generations. */
    const upgraded = (name: string, synced: number) =>
      runInDurableObject(env.AGENT.getByName(name), (_instance, state) => {
        const sql = state.storage.sql;
        for (const { name: table } of sql
          .exec<{ name: string }>(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'",
          )
          .toArray()) {
          sql.exec(`DROP TABLE "${table}"`);
        }
        migrate(
          state.storage,
          AGENT_MIGRATIONS.filter((m) => m.version <= 10),
        );
        sql.exec(
          "INSERT INTO state_meta (id, agent_id, agent_type, version, created_at, updated_at) VALUES (1, ?, 'worker', 4, 10, 40)",
          name,
        );
        sql.exec(
          "INSERT INTO derived_sync (id, agent_id, wanted_generation, synced_generation, failures) VALUES (1, ?, 7, ?, 0)",
          name,
          synced,
        );
        migrate(state.storage, AGENT_MIGRATIONS);
        const markers = sql.exec<CopyMarkers & { agent_id: string; [k: string]: SqlStorageValue }>("SELECT * FROM derived_sync").one();
        return {
          markers,
          plan: planCopies(markers, { version: 4, agentType: "worker" }, { snapshotMs: 10_000, indexRefreshMs: 300_000 }, false),
        };
      });
    const current = await upgraded("schema-v11-current", 7);
    expect(current.markers).toMatchObject({
      agent_id: "schema-v11-current",
      life: 0,
      snapshot_version: 4,
      index_version: 4,
      index_type: "worker",
    });
    expect(current.plan).toEqual({ snapshot: null, index: null });
    const pending = await upgraded("schema-v11-pending", 6);
    expect(pending.markers).toMatchObject({
      agent_id: "schema-v11-pending",
      life: 0,
      snapshot_version: null,
      index_version: null,
      index_type: null,
    });
    expect(pending.plan.index).toEqual({ action: "put", dueAt: 0 });
    expect(pending.plan.snapshot?.action).toBe("put");
  });
});
