/**
 * Publishes this agent's task counts by status and its task durations to D1, where triggers sum
 * every agent's figures into the totals `GET /metrics` reads (migrations/0008_metrics.sql).
 *
 * The figures themselves are exact and local: the schema's triggers update `task_status_counts`
 * and `task_durations` in the statement that changes a task. A task change writes nothing to D1;
 * it only makes sure a timer will publish, at most once per METRICS_ROLLUP_INTERVAL_SECONDS
 * (the first change after a quiet interval at once), from the alarm. A publish writes absolute
 * values, so one that is retried, or runs twice, changes nothing. A failed publish is retried
 * with exponential backoff (1 s … 5 min).
 */
import { warn } from "../../src/lib/log";
import { DURATION_COLUMNS } from "../../src/metrics/duration-buckets";
import type { Timers } from "../shared/timers";

export const ROLLUP_TIMER = "task-rollup";
const MAX_BACKOFF_MS = 5 * 60_000;

type CountRow = { status: string; n: number };
type DurationRow = { task_type: string; status: string; count: number; sum: number } & Record<string, SqlStorageValue>;

const UPSERT_COUNT = `INSERT INTO agent_task_counts (agent_id, status, n) VALUES (?, ?, ?)
  ON CONFLICT (agent_id, status) DO UPDATE SET n = excluded.n`;
const UPSERT_DURATIONS = `INSERT INTO agent_task_durations (agent_id, task_type, status, count, sum, ${DURATION_COLUMNS.join(", ")})
  VALUES (?, ?, ?, ?, ?, ${DURATION_COLUMNS.map(() => "?").join(", ")})
  ON CONFLICT (agent_id, task_type, status) DO UPDATE SET count = excluded.count, sum = excluded.sum,
    ${DURATION_COLUMNS.map((c) => `${c} = excluded.${c}`).join(", ")}`;

export class TaskRollup {
  readonly #storage: DurableObjectStorage;
  readonly #db: D1Database;
  readonly #timers: Timers;
  readonly #intervalMs: number;
  /** Whether the figures may differ from what D1 holds; undefined until read after a wake. */
  #pending: boolean | undefined;
  /** Whether the publish timer is set; undefined until read after a wake. */
  #armed: boolean | undefined;

  constructor(storage: DurableObjectStorage, db: D1Database, timers: Timers, intervalMs: number) {
    this.#storage = storage;
    this.#db = db;
    this.#timers = timers;
    this.#intervalMs = intervalMs;
  }

  get #sql(): SqlStorage {
    return this.#storage.sql;
  }

  /** A task was created or changed status (the triggers moved the figures); synchronous and free. */
  noteChange(): void {
    this.#pending = true;
  }

  /**
   * After task changes, and once at wake: makes sure the alarm will publish what changed. Free
   * while nothing changed or a publish is already due; otherwise a read and one timer write.
   */
  async schedule(nowMs: number): Promise<void> {
    if (this.#pending === false) return;
    this.#armed ??= this.#timers.dueAt(ROLLUP_TIMER) !== null;
    if (this.#armed) return;
    this.#pending ??= this.#unpublished();
    if (!this.#pending) return;
    const { attempted_at } = this.#sql.exec<{ attempted_at: number }>("SELECT attempted_at FROM task_rollup WHERE id = 1").one();
    await this.#timers.schedule(ROLLUP_TIMER, Math.max(nowMs, attempted_at + this.#intervalMs));
    this.#armed = true;
  }

  /** The alarm's share when the publish timer was due (it has been taken off the timers). */
  async run(nowMs: number): Promise<void> {
    this.#armed = false;
    const counts = this.#sql.exec<CountRow>("SELECT status, n FROM task_status_counts WHERE n != published").toArray();
    const durations = this.#sql.exec<DurationRow>("SELECT * FROM task_durations WHERE count != published_count").toArray();
    this.#pending = false;
    if (counts.length === 0 && durations.length === 0) return;
    const agentId = this.#sql.exec<{ agent_id: string }>("SELECT agent_id FROM tasks LIMIT 1").toArray()[0]?.agent_id;
    if (agentId === undefined) return;
    this.#sql.exec("UPDATE task_rollup SET attempted_at = ? WHERE id = 1", nowMs);
    try {
      const upsertCount = this.#db.prepare(UPSERT_COUNT);
      const upsertDurations = this.#db.prepare(UPSERT_DURATIONS);
      await this.#db.batch([
        ...counts.map((r) => upsertCount.bind(agentId, r.status, r.n)),
        ...durations.map((r) => upsertDurations.bind(agentId, r.task_type, r.status, r.count, r.sum, ...DURATION_COLUMNS.map((c) => r[c]))),
      ]);
    } catch (err) {
      const failures = this.#sql
        .exec<{ failures: number }>("UPDATE task_rollup SET failures = failures + 1 WHERE id = 1 RETURNING failures")
        .one().failures;
      const retryIn = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (failures - 1));
      warn({
        event: "metrics.rollup_failed",
        agent_id: agentId,
        attempt: failures,
        error: err instanceof Error ? err.message : String(err),
        retry_in_ms: retryIn,
      });
      this.#pending = true;
      await this.#timers.schedule(ROLLUP_TIMER, nowMs + retryIn);
      this.#armed = true;
      return;
    }
    // What D1 now holds is what was sent; a change made while the batch was in flight stays pending.
    this.#storage.transactionSync(() => {
      for (const r of counts) this.#sql.exec("UPDATE task_status_counts SET published = ? WHERE status = ?", r.n, r.status);
      for (const r of durations)
        this.#sql.exec("UPDATE task_durations SET published_count = ? WHERE task_type = ? AND status = ?", r.count, r.task_type, r.status);
      this.#sql.exec("UPDATE task_rollup SET failures = 0 WHERE id = 1");
    });
    this.#pending = undefined;
    await this.schedule(Date.now());
  }

  #unpublished(): boolean {
    return (
      this.#sql
        .exec<{ yes: number }>(
          `SELECT EXISTS (SELECT 1 FROM task_status_counts WHERE n != published)
             OR EXISTS (SELECT 1 FROM task_durations WHERE count != published_count) AS yes`,
        )
        .one().yes === 1
    );
  }
}
