/**
 * The task lifecycle inside AgentDO: transitions (src/tasks/model.ts), attempts, lanes and
 * dispatch to the queue, timeouts, and the change events that live progress streams. Every
 * change is one synchronous transaction; queue sends happen after it commits.
 */
import {
  TASK_STATUSES,
  canTransition,
  isTerminal,
  type AttemptStart,
  type CreateTaskInput,
  type TaskEvent,
  type TaskFailure,
  type TaskMessage,
  type TaskRecord,
  type TaskResult,
  type TaskStatus,
} from "../../src/tasks/model";
import { log, logEnabled, logError, warn, type LogEvent } from "../../src/lib/log";
import { GroupCommit } from "../shared/group-commit";
import type { Timers } from "../shared/timers";
import { LaneBook, ensureInstances, externalTaskInstance, holdsLane, removeIdleDraining } from "./lanes";
import { PrefixUnavailable, type TaskIds } from "./task-ids";
import {
  insertTask,
  latestEvent,
  readStatus,
  startAttempt,
  updateTaskFrom,
  readTask,
  rememberIdempotencyKey,
  taskForIdempotencyKey,
  updateTask,
  type TaskPatch,
} from "./task-store";

export const WATCHDOG_TIMER = "task-watchdog";
/** A queue send failed: the backlog is dispatched again from the alarm after this long. */
export const DISPATCH_RETRY_TIMER = "task-dispatch-retry";
const DISPATCH_RETRY_MS = 2000;
/** Backlog tasks handed out per dispatch; the rest wait for the next finish. */
const BACKLOG_PAGE = 100;
/** A Queue's sendBatch takes at most 100 messages. */
const MAX_MESSAGES_PER_SEND = 100;
/** Backoff between attempts: 2^(attempt-1) seconds, at most this. */
const MAX_RETRY_DELAY_SECONDS = 300;

type Stored = TaskRecord & { seq: number };
export type Listener = (event: TaskEvent) => void;

export class TaskEngine {
  readonly #storage: DurableObjectStorage;
  /** Queue sends with group commit: dispatches made while a send is in flight share the next one. */
  readonly #sends: GroupCommit<TaskMessage>;
  readonly #timers: Timers;
  readonly #concurrency: () => number;
  readonly #ids: TaskIds;
  /**
   * True while no queued task waits for a lane (known after a dispatch took the whole backlog);
   * a new task can then take a lane in its own INSERT. Reset by anything that may fill the backlog.
   */
  #backlogEmpty = false;
  readonly #lanes = new LaneBook();
  /** Set once this instance has created a task: a new agent's first instance exists from then on. */
  #instancesEnsured = false;
  /** SSE subscribers by task id; in memory, since a stream lives only as long as this instance. */
  readonly #listeners = new Map<string, Set<Listener>>();
  /** Told of every task created or changing status (the task roll-up for /metrics). */
  readonly #onStatusChange: () => void;
  /** Transition log lines of the transaction in progress, written once it commits. */
  #pendingLogs: LogEvent[] = [];
  #depth = 0;

  constructor(
    storage: DurableObjectStorage,
    queue: Queue<TaskMessage>,
    timers: Timers,
    concurrency: () => number,
    ids: TaskIds,
    onStatusChange: () => void = () => {},
  ) {
    this.#storage = storage;
    this.#ids = ids;
    this.#onStatusChange = onStatusChange;
    this.#sends = new GroupCommit(
      (messages) => queue.sendBatch(messages.map((body) => ({ body, contentType: "json" as const }))),
      MAX_MESSAGES_PER_SEND,
    );
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

