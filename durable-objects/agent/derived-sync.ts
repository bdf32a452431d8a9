/**
 * Keeps the derived stores (the KV snapshot and the D1 agents index) in line with the
 * Durable Object, which is the truth. Each mutation bumps `wanted_generation` in the same
 * transaction; a sync copies whatever is current (or deletes, after an erase) and records the
 * generation it copied. Several saves in a burst coalesce into one write, which also respects
 * KV's one-write-per-second-per-key limit. A failed write is retried from the alarm with
 * exponential backoff, and a backstop timer covers a process that dies mid-sync: the derived
 * stores can lag, but never silently stay behind.
 */
import { warn } from "../../src/lib/log";
import { snapshotKey, renderPersistentState } from "../../src/state/wire";
import { readCurrent } from "./state-store";
import type { Timers } from "../shared/timers";

export const SYNC_TIMER = "derived-sync";
/** If no sync finished by then (crash, eviction), the alarm runs one. */
const BACKSTOP_MS = 30_000;
const MAX_BACKOFF_MS = 5 * 60_000;
/**
 * At most one copy per second per agent: KV accepts one write per second per key, and a burst of
 * saves then costs one KV put and one D1 upsert instead of one each. The first save after a
 * quiet second is copied at once.
 */
export const MIN_COPY_INTERVAL_MS = 1000;

interface SyncRow {
  agent_id: string;
  wanted_generation: number;
  synced_generation: number;
  failures: number;
  [column: string]: SqlStorageValue;
}

export class DerivedSync {
  readonly #storage: DurableObjectStorage;
  readonly #env: Env;
  readonly #timers: Timers;
  #running: Promise<void> | null = null;
  #lastCopyAt = 0;
  /** Ends the throttle's wait early (a delete should not wait for the next copy slot). */
  #wake: (() => void) | null = null;
  /** Whether this instance already holds a backstop timer: saves in a burst arm it once. */
  #backstopArmed = false;

  constructor(storage: DurableObjectStorage, env: Env, timers: Timers) {
    this.#storage = storage;
    this.#env = env;
    this.#timers = timers;
  }

  /** Records that the derived stores must catch up; call inside the mutating transaction. */
  markDirty(agentId: string): void {
    this.#storage.sql.exec(
      `INSERT INTO derived_sync (id, agent_id, wanted_generation, synced_generation) VALUES (1, ?, 1, 0)
       ON CONFLICT (id) DO UPDATE SET wanted_generation = wanted_generation + 1, agent_id = excluded.agent_id`,
      agentId,
    );
  }

  async armBackstop(nowMs: number): Promise<void> {
    if (this.#backstopArmed) return;
    this.#backstopArmed = true;
    await this.#timers.schedule(SYNC_TIMER, nowMs + BACKSTOP_MS, true);
  }

  /**
   * Starts a sync unless one is running; resolves when the derived stores are current (or a retry
   * is scheduled). `urgent` skips the throttle's wait, e.g. for a delete.
   */
  run(urgent = false): Promise<void> {
    this.#running ??= this.#loop().finally(() => {
      this.#running = null;
    });
    if (urgent) {
      this.#lastCopyAt = 0;
      this.#wake?.();
    }
    return this.#running;
  }

  async #throttle(): Promise<boolean> {
    const wait = this.#lastCopyAt + MIN_COPY_INTERVAL_MS - Date.now();
    if (wait <= 0) return false;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, wait);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.#wake = null;
    return true;
  }

  #row(): SyncRow | null {
    return (
      this.#storage.sql
        .exec<SyncRow>("SELECT agent_id, wanted_generation, synced_generation, failures FROM derived_sync WHERE id = 1")
        .toArray()[0] ?? null
    );
  }

  async #loop(): Promise<void> {
    for (;;) {
      const row = this.#row();
      if (!row || row.synced_generation >= row.wanted_generation) {
        this.#timers.cancel(SYNC_TIMER);
        this.#backstopArmed = false;
        return;
      }
      // After waiting, re-read: the copy takes whatever is current by then.
      if (await this.#throttle()) continue;
      try {
        this.#lastCopyAt = Date.now();
        await this.#copy(row.agent_id);
      } catch (err) {
        const failures = row.failures + 1;
        const retryIn = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (failures - 1));
        this.#storage.sql.exec("UPDATE derived_sync SET failures = ? WHERE id = 1", failures);
        await this.#timers.schedule(SYNC_TIMER, Date.now() + retryIn);
        warn({
          event: "state.derived_sync_failed",
          agent_id: row.agent_id,
          attempt: failures,
          error: (err as Error).message,
          retry_in_ms: retryIn,
        });
        return;
      }
      this.#storage.sql.exec("UPDATE derived_sync SET synced_generation = ?, failures = 0 WHERE id = 1", row.wanted_generation);
    }
  }

  async #copy(agentId: string): Promise<void> {
    const current = readCurrent(this.#storage.sql);
    const { STATE_SNAPSHOTS: kv, DB: db } = this.#env;
    if (!current) {
      await Promise.all([kv.delete(snapshotKey(agentId)), db.prepare("DELETE FROM agents WHERE agent_id = ?").bind(agentId).run()]);
      return;
    }
    await Promise.all([
      kv.put(snapshotKey(agentId), renderPersistentState(current), { metadata: { version: current.version } }),
      db
        .prepare(
          `INSERT INTO agents (agent_id, agent_type, version, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (agent_id) DO UPDATE SET agent_type = excluded.agent_type, version = excluded.version,
             created_at = excluded.created_at, updated_at = excluded.updated_at`,
        )
        .bind(agentId, current.agent_type, current.version, current.created_at, current.updated_at)
        .run(),
    ]);
  }
}
