/**
 * The task lifecycle inside AgentDO: transitions (src/tasks/model.ts), attempts, lanes and
 * dispatch to the queue, timeouts, and the change events that live progress streams. Every
 * change is one synchronous transaction; queue sends happen after it commits.
 */
import { canTransition, isTerminal, type AttemptStart, type CreateTaskInput, type TaskEvent, type TaskMessage, type TaskRecord, type TaskResult, type TaskStatus } from "../../src/tasks/model";
import type { Timers } from "../shared/timers";
import { ensureInstances, pickInstance, removeIdleDraining } from "./lanes";
import { appendEvent, insertTask, readTask, rememberIdempotencyKey, taskForIdempotencyKey, updateTask, type TaskPatch } from "./task-store";

export const WATCHDOG_TIMER = "task-watchdog";
/** Backoff between attempts: 2^(attempt-1) seconds, at most this. */
const MAX_RETRY_DELAY_SECONDS = 300;

type Stored = TaskRecord & { seq: number };
export type Listener = (event: TaskEvent) => void;

export class TaskEngine {
  readonly #storage: DurableObjectStorage;
  readonly #queue: Queue<TaskMessage>;
  readonly #timers: Timers;
  readonly #concurrency: () => number;
  /** SSE subscribers by task id; in memory, since a stream lives only as long as this instance. */
  readonly #listeners = new Map<string, Set<Listener>>();

  constructor(storage: DurableObjectStorage, queue: Queue<TaskMessage>, timers: Timers, concurrency: () => number) {
    this.#storage = storage;
    this.#queue = queue;
    this.#timers = timers;
    this.#concurrency = concurrency;
  }

