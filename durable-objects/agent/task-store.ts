/**
 * Tasks over the Durable Object's SQLite database: rows, their change events (for SSE) and
 * idempotency keys. Synchronous SQL only; the callers own the transactions.
 */
import type { TaskEvent, TaskRecord, TaskStatus } from "../../src/tasks/model";

type StoredTask = TaskRecord & { seq: number };

/** Columns as TaskRecord names them: JSON columns carry a `_json` suffix in the record. */
const TASK_COLUMNS = `seq, task_id, agent_id, task_type, status, progress, progress_message, result AS result_json,
  error_message, created_at, started_at, completed_at, metadata AS metadata_json, attempts, max_attempts, timeout_seconds,
  instance_id, last_activity_at, approval_id, gate_approval_id, executor, request_id`;
const SELECT_TASK = `SELECT ${TASK_COLUMNS} FROM tasks`;

/** Inserts a new task and returns it as `readTask` would (without reading it back). */
export function insertTask(
  sql: SqlStorage,
  t: Omit<TaskRecord, "result_json" | "error_message" | "started_at" | "completed_at" | "gate_approval_id">,
): StoredTask {
  const { seq } = sql
    .exec<{ seq: number }>(
      `INSERT INTO tasks (task_id, agent_id, task_type, status, progress, progress_message, created_at, metadata, attempts,
       max_attempts, timeout_seconds, instance_id, last_activity_at, approval_id, gate_approval_id, executor, request_id)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
      t.task_id,
      t.agent_id,
      t.task_type,
      t.status,
      t.progress,
      t.progress_message,
      t.created_at,
      t.metadata_json,
      t.attempts,
      t.max_attempts,
      t.timeout_seconds,
      t.instance_id,
      t.last_activity_at,
      t.approval_id,
      // The gate, kept for the view after the approval clears approval_id.
      t.approval_id,
      t.executor,
      t.request_id ?? null,
    )
    .one();
  return { ...t, seq, result_json: null, error_message: null, started_at: null, completed_at: null, gate_approval_id: t.approval_id };
}

export function readTask(sql: SqlStorage, taskId: string): StoredTask | null {
  return sql.exec<StoredTask & Record<string, SqlStorageValue>>(`${SELECT_TASK} WHERE task_id = ?`, taskId).toArray()[0] ?? null;
}

/** A task's status alone (null: no such task). */
export function readStatus(sql: SqlStorage, taskId: string): TaskStatus | null {
  return sql.exec<{ status: TaskStatus }>("SELECT status FROM tasks WHERE task_id = ?", taskId).toArray()[0]?.status ?? null;
}

/** Each task's status, in the order asked (null for an unknown id). */
export function taskStatuses(sql: SqlStorage, taskIds: readonly string[]): (TaskStatus | null)[] {
  if (taskIds.length === 0) return [];
  const found = new Map<string, TaskStatus>();
  // At most 100 bound parameters per statement.
  for (let i = 0; i < taskIds.length; i += 100) {
    const chunk = taskIds.slice(i, i + 100);
    const rows = sql.exec<{ task_id: string; status: TaskStatus }>(
      `SELECT task_id, status FROM tasks WHERE task_id IN (${chunk.map(() => "?").join(", ")})`,
      ...chunk,
    );
    for (const row of rows) found.set(row.task_id, row.status);
  }
  return taskIds.map((id) => found.get(id) ?? null);
}

/** Creation order; `afterSeq` is the cursor. */
export function listTasks(sql: SqlStorage, opts: { status?: TaskStatus; limit: number; afterSeq?: number }): StoredTask[] {
  const rows = opts.status
    ? sql.exec<StoredTask & Record<string, SqlStorageValue>>(
        `${SELECT_TASK} WHERE status = ? AND seq > ? ORDER BY seq LIMIT ?`,
        opts.status,
        opts.afterSeq ?? 0,
        opts.limit,
      )
    : sql.exec<StoredTask & Record<string, SqlStorageValue>>(
        `${SELECT_TASK} WHERE seq > ? ORDER BY seq LIMIT ?`,
        opts.afterSeq ?? 0,
        opts.limit,
      );
  return rows.toArray();
}

export type TaskPatch = Partial<
  Pick<
    TaskRecord,
    | "status"
    | "progress"
    | "progress_message"
    | "result_json"
    | "error_message"
    | "started_at"
    | "completed_at"
    | "attempts"
    | "instance_id"
    | "last_activity_at"
    | "approval_id"
  >
>;

const COLUMN: Record<keyof TaskPatch, string> = {
  status: "status",
  progress: "progress",
  progress_message: "progress_message",
  result_json: "result",
  error_message: "error_message",
  started_at: "started_at",
  completed_at: "completed_at",
  attempts: "attempts",
  instance_id: "instance_id",
  last_activity_at: "last_activity_at",
  approval_id: "approval_id",
};

/**
 * A dispatched, pending queue task becomes `running` (one more attempt) in one statement; null when
 * it is not in that state (the caller reads it to say why). The hot path of every attempt.
 */
export function startAttempt(sql: SqlStorage, taskId: string, nowMs: number): StoredTask | null {
  return (
    sql
      .exec<StoredTask & Record<string, SqlStorageValue>>(
        `UPDATE tasks SET status = 'running', attempts = attempts + 1, last_activity_at = ?, started_at = coalesce(started_at, ?)
         WHERE task_id = ? AND status = 'pending' AND approval_id IS NULL AND executor = 'queue' AND instance_id IS NOT NULL
         RETURNING ${TASK_COLUMNS}`,
        nowMs,
        nowMs,
        taskId,
      )
      .toArray()[0] ?? null
  );
}

/** Applies `patch` only while the task's status is one of `from`; the updated task, or null. */
export function updateTaskFrom(sql: SqlStorage, taskId: string, from: readonly TaskStatus[], patch: TaskPatch): StoredTask | null {
  const keys = Object.keys(patch) as (keyof TaskPatch)[];
  return (
    sql
      .exec<StoredTask & Record<string, SqlStorageValue>>(
        `UPDATE tasks SET ${keys.map((k) => `${COLUMN[k]} = ?`).join(", ")}
         WHERE task_id = ? AND status IN (${from.map(() => "?").join(", ")}) RETURNING ${TASK_COLUMNS}`,
        ...keys.map((k) => patch[k] ?? null),
        taskId,
        ...from,
      )
      .toArray()[0] ?? null
  );
}

export function updateTask(sql: SqlStorage, taskId: string, patch: TaskPatch): void {
  const keys = Object.keys(patch) as (keyof TaskPatch)[];
  if (keys.length === 0) return;
  sql.exec(
    `UPDATE tasks SET ${keys.map((k) => `${COLUMN[k]} = ?`).join(", ")} WHERE task_id = ?`,
    ...keys.map((k) => patch[k] ?? null),
    taskId,
  );
}

type EventRow = Omit<TaskEvent, "waiting_for_approval"> & { waiting_for_approval: number };
const EVENT_COLUMNS = "seq, type, status, progress, message, at, waiting_for_approval";

function toEvent(row: EventRow): TaskEvent {
  return { ...row, waiting_for_approval: row.waiting_for_approval === 1 };
}

/** The task's latest change event (written by the schema's triggers with each change). */
export function latestEvent(sql: SqlStorage, taskId: string): TaskEvent | null {
  const row = sql
    .exec<EventRow>(`SELECT ${EVENT_COLUMNS} FROM task_events WHERE task_id = ? ORDER BY seq DESC LIMIT 1`, taskId)
    .toArray()[0];
  return row ? toEvent(row) : null;
}

export function eventsAfter(sql: SqlStorage, taskId: string, afterSeq: number): TaskEvent[] {
  return sql
    .exec<EventRow>(`SELECT ${EVENT_COLUMNS} FROM task_events WHERE task_id = ? AND seq > ? ORDER BY seq`, taskId, afterSeq)
    .toArray()
    .map(toEvent);
}

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

export function taskForIdempotencyKey(sql: SqlStorage, key: string, nowMs: number): string | null {
  sql.exec("DELETE FROM idempotency_keys WHERE expires_at <= ?", nowMs);
  return sql.exec<{ task_id: string }>("SELECT task_id FROM idempotency_keys WHERE key = ?", key).toArray()[0]?.task_id ?? null;
}

export function rememberIdempotencyKey(sql: SqlStorage, key: string, taskId: string, nowMs: number): void {
  sql.exec("INSERT INTO idempotency_keys (key, task_id, expires_at) VALUES (?, ?, ?)", key, taskId, nowMs + IDEMPOTENCY_TTL_MS);
}
