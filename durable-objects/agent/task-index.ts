/**
 * D1's `task_index` (task id → agent), written by the agent's Durable Object with group commit:
 * a create waits until its row is in D1 (so `GET /api/v2/tasks/{id}` finds the task as soon as
 * the create has answered), but creates that arrive while a write is in flight share the next
 * write, one `DB.batch` for all of them. Under load that is one D1 round trip for many tasks
 * instead of one each; alone, a create pays exactly one, as before.
 */

export interface TaskIndexRow {
  taskId: string;
  agentId: string;
  createdAt: number;
}

interface Waiter {
  row: TaskIndexRow;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Rows per `DB.batch`, so one batch stays a small, quick write even after a long stall. */
const MAX_ROWS_PER_BATCH = 100;

export class TaskIndexWriter {
  readonly #db: D1Database;
  #waiting: Waiter[] = [];
  #writing = false;
  /** Rows not yet confirmed, so a repeated idempotent create can wait for the first one's row. */
  readonly #inFlight = new Map<string, Promise<void>>();

  constructor(db: D1Database) {
    this.#db = db;
  }

  /** Resolves once the row is in D1; rejects with D1's error if its batch failed. */
  add(row: TaskIndexRow): Promise<void> {
    const written = new Promise<void>((resolve, reject) => {
      this.#waiting.push({ row, resolve, reject });
      if (!this.#writing) void this.#drain();
    });
    this.#inFlight.set(row.taskId, written);
    const forget = () => this.#inFlight.delete(row.taskId);
    written.then(forget, forget);
    return written;
  }

  /** Resolves when the task's row is written (at once if it is not being written). */
  async written(taskId: string): Promise<void> {
    await this.#inFlight.get(taskId);
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#waiting.length > 0) {
        const batch = this.#waiting.splice(0, MAX_ROWS_PER_BATCH);
        try {
          await this.#db.batch(
            batch.map(({ row }) =>
              this.#db.prepare("INSERT OR IGNORE INTO task_index (task_id, agent_id, created_at) VALUES (?, ?, ?)").bind(row.taskId, row.agentId, row.createdAt),
            ),
          );
          for (const w of batch) w.resolve();
        } catch (err) {
          for (const w of batch) w.reject(err);
        }
      }
    } finally {
      this.#writing = false;
    }
  }
}
