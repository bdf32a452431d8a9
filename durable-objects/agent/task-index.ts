/**
 * D1's `task_index` (task id → agent), written by the agent's Durable Object with group commit
 * (../shared/group-commit.ts): a create waits until its row is in D1 (so `GET /api/v2/tasks/{id}`
 * finds the task as soon as the create has answered), but creates that arrive while a write is
 * in flight share the next one. Under load that is one D1 call for many tasks instead of one each.
 */
import { GroupCommit } from "../shared/group-commit";

export interface TaskIndexRow {
  taskId: string;
  agentId: string;
  createdAt: number;
}

/** D1 binds at most 100 parameters per statement: 33 rows of 3. */
const ROWS_PER_STATEMENT = 33;
/** Rows per D1 call (three statements in one `DB.batch`), so a write stays quick even after a stall. */
const ROWS_PER_WRITE = ROWS_PER_STATEMENT * 3;

export class TaskIndexWriter {
  readonly #writes: GroupCommit<TaskIndexRow>;
  /** Rows not yet confirmed, so a repeated idempotent create can wait for the first one's row. */
  readonly #inFlight = new Map<string, Promise<void>>();

  constructor(db: D1Database) {
    this.#writes = new GroupCommit((rows) => db.batch(insertStatements(db, rows)), ROWS_PER_WRITE);
  }

  /** Resolves once the row is in D1; rejects with D1's error if its write failed. */
  add(row: TaskIndexRow): Promise<void> {
    const written = this.#writes.add([row]);
    this.#inFlight.set(row.taskId, written);
    const forget = () => this.#inFlight.delete(row.taskId);
    written.then(forget, forget);
    return written;
  }

  /** Resolves when the task's row is written (at once if it is not being written). */
  async written(taskId: string): Promise<void> {
    await this.#inFlight.get(taskId);
  }
}

/** Multi-row INSERTs: D1's cost is per statement and per call far more than per row. */
function insertStatements(db: D1Database, rows: readonly TaskIndexRow[]): D1PreparedStatement[] {
  const statements: D1PreparedStatement[] = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
    const chunk = rows.slice(i, i + ROWS_PER_STATEMENT);
    statements.push(
      db
        .prepare(`INSERT OR IGNORE INTO task_index (task_id, agent_id, created_at) VALUES ${chunk.map(() => "(?, ?, ?)").join(", ")}`)
        .bind(...chunk.flatMap((r) => [r.taskId, r.agentId, r.createdAt])),
    );
  }
  return statements;
}