  /**
   * `indexError` when the agent's task id prefix could not be registered in D1 (only ever on its
   * first create): then nothing was created.
   */
  async create(
    input: CreateTaskInput,
    gate?: { approvalId: string },
  ): Promise<{ task: Stored; created: boolean } | { indexError: string }> {
    const sql = this.#sql;
    let prefix: string;
    try {
      prefix = await this.#ids.prefix(input.agentId);
    } catch (err) {
      if (err instanceof PrefixUnavailable) return { indexError: err.message };
      throw err;
    }
    const outcome = this.#transaction(() => {
      if (input.idempotencyKey) {
        const existing = taskForIdempotencyKey(sql, input.idempotencyKey, input.nowMs);
        const task = existing ? readTask(sql, existing) : null;
        if (task) return { task, created: false, messages: [] };
      }
      if (!this.#instancesEnsured && ensureInstances(sql, input.agentId, input.nowMs)) this.#lanes.forget();
      // An empty backlog means this task is the oldest waiting: it takes a free lane at once.
      const queued = input.executor === "queue" && !gate;
      const lane = queued && this.#backlogEmpty ? this.#lanes.take(sql, this.#concurrency()) : null;
      if (queued && lane === null) this.#backlogEmpty = false;
      const task = insertTask(sql, {
        task_id: this.#ids.next(prefix),
        agent_id: input.agentId,
        task_type: input.taskType,
        status: "pending",
        progress: 0,
        progress_message: null,
        metadata_json: input.metadataJson,
        attempts: 0,
        max_attempts: input.maxAttempts,
        timeout_seconds: input.timeoutSeconds,
        // External tasks run in their own worker: they get an instance now (for metrics) but hold no lane.
        instance_id: input.executor === "external" ? externalTaskInstance(sql) : lane,
        created_at: input.nowMs,
        last_activity_at: input.nowMs,
        approval_id: gate?.approvalId ?? null,
        executor: input.executor,
        request_id: input.requestId ?? null,
      });
      this.#onStatusChange();
      if (input.idempotencyKey) rememberIdempotencyKey(sql, input.idempotencyKey, task.task_id, input.nowMs);
      this.#notify(task.task_id);
      if (lane) return { task, created: true, messages: [{ task_id: task.task_id, agent_id: task.agent_id }] };
      return { task, created: true, messages: this.#claimLanes(input.nowMs) };
    });
    // From now on the agent has a task, so ensureInstances could only ever find it has instances.
    this.#instancesEnsured = true;
    await this.#send(outcome.messages);
    return { task: outcome.task, created: outcome.created };
  }

