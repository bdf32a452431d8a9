/**
 * Keeps the derived stores (the KV snapshot and the D1 agents index) in line with the Durable
 * Object, which is the truth. When each copy is due is decided by derived-plan.ts; this class
 * writes what is due and records what each store now holds (its markers).
 *
 * A save writes nothing here: it only makes sure a timer will bring the copies up to date (a
 * read when one is already set), so an acknowledged save can never leave them behind for good,
 * even if the process dies right after the answer. Copies that are due at once (a new agent, a
 * type change, a delete, a snapshot after a quiet interval) run right after the answer; the rest
 * run from the alarm. A failed write is retried from the alarm with exponential backoff.
 */
import { warn } from "../../src/lib/log";
import type { CopyIntervals } from "../../src/state/model";
import { renderPersistentState, snapshotKey } from "../../src/state/wire";
import type { Timers } from "../shared/timers";
import { nextDue, planCopies, type CopyMarkers, type CopyPlan, type CopyStep } from "./derived-plan";
import { readCurrent, readMeta } from "./state-store";

export const SYNC_TIMER = "derived-sync";
/** If a copy that started at once has not finished by then (crash, eviction), the alarm runs it. */
const BACKSTOP_MS = 30_000;
const MAX_BACKOFF_MS = 5 * 60_000;

type SyncRow = CopyMarkers & { agent_id: string; [column: string]: SqlStorageValue };

export class DerivedSync {
  readonly #storage: DurableObjectStorage;
  readonly #env: Env;
  readonly #timers: Timers;
  /** The Worker's settings, as last passed with a write (the object's own env until then). */
  #intervals: CopyIntervals;
  #running: Promise<void> | null = null;
  /** Whether the running (or next) pass may retry a failed copy before its backoff ends. */
  #repair = false;

  constructor(storage: DurableObjectStorage, env: Env, timers: Timers, intervals: CopyIntervals) {
    this.#storage = storage;
    this.#env = env;
    this.#timers = timers;
    this.#intervals = intervals;
  }

  /** A new state begins (the agent's first save, or the first after a delete); call inside that transaction. */
  noteCreated(agentId: string): void {
    this.#storage.sql.exec("INSERT INTO derived_sync (id, agent_id) VALUES (1, ?) ON CONFLICT (id) DO NOTHING", agentId);
  }

  /** The state was erased; call inside that transaction. Both copies must now be deleted. */
  noteErased(agentId: string): void {
    this.#storage.sql.exec("INSERT INTO derived_sync (id, agent_id) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET life = life + 1", agentId);
  }

