/**
 * AgentDO: one per agent, the source of truth for its versioned state (and, later, its tasks
 * and instances). Each RPC method is one short synchronous transaction; the derived stores
 * (KV snapshot, D1 index) are brought up to date afterwards by DerivedSync.
 */
import { DurableObject } from "cloudflare:workers";
import { getConfig } from "../src/lib/config";
import {
  DEFAULT_AGENT_TYPE,
  type CopyIntervals,
  type RestoreInput,
  type SaveInput,
  type StateSummary,
  type StateVersionRecord,
  type VersionSummary,
  type WriteResult,
} from "../src/state/model";
import type { AttemptStart, CreateTaskInput, TaskEvent, TaskRecord, TaskResult, TaskStatus } from "../src/tasks/model";
import { EventStreams } from "./agent/event-stream";
import type { AgentMetrics } from "./agent/metrics";
import type { AutoscalePolicy } from "../src/scaling/model";
import { AUTOSCALE_TIMER, Scaling, type ScaleSnapshot } from "./agent/scaling";
import { AGENT_MIGRATIONS } from "./agent/schema";
import { DISPATCH_RETRY_TIMER, TaskEngine } from "./agent/task-engine";
import { TaskIds } from "./agent/task-ids";
import { eventsAfter, listTasks, taskStatuses } from "./agent/task-store";
import { DerivedSync } from "./agent/derived-sync";
import { ROLLUP_TIMER, TaskRollup } from "./agent/task-rollup";
import { Approvals } from "./agent/approvals";
import type { ApprovalRecord, Decision, DecisionResult, NewApproval } from "../src/approvals/model";
import type { MailOutcome } from "../src/approvals/mail";
import { appendVersion, eraseState, listVersions, readCurrent, readMeta, readVersion, type AppendVersion } from "./agent/state-store";
import { migrate } from "./shared/migrate";
import { Timers } from "./shared/timers";

type NewContent = Pick<AppendVersion, "agentType" | "stateJson" | "restoredFrom">;

function matches(expected: number | "*" | undefined, current: number | null): boolean {
  if (expected === undefined) return true;
  if (expected === "*") return current !== null;
  return expected === (current ?? 0);
}

export class AgentDO extends DurableObject<Env> {
  readonly #timers: Timers;
  readonly #sync: DerivedSync;