  get(taskId: string): Stored | null {
    return readTask(this.#sql, taskId);
  }

  /**
   * Progress from an external worker or a handler: clamped, and `running` sets started_at once.
   * A task waiting for its approval is refused (only a handler of a released task reports here).
   */
  async progress(
    taskId: string,
    update: { progress?: number; status?: TaskStatus; message?: string },
    nowMs: number,
    requestId?: string,
  ): Promise<TaskResult<Stored>> {
    const result = this.#change(taskId, nowMs, requestId, (task) => {
      const gated = gateRefusal(task);
      if (gated) return gated;
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

  async complete(
    taskId: string,
    outcome: { result?: unknown; error_message?: string },
    nowMs: number,
    requestId?: string,
  ): Promise<TaskResult<Stored>> {
    const [result] = await this.completeMany([{ taskId, ...outcome }], nowMs, requestId);
    return result!;
  }

  /**
   * An outcome reported from outside (`POST /tasks/{id}/complete`): refused while the task waits
   * for its approval. The engine's own finishes (timeouts, failed attempts) are not gated.
   */
  async completeReported(
    taskId: string,
    outcome: { result?: unknown; error_message?: string },
    nowMs: number,
    requestId?: string,
  ): Promise<TaskResult<Stored>> {
    // Checked and finished in the same turn: nothing can release or gate the task in between.
    return gateRefusal(this.get(taskId)) ?? this.complete(taskId, outcome, nowMs, requestId);
  }

  /** Cancelled; the lane it frees goes to the next backlog task in the same transaction. */
  async cancel(taskId: string, nowMs: number, reason?: string, requestId?: string): Promise<TaskResult<Stored>> {
    const { result, messages } = this.#transaction(() => {
      const result = this.#change(taskId, nowMs, requestId, () => ({
        status: "cancelled",
        completed_at: nowMs,
        last_activity_at: nowMs,
        ...(reason ? { error_message: reason } : {}),
      }));
      return { result, messages: result.ok ? this.#claimLanes(nowMs) : [] };
    });
    this.#sendInBackground(messages);
    return result;
  }

  /** The task's approval was granted: it stops waiting and goes to the backlog. */
  async releaseApproval(taskId: string, approvalId: string, nowMs: number): Promise<void> {
    const task = readTask(this.#sql, taskId);
    if (!task || task.approval_id !== approvalId || isTerminal(task.status)) return;
    // The schema's trigger writes the `approval` event that tells live streams the gate opened.
    updateTask(this.#sql, taskId, { approval_id: null, last_activity_at: nowMs });
    this.#notify(taskId);
    await this.dispatch(nowMs);
  }

  /**
   * The consumer asks before each attempt (for all the agent's messages of a batch at once); only
   * a dispatched, pending task on its lane runs.
   */
  async beginAttempts(taskIds: readonly string[], nowMs: number): Promise<AttemptStart[]> {
    const sql = this.#sql;
    const starts = this.#transaction(() =>
      taskIds.map((taskId): AttemptStart => {
        const started = startAttempt(sql, taskId, nowMs);
        if (started) {
          this.#transitioned(started, "pending");
          this.#notify(taskId);
          return { run: true, task: started, attempt: started.attempts, deadline: nowMs + started.timeout_seconds * 1000 };
        }
        const task = readTask(sql, taskId);
        if (!task) return { run: false, reason: "not_found" };
        if (isTerminal(task.status)) return { run: false, reason: "terminal" };
        if (task.approval_id) return { run: false, reason: "waiting_for_approval" };
        // Back in the backlog (its instance drained), already running from a duplicate delivery, or
        // an external task (never sent to the queue: a stray message must not run or fail it).
        return { run: false, reason: "not_dispatched" };
      }),
    );
    const deadlines = starts.flatMap((s) => (s.run ? [s.deadline] : []));
    if (deadlines.length > 0) await this.#timers.schedule(WATCHDOG_TIMER, Math.min(...deadlines), true);
    return starts;
  }

  /** Several outcomes in one transaction; the lanes they free are handed out once. */
  async completeMany(
    outcomes: readonly { taskId: string; result?: unknown; error_message?: string }[],
    nowMs: number,
    requestId?: string,
  ): Promise<TaskResult<Stored>[]> {
    const { results, messages } = this.#transaction(() => {
      const results = outcomes.map((o): TaskResult<Stored> => {
        // The status it leaves, for its log line only (read only when info lines are written).
        const from = logEnabled("info") ? readStatus(this.#sql, o.taskId) : null;
        // One statement when the task may still finish; otherwise #change says why not (409/404).
        const done = updateTaskFrom(this.#sql, o.taskId, FINISHABLE, finishPatch(o, nowMs));
        if (!done) return this.#change(o.taskId, nowMs, requestId, () => finishPatch(o, nowMs));
        this.#transitioned(done, from, requestId);
        // It was pending or running, on the same instance: if that was a lane, it is free now.
        if (done.executor === "queue" && done.instance_id !== null) this.#lanes.release(done.instance_id);
        this.#notify(o.taskId);
        return { ok: true, value: done };
      });
      return { results, messages: results.some((r) => r.ok) ? this.#claimLanes(nowMs) : [] };
    });
    this.#sendInBackground(messages);
    return results;
  }

  /**
   * A handler threw. Retryable errors go back to pending (keeping their lane) with an exponential
   * delay until `max_attempts`; then, or for a non-retryable error, the task fails.
   */
  async attemptFailed(
    taskId: string,
    error: string,
    retryable: boolean,
    nowMs: number,
  ): Promise<{ retry: boolean; delaySeconds: number; attempts: number }> {
    const task = readTask(this.#sql, taskId);
    if (!task || isTerminal(task.status)) return { retry: false, delaySeconds: 0, attempts: task?.attempts ?? 0 };
    if (retryable && task.attempts < task.max_attempts) {
      this.#change(taskId, nowMs, undefined, () => ({ status: "pending", error_message: error, last_activity_at: nowMs }));
      return { retry: true, delaySeconds: Math.min(MAX_RETRY_DELAY_SECONDS, 2 ** (task.attempts - 1)), attempts: task.attempts };
    }
    await this.complete(taskId, { error_message: error }, nowMs);
    return { retry: false, delaySeconds: 0, attempts: task.attempts };
  }

  /**
   * Sends backlog tasks to free lanes, oldest first, reading lanes and backlog from the tables:
   * the callers (scaling, an approval, the dispatch retry) changed them behind the engine's back.
   */
  async dispatch(nowMs: number): Promise<void> {
    this.#forgetLanes();
    await this.#send(this.#transaction(() => this.#claimLanes(nowMs)));
  }

  /** Gives free lanes to the oldest backlog tasks; the caller sends the messages once this commits. */
  #claimLanes(nowMs: number): TaskMessage[] {
    const sql = this.#sql;
    if (this.#lanes.hasDraining(sql)) {
      removeIdleDraining(sql);
      this.#lanes.forget();
    }
    // While every lane is busy, the backlog just waits (it is not even read).
    if (!this.#lanes.hasFree(sql, this.#concurrency())) return [];
    const out: TaskMessage[] = [];
    const backlog = sql
      .exec<{ task_id: string; agent_id: string }>(
        `SELECT task_id, agent_id FROM tasks WHERE status = 'pending' AND instance_id IS NULL AND approval_id IS NULL AND executor = 'queue' ORDER BY seq LIMIT ${BACKLOG_PAGE}`,
      )
      .toArray();
    for (const t of backlog) {
      const instance = this.#lanes.take(sql, this.#concurrency());
      if (!instance) break;
      updateTask(sql, t.task_id, { instance_id: instance, last_activity_at: nowMs });
      out.push({ task_id: t.task_id, agent_id: t.agent_id });
    }
    this.#backlogEmpty = out.length === backlog.length && backlog.length < BACKLOG_PAGE;
    return out;
  }

  /**
   * Sends claimed tasks to the queue. If the send fails, the claims are undone (the tasks go back
   * to the backlog, so none holds a lane without a message) and a dispatch is retried from the
   * alarm in DISPATCH_RETRY_MS. The change that led here (a create, a finish) is already committed
   * and stays a success: its caller must not retry it.
   */
  async #send(messages: TaskMessage[]): Promise<void> {
    if (messages.length === 0) return;
    try {
      await this.#sends.add(messages);
    } catch (err) {
      this.#transaction(() => {
        for (const m of messages) {
          this.#sql.exec("UPDATE tasks SET instance_id = NULL WHERE task_id = ? AND status = 'pending'", m.task_id);
        }
      });
      this.#forgetLanes();
      warn({
        event: "task.dispatch_failed",
        agent_id: messages[0]!.agent_id,
        tasks: messages.length,
        error: err instanceof Error ? err.message : String(err),
        retry_in_ms: DISPATCH_RETRY_MS,
      });
      await this.#timers.schedule(DISPATCH_RETRY_TIMER, Date.now() + DISPATCH_RETRY_MS, true);
    }
  }

  /**
   * Dispatches what a finish or a cancel freed without holding up that change's answer: the
   * consumer reporting an outcome should not wait for other tasks' queue send (and the local
   * queue delivers its next batch only once the current one is done). #send handles a failed
   * send itself; only a failure of that handling ends up here, logged.
   */
  #sendInBackground(messages: TaskMessage[]): void {
    if (messages.length === 0) return;
    this.#send(messages).catch((err: unknown) => {
      logError({
        event: "task.dispatch_failed",
        agent_id: messages[0]!.agent_id,
        tasks: messages.length,
        error: err instanceof Error ? err.message : String(err),
      });
    });
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

  /** One checked transition: `decide` returns the patch, or a refusal (409): a string explaining it, or the failure itself. */
  #change(
    taskId: string,
    nowMs: number,
    requestId: string | undefined,
    decide: (task: Stored) => TaskPatch | string | TaskFailure,
  ): TaskResult<Stored> {
    const sql = this.#sql;
    return this.#transaction((): TaskResult<Stored> => {
      const task = readTask(sql, taskId);
      if (!task) return { ok: false, reason: "not_found" };
      const patch = decide(task);
      if (typeof patch === "object" && "ok" in patch) return patch;
      const to = typeof patch === "string" ? task.status : (patch.status ?? task.status);
      if (typeof patch === "string" || !canTransition(task.status, to)) {
        const detail = typeof patch === "string" ? patch : `a ${task.status} task cannot become ${to}`;
        return { ok: false, reason: "conflict", status: task.status, detail };
      }
      updateTask(sql, taskId, patch);
      const updated = { ...task, ...patch };
      if (to !== task.status) this.#transitioned(updated, task.status, requestId);
      if (holdsLane(task) && !holdsLane(updated)) this.#lanes.release(task.instance_id);
      this.#notify(taskId);
      return { ok: true, value: updated };
    });
  }

  /**
   * One synchronous transaction; if it rolls back, what the engine remembers about lanes may be
   * wrong, and the transitions it would have logged did not happen. Nested calls join the outer one.
   */
  #transaction<T>(fn: () => T): T {
    this.#depth++;
    let out: T;
    try {
      out = this.#storage.transactionSync(fn);
    } catch (err) {
      this.#forgetLanes();
      if (this.#depth === 1) this.#pendingLogs = [];
      throw err;
    } finally {
      this.#depth--;
    }
    if (this.#depth === 0 && this.#pendingLogs.length > 0) {
      const lines = this.#pendingLogs;
      this.#pendingLogs = [];
      for (const line of lines) log(line);
    }
    return out;
  }

  /**
   * A task changed status (`from` null: not read, because info lines are not written). The line
   * carries the request that made the change, else the one that created the task.
   */
  #transitioned(task: Stored, from: TaskStatus | null, requestId?: string): void {
    this.#onStatusChange();
    if (from === null || from === task.status) return;
    const line: LogEvent = {
      event: "task.transition",
      request_id: requestId ?? task.request_id ?? undefined,
      agent_id: task.agent_id,
      task_id: task.task_id,
      task_type: task.task_type,
      from,
      to: task.status,
      attempt: task.attempts,
    };
    if (this.#depth > 0) this.#pendingLogs.push(line);
    else log(line);
  }

  /** Lanes and backlog are read from the tables again at the next dispatch. */
  #forgetLanes(): void {
    this.#lanes.forget();
    this.#backlogEmpty = false;
  }

  /** Hands the change event the schema's trigger just wrote to the task's live streams, if any. */
  #notify(taskId: string): void {
    const listeners = this.#listeners.get(taskId);
    if (!listeners || listeners.size === 0) return;
    const event = latestEvent(this.#sql, taskId);
    if (event) for (const listener of listeners) listener(event);
  }
}

/** The refusal of a report about a task that waits for its approval, or null when it does not. */
function gateRefusal(task: Stored | null): TaskFailure | null {
  if (!task?.approval_id || isTerminal(task.status)) return null;
  return {
    ok: false,
    reason: "conflict",
    status: task.status,
    detail: `it is waiting for approval '${task.approval_id}' and cannot report progress or finish until it is approved (it can be cancelled)`,
    approvalId: task.approval_id,
  };
}

/** The statuses a task can finish from (src/tasks/model.ts's transition table). */
const FINISHABLE = TASK_STATUSES.filter((from) => canTransition(from, "completed") && canTransition(from, "failed"));

/** `completed` with a result, or `failed` with an error message. */
function finishPatch(outcome: { result?: unknown; error_message?: string }, nowMs: number): TaskPatch {
  const failed = outcome.error_message !== undefined;
  return {
    status: failed ? "failed" : "completed",
    progress: 100,
    result_json: outcome.result === undefined ? null : JSON.stringify(outcome.result),
    error_message: outcome.error_message ?? null,
    completed_at: nowMs,
    last_activity_at: nowMs,
  };
}