  /**
   * After a committed write (before answering): makes sure the alarm will run the copies that
   * are pending, and says whether one is due now (then call `run`). `repair` lets a delete try at
   * once even while a failed copy waits for its retry.
   */
  async schedule(intervals?: CopyIntervals, repair = false): Promise<boolean> {
    if (intervals) this.#intervals = intervals;
    const next = nextDue(this.#plan(repair));
    if (next === null) return false;
    const now = Date.now();
    const timerAt = next <= now ? now + BACKSTOP_MS : next;
    const armed = this.#timers.dueAt(SYNC_TIMER);
    if (armed === null || armed > timerAt) await this.#timers.schedule(SYNC_TIMER, timerAt);
    return next <= now;
  }

  /**
   * Writes the copies that are due, until none is; resolves when both stores are current, or the
   * rest is left to the alarm (not yet due, or a retry after a failure). With `repair`, a failed
   * copy is retried without waiting for its backoff.
   */
  run(repair = false): Promise<void> {
    this.#repair ||= repair;
    this.#running ??= this.#loop().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  #row(): SyncRow | null {
    return this.#storage.sql.exec<SyncRow>("SELECT * FROM derived_sync WHERE id = 1").toArray()[0] ?? null;
  }

  #plan(repair: boolean, row = this.#row()): CopyPlan {
    if (!row) return { snapshot: null, index: null };
    const meta = readMeta(this.#storage.sql);
    return planCopies(row, meta && { version: meta.version, agentType: meta.agent_type }, this.#intervals, repair);
  }

  async #loop(): Promise<void> {
    for (;;) {
      const repair = this.#repair;
      this.#repair = false;
      const row = this.#row();
      const plan = this.#plan(repair, row);
      const now = Date.now();
      const snapshot = plan.snapshot && plan.snapshot.dueAt <= now ? plan.snapshot : null;
      const index = plan.index && plan.index.dueAt <= now ? plan.index : null;
      if (!row || (!snapshot && !index)) {
        await this.#armTimer(nextDue(plan));
        return;
      }
      // Read what to copy before the first await, so both copies and the markers agree.
      const current = readCurrent(this.#storage.sql);
      const armed = this.#timers.dueAt(SYNC_TIMER);
      if (armed === null || armed > now + BACKSTOP_MS) await this.#timers.schedule(SYNC_TIMER, now + BACKSTOP_MS);
      const [kv, d1] = await Promise.allSettled([
        this.#writeSnapshot(row.agent_id, snapshot, current),
        this.#writeIndex(row.agent_id, index, current),
      ]);
      const failed = [kv, d1].filter((r): r is PromiseRejectedResult => r.status === "rejected");
      const held = { life: row.life, version: current?.version ?? null };
      const marks: CopyMarkers = {
        ...row,
        ...(snapshot && { snapshot_at: now }),
        ...(snapshot && kv.status === "fulfilled" && { snapshot_life: held.life, snapshot_version: held.version }),
        ...(index && { index_at: now }),
        ...(index &&
          d1.status === "fulfilled" && { index_life: held.life, index_version: held.version, index_type: current?.agent_type ?? null }),
        failures: failed.length > 0 ? row.failures + 1 : 0,
        retry_at: 0,
      };
      if (failed.length > 0) {
        const retryIn = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (marks.failures - 1));
        marks.retry_at = now + retryIn;
        this.#saveMarkers(marks);
        await this.#armTimer(marks.retry_at);
        warn({
          event: "state.derived_sync_failed",
          agent_id: row.agent_id,
          attempt: marks.failures,
          error: failed.map((r) => (r.reason instanceof Error ? r.reason.message : String(r.reason))).join("; "),
          retry_in_ms: retryIn,
        });
        return;
      }
      this.#saveMarkers(marks);
    }
  }

  /** Points the sync timer at `at` (null: none pending), writing only when that changes it. */
  async #armTimer(at: number | null): Promise<void> {
    const armed = this.#timers.dueAt(SYNC_TIMER);
    if (at === null) {
      if (armed !== null) this.#timers.cancel(SYNC_TIMER);
    } else if (armed !== at) {
      await this.#timers.schedule(SYNC_TIMER, at);
    }
  }

  #saveMarkers(m: CopyMarkers): void {
    this.#storage.sql.exec(
      `UPDATE derived_sync SET snapshot_life = ?, snapshot_version = ?, snapshot_at = ?, index_life = ?, index_version = ?,
         index_type = ?, index_at = ?, failures = ?, retry_at = ? WHERE id = 1`,
      m.snapshot_life,
      m.snapshot_version,
      m.snapshot_at,
      m.index_life,
      m.index_version,
      m.index_type,
      m.index_at,
      m.failures,
      m.retry_at,
    );
  }

  async #writeSnapshot(agentId: string, step: CopyStep | null, current: ReturnType<typeof readCurrent>): Promise<void> {
    if (!step) return;
    const kv = this.#env.STATE_SNAPSHOTS;
    if (step.action === "delete" || !current) await kv.delete(snapshotKey(agentId));
    else await kv.put(snapshotKey(agentId), renderPersistentState(current), { metadata: { version: current.version } });
  }

  async #writeIndex(agentId: string, step: CopyStep | null, current: ReturnType<typeof readCurrent>): Promise<void> {
    if (!step) return;
    const db = this.#env.DB;
    if (step.action === "delete" || !current) {
      await db.prepare("DELETE FROM agents WHERE agent_id = ?").bind(agentId).run();
      return;
    }
    await db
      .prepare(
        `INSERT INTO agents (agent_id, agent_type, version, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (agent_id) DO UPDATE SET agent_type = excluded.agent_type, version = excluded.version,
           created_at = excluded.created_at, updated_at = excluded.updated_at`,
      )
      .bind(agentId, current.agent_type, current.version, current.created_at, current.updated_at)
      .run();
  }
}