  get #sql(): SqlStorage {
    return this.#storage.sql;
  }

  subscribe(taskId: string, listener: Listener): () => void {
    let set = this.#listeners.get(taskId);
    if (!set) this.#listeners.set(taskId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.#listeners.delete(taskId);
    };
  }

  async create(input: CreateTaskInput, gate?: { approvalId: string }): Promise<{ task: Stored; created: boolean }> {
    const sql = this.#sql;
    const outcome = this.#storage.transactionSync(() => {
      if (input.idempotencyKey) {
        const existing = taskForIdempotencyKey(sql, input.idempotencyKey, input.nowMs);
        const task = existing ? readTask(sql, existing) : null;
        if (task) return { task, created: false };
      }
      ensureInstances(sql, input.agentId, input.nowMs);
      insertTask(sql, {
        task_id: input.taskId,
        agent_id: input.agentId,
        task_type: input.taskType,
        status: "pending",
        progress: 0,
        progress_message: null,
        metadata_json: JSON.stringify(input.metadata),
        attempts: 0,
        max_attempts: input.maxAttempts,
        timeout_seconds: input.timeoutSeconds,
        // External tasks run in their own worker: they get an instance now (for metrics) but hold no lane.
        instance_id: input.executor === "external" ? pickInstance(sql, this.#concurrency(), true) : null,
        created_at: input.nowMs,
        last_activity_at: input.nowMs,
        approval_id: gate?.approvalId ?? null,
        executor: input.executor,
      });
      if (input.idempotencyKey) rememberIdempotencyKey(sql, input.idempotencyKey, input.taskId, input.nowMs);
      const task = readTask(sql, input.taskId)!;
      this.#record(task, "status", input.nowMs);
      return { task, created: true };
    });
    if (outcome.created) await this.dispatch(input.nowMs);
    return outcome;
  }

  get(taskId: string): Stored | null {
    return readTask(this.#sql, taskId);
  }

  /** Progress from an external worker or a handler: clamped, and `running` sets started_at once. */
  async progress(taskId: string, update: { progress?: number; status?: TaskStatus; message?: string }, nowMs: number): Promise<TaskResult<Stored>> {
    const result = this.#change(taskId, nowMs, (task) => {
      const status = update.status ?? (task.status === "pending" ? "running" : task.status);
      if (status !== "running" && status !== "pending") {
        return `progress can only set running or pending; use /complete or /cancel for ${status}`;
      }
      const patch: TaskPatch = { status, last_activity_at: nowMs };
      if (update.progress !== undefined) patch.progress = Math.min(100, Math.max(0, update.progress));
      if (update.message !== undefined) patch.progress_message = update.message;
      if (status === "running" && task.started_at === null) patch.started_at = nowMs;
      return patch;
    });
    if (result.ok && result.value.status === "running") await this.#armWatchdog(result.value, nowMs);
    return result;
  }

  async complete(taskId: string, outcome: { result?: unknown; error_message?: string }, nowMs: number): Promise<TaskResult<Stored>> {
    const failed = outcome.error_message !== undefined;
    const result = this.#change(taskId, nowMs, () => ({
      status: failed ? "failed" : "completed",
      progress: 100,
      result_json: outcome.result === undefined ? null : JSON.stringify(outcome.result),
      error_message: outcome.error_message ?? null,
      completed_at: nowMs,
      last_activity_at: nowMs,
    }));
    if (result.ok) await this.dispatch(nowMs);
    return result;
  }

  async cancel(taskId: string, nowMs: number, reason?: string): Promise<TaskResult<Stored>> {
    const result = this.#change(taskId, nowMs, () => ({
      status: "cancelled",
      completed_at: nowMs,
      last_activity_at: nowMs,
      ...(reason ? { error_message: reason } : {}),
    }));
    if (result.ok) await this.dispatch(nowMs);
    return result;
  }

  /** The task's approval was granted: it stops waiting and goes to the backlog (SPEC §5). */
  async releaseApproval(taskId: string, approvalId: string, nowMs: number): Promise<void> {
    const task = readTask(this.#sql, taskId);
    if (!task || task.approval_id !== approvalId || isTerminal(task.status)) return;
    updateTask(this.#sql, taskId, { approval_id: null, last_activity_at: nowMs });
    await this.dispatch(nowMs);
  }

  /** The consumer asks before each attempt; only a dispatched, pending task on its lane runs. */
  async beginAttempt(taskId: string, nowMs: number): Promise<AttemptStart> {
    const sql = this.#sql;
    const start = this.#storage.transactionSync((): AttemptStart => {
      const task = readTask(sql, taskId);
      if (!task) return { run: false, reason: "not_found" };
      if (isTerminal(task.status)) return { run: false, reason: "terminal" };
      if (task.approval_id) return { run: false, reason: "waiting_for_approval" };
      // Back in the backlog (its instance drained), already running from a duplicate delivery, or
      // an external task (never sent to the queue: a stray message must not run or fail it).
      if (task.executor !== "queue" || task.instance_id === null || task.status === "running") return { run: false, reason: "not_dispatched" };
      const attempts = task.attempts + 1;
      updateTask(sql, taskId, { status: "running", attempts, last_activity_at: nowMs, ...(task.started_at === null ? { started_at: nowMs } : {}) });
      const started = readTask(sql, taskId)!;
      this.#record(started, "status", nowMs);
      return { run: true, task: started, attempt: attempts, deadline: nowMs + started.timeout_seconds * 1000 };
    });
    if (start.run) await this.#armWatchdog(start.task, nowMs);
    return start;
  }

  /**
   * A handler threw. Retryable errors go back to pending (keeping their lane) with an exponential
   * delay until `max_attempts`; then, or for a non-retryable error, the task fails.
   */
  async attemptFailed(taskId: string, error: string, retryable: boolean, nowMs: number): Promise<{ retry: boolean; delaySeconds: number; attempts: number }> {
    const task = readTask(this.#sql, taskId);
    if (!task || isTerminal(task.status)) return { retry: false, delaySeconds: 0, attempts: task?.attempts ?? 0 };
    if (retryable && task.attempts < task.max_attempts) {
      this.#change(taskId, nowMs, () => ({ status: "pending", error_message: error, last_activity_at: nowMs }));
      return { retry: true, delaySeconds: Math.min(MAX_RETRY_DELAY_SECONDS, 2 ** (task.attempts - 1)), attempts: task.attempts };
    }
    await this.complete(taskId, { error_message: error }, nowMs);
    return { retry: false, delaySeconds: 0, attempts: task.attempts };
  }

  /** Sends backlog tasks to free lanes, oldest first. */
  async dispatch(nowMs: number): Promise<void> {
    const sql = this.#sql;
    const messages = this.#storage.transactionSync(() => {
      removeIdleDraining(sql);
      const out: TaskMessage[] = [];
      const backlog = sql
        .exec<{ task_id: string; agent_id: string }>(
          "SELECT task_id, agent_id FROM tasks WHERE status = 'pending' AND instance_id IS NULL AND approval_id IS NULL AND executor = 'queue' ORDER BY seq LIMIT 100",
        )
        .toArray();
      for (const t of backlog) {
        const instance = pickInstance(sql, this.#concurrency());
        if (!instance) break;
        updateTask(sql, t.task_id, { instance_id: instance, last_activity_at: nowMs });
        out.push({ task_id: t.task_id, agent_id: t.agent_id });
      }
      return out;
    });
    if (messages.length > 0) await this.#queue.sendBatch(messages.map((body) => ({ body, contentType: "json" as const })));
  }

  /** Fails running tasks silent for longer than their timeout, then re-arms for the next one. */
  async watchdog(nowMs: number): Promise<void> {
    const overdue = this.#sql
      .exec<{ task_id: string; timeout_seconds: number }>(
        "SELECT task_id, timeout_seconds FROM tasks WHERE status = 'running' AND last_activity_at + timeout_seconds * 1000 <= ?",
        nowMs,
      )
      .toArray();
    for (const t of overdue) await this.complete(t.task_id, { error_message: `Timed out: no progress for ${t.timeout_seconds} s` }, nowMs);
    const next = this.#sql
      .exec<{ due: number | null }>("SELECT min(last_activity_at + timeout_seconds * 1000) AS due FROM tasks WHERE status = 'running'")
      .one().due;
    if (next !== null) await this.#timers.schedule(WATCHDOG_TIMER, next, true);
  }

  async #armWatchdog(task: TaskRecord, nowMs: number): Promise<void> {
    await this.#timers.schedule(WATCHDOG_TIMER, nowMs + task.timeout_seconds * 1000, true);
  }

  /** One checked transition: `decide` returns the patch, or a string explaining a refusal (409). */
  #change(taskId: string, nowMs: number, decide: (task: Stored) => TaskPatch | string): TaskResult<Stored> {
    const sql = this.#sql;
    return this.#storage.transactionSync((): TaskResult<Stored> => {
      const task = readTask(sql, taskId);
      if (!task) return { ok: false, reason: "not_found" };
      const patch = decide(task);
      const to = typeof patch === "string" ? task.status : (patch.status ?? task.status);
      if (typeof patch === "string" || !canTransition(task.status, to)) {
        const detail = typeof patch === "string" ? patch : `a ${task.status} task cannot become ${to}`;
        return { ok: false, reason: "conflict", status: task.status, detail };
      }
      updateTask(sql, taskId, patch);
      const updated = readTask(sql, taskId)!;
      this.#record(updated, to === task.status ? "progress" : "status", nowMs);
      return { ok: true, value: updated };
    });
  }

  #record(task: TaskRecord, type: TaskEvent["type"], nowMs: number): void {
    const event = appendEvent(this.#sql, task, type, nowMs);
    for (const listener of this.#listeners.get(task.task_id) ?? []) listener(event);
  }
}