  readonly #tasks: TaskEngine;
  readonly #scaling: Scaling;
  readonly #approvals: Approvals;
  readonly #rollup: TaskRollup;
  readonly #streams = new EventStreams();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const config = getConfig(env); // also applies LOG_LEVEL to this isolate's log lines
    this.#timers = new Timers(ctx.storage);
    this.#sync = new DerivedSync(ctx.storage, env, this.#timers, {
      snapshotMs: config.stateSnapshotIntervalMs,
      indexRefreshMs: config.agentIndexRefreshMs,
    });
    this.#rollup = new TaskRollup(ctx.storage, env.DB, this.#timers, config.metricsRollupIntervalMs);
    const rollup = this.#rollup;
    this.#tasks = new TaskEngine(
      ctx.storage,
      env.TASK_QUEUE,
      this.#timers,
      () => config.taskConcurrencyPerInstance,
      new TaskIds(ctx.storage, env.DB),
      () => rollup.noteChange(),
    );
    this.#scaling = new Scaling(ctx.storage, this.#timers, this.#tasks, env.DB, () => ({
      concurrency: config.taskConcurrencyPerInstance,
      maxInstances: config.maxInstances,
    }));
    this.#approvals = new Approvals(ctx.storage, env, this.#timers, this.#tasks);
    void ctx.blockConcurrencyWhile(async () => {
      migrate(ctx.storage, AGENT_MIGRATIONS);
      await this.#timers.load();
      // Figures left unpublished (a failed publish, an upgraded object) get their timer.
      await this.#rollup.schedule(Date.now());
    });
  }

  saveState(input: SaveInput): Promise<WriteResult> {
    return this.#write(input, (meta) => ({
      agentType: input.agentType ?? meta?.agent_type ?? DEFAULT_AGENT_TYPE,
      stateJson: input.stateJson,
    }));
  }

  restoreState(input: RestoreInput): Promise<WriteResult> {
    return this.#write(input, (meta) => {
      const old = meta ? readVersion(this.ctx.storage.sql, meta, input.version) : null;
      if (!old) return { ok: false, reason: "version_not_found", current: meta?.version ?? null };
      return { agentType: old.agent_type, stateJson: old.state_json, restoredFrom: input.version };
    });
  }

  getState(): StateVersionRecord | null {
    return readCurrent(this.ctx.storage.sql);
  }

  /** The listing's live fields (GET /api/v2/agents reads them for the agents of its page), or null: no state. */
  getSummary(): StateSummary | null {
    const meta = readMeta(this.ctx.storage.sql);
    return meta && { agent_type: meta.agent_type, version: meta.version, updated_at: meta.updated_at };
  }

  getVersion(version: number): StateVersionRecord | null {
    const sql = this.ctx.storage.sql;
    const meta = readMeta(sql);
    return meta ? readVersion(sql, meta, version) : null;
  }

  listVersions(limit: number, beforeVersion?: number): { current: number | null; versions: VersionSummary[] } {
    const sql = this.ctx.storage.sql;
    return { current: readMeta(sql)?.version ?? null, versions: listVersions(sql, limit, beforeVersion) };
  }

  /**
   * Erases the state and its history for good, then waits for the KV snapshot and the index
   * row to be removed too, so nothing comes back from a derived store after the answer.
   */
  async deleteState(agentId: string): Promise<boolean> {
    const existed = this.ctx.storage.transactionSync(() => {
      const had = eraseState(this.ctx.storage.sql);
      if (had) this.#sync.noteErased(agentId);
      return had;
    });
    // A delete does not wait for the backoff of an earlier failed copy: someone waits for it.
    if (existed && (await this.#sync.schedule(undefined, true))) await this.#sync.run(true);
    return existed;
  }

  // ── tasks: thin RPC wrappers; the rules live in TaskEngine ──

  /** With `gate`, the task waits for that approval (not dispatched until it is approved). */
  createTask(
    input: CreateTaskInput,
    gate?: { approvalId: string },
  ): Promise<{ task: TaskRecord; created: boolean } | { indexError: string }> {
    return this.#counted(this.#tasks.create(input, gate));
  }

  getTask(taskId: string): TaskRecord | null {
    return this.#tasks.get(taskId);
  }

  /** The status of each task (null: no such task); the consumer's cancellation check for a whole batch. */
  taskStatuses(taskIds: string[]): (TaskStatus | null)[] {
    return taskStatuses(this.ctx.storage.sql, taskIds);
  }

  listTasks(opts: { status?: TaskStatus; limit: number; afterSeq?: number }): (TaskRecord & { seq: number })[] {
    return listTasks(this.ctx.storage.sql, opts);
  }

  /** `requestId`: the request reporting it, for the transition's log line. */
  updateTaskProgress(
    taskId: string,
    update: { progress?: number; status?: TaskStatus; message?: string },
    requestId?: string,
  ): Promise<TaskResult<TaskRecord>> {
    return this.#counted(this.#tasks.progress(taskId, update, Date.now(), requestId));
  }

  /** An outcome reported through the API (refused while the task waits for its approval). */
  completeTask(taskId: string, outcome: { result?: unknown; error_message?: string }, requestId?: string): Promise<TaskResult<TaskRecord>> {
    return this.#counted(this.#tasks.completeReported(taskId, outcome, Date.now(), requestId));
  }

  cancelTask(taskId: string, requestId?: string): Promise<TaskResult<TaskRecord>> {
    return this.#counted(this.#tasks.cancel(taskId, Date.now(), undefined, requestId));
  }

  /** One call per agent and queue batch: the consumer asks for all its messages of this agent at once. */
  beginTaskAttempts(taskIds: string[]): Promise<AttemptStart[]> {
    return this.#counted(this.#tasks.beginAttempts(taskIds, Date.now()));
  }

  /** Outcomes of several attempts (a queue batch's tasks that finished together). */
  completeTasks(outcomes: { taskId: string; result?: unknown; error_message?: string }[]): Promise<TaskResult<TaskRecord>[]> {
    return this.#counted(this.#tasks.completeMany(outcomes, Date.now()));
  }

  taskAttemptFailed(
    taskId: string,
    error: string,
    retryable: boolean,
  ): Promise<{ retry: boolean; delaySeconds: number; attempts: number }> {
    return this.#counted(this.#tasks.attemptFailed(taskId, error, retryable, Date.now()));
  }

  taskEventsAfter(taskId: string, afterSeq: number): TaskEvent[] {
    return eventsAfter(this.ctx.storage.sql, taskId, afterSeq);
  }

  /**
   * Streams: `GET /tasks/{task_id}/events?after=N&max=M` (Server-Sent Events), forwarded by the
   * Worker, which passes its per-agent cap as `max` (429 once this agent has that many open).
   */
  override fetch(request: Request): Response {
    const url = new URL(request.url);
    const match = /^\/tasks\/([^/]+)\/events$/.exec(url.pathname);
    if (!match || request.method !== "GET") return new Response("Not found", { status: 404 });
    const after = Number(url.searchParams.get("after") ?? "0");
    const max = Number(url.searchParams.get("max") ?? "");
    return this.#streams.serve(
      this.ctx.storage.sql,
      this.#tasks,
      decodeURIComponent(match[1]!),
      Number.isSafeInteger(after) && after > 0 ? after : 0,
      Number.isSafeInteger(max) && max > 0 ? max : getConfig(this.env).sseMaxStreamsPerAgent,
    );
  }

  /** This agent's open event streams. */
  openEventStreams(): number {
    return this.#streams.open;
  }

  // ── scaling: the rules live in Scaling, lanes and metrics ──

  scale(agentId: string, target: number, requestId?: string): Promise<ScaleSnapshot> {
    return this.#scaling.scale(agentId, target, Date.now(), "requested", requestId);
  }

  metrics(agentId: string): AgentMetrics & { autoscale: AutoscalePolicy } {
    return this.#scaling.metrics(agentId, Date.now());
  }

  getAutoscale(): AutoscalePolicy {
    return this.#scaling.getAutoscale();
  }

  setAutoscale(agentId: string, policy: { enabled: boolean; min_instances: number; max_instances: number }): Promise<AutoscalePolicy> {
    return this.#scaling.setAutoscale(agentId, policy, Date.now());
  }

  // ── approvals: the rules live in Approvals ──

  createApproval(input: NewApproval): Promise<ApprovalRecord> {
    return this.#approvals.create(input);
  }

  getApproval(approvalId: string): ApprovalRecord | null {
    return this.#approvals.get(approvalId);
  }

  recordApprovalEmail(approvalId: string, outcome: MailOutcome): ApprovalRecord | null {
    return this.#approvals.recordEmail(approvalId, outcome);
  }

  decideApproval(approvalId: string, decision: Decision): Promise<DecisionResult> {
    return this.#counted(this.#approvals.decide(approvalId, decision, Date.now()));
  }

  override async alarm(): Promise<void> {
    const now = Date.now();
    const due = this.#timers.takeDue(now);
    if (due.includes(ROLLUP_TIMER)) await this.#rollup.run(now);
    // Both checks are cheap scans that act only on what is really due, so any alarm runs them.
    await this.#tasks.watchdog(now);
    // Any alarm is a chance to repair: the sync writes only the copies that are due, and a failed
    // copy retried early (its retry timer not yet due) only shortens the wait.
    await this.#sync.run(true);
    if (due.includes(AUTOSCALE_TIMER)) await this.#scaling.tick(now);
    if (due.includes(DISPATCH_RETRY_TIMER)) await this.#tasks.dispatch(now);
    // Expiries, callbacks and index repair are all scans of what is really due.
    await this.#approvals.run(now);
    // Timeouts and expiries above may have finished tasks.
    await this.#rollup.schedule(now);
    await this.#timers.rearm();
  }

  /** A task operation's result, once the task roll-up for /metrics knows to publish what it changed. */
  async #counted<T>(work: Promise<T>): Promise<T> {
    const result = await work;
    await this.#rollup.schedule(Date.now());
    return result;
  }

  /**
   * Appends a version in one transaction: precondition, the new row (from `content`, which may
   * refuse with a result) and history pruning. Then the derived stores' timer is made sure of,
   * and a copy that is due at once runs in the background.
   */
  async #write(
    input: { agentId: string; expectedVersion?: number | "*"; nowMs: number; historyLimit: number; copyIntervals: CopyIntervals },
    content: (meta: ReturnType<typeof readMeta>) => NewContent | Extract<WriteResult, { ok: false }>,
  ): Promise<WriteResult> {
    const sql = this.ctx.storage.sql;
    const result = this.ctx.storage.transactionSync((): WriteResult => {
      const meta = readMeta(sql);
      if (!matches(input.expectedVersion, meta?.version ?? null)) {
        return { ok: false, reason: "version_mismatch", current: meta?.version ?? null };
      }
      const next = content(meta);
      if ("ok" in next) return next;
      const row = appendVersion(sql, meta, { agentId: input.agentId, nowMs: input.nowMs, historyLimit: input.historyLimit, ...next });
      if (!meta) this.#sync.noteCreated(input.agentId);
      return { ok: true, version: row.version, created_at: row.created_at, updated_at: row.updated_at };
    });
    if (result.ok && (await this.#sync.schedule(input.copyIntervals))) this.ctx.waitUntil(this.#sync.run());
    return result;
  }
}
