/**
 * The task lifecycle and what crosses RPC between the task service, the queue
 * consumer and AgentDO. Expected failures are values, as for state.
 *
 *   from \ to   pending  running  completed  failed  cancelled
 *   pending        ✓²       ✓         ✓         ✓        ✓
 *   running        ✓¹       ✓²        ✓         ✓        ✓
 *   completed, failed, cancelled: terminal, nothing (409)
 *
 *   ¹ a failed attempt waiting for its retry goes back to pending (attempts counts it)
 *   ² a progress report that keeps the status
 */
import type { Result } from "../lib/result";

export const TASK_STATUSES = ["pending", "running", "completed", "failed", "cancelled"] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
export const TERMINAL: readonly TaskStatus[] = ["completed", "failed", "cancelled"];

const ALLOWED: Record<TaskStatus, readonly TaskStatus[]> = {
  pending: ["pending", "running", "completed", "failed", "cancelled"],
  running: ["pending", "running", "completed", "failed", "cancelled"],
  completed: [],
  failed: [],
  cancelled: [],
};

export function canTransition(from: TaskStatus, to: TaskStatus): boolean {
  return ALLOWED[from].includes(to);
}

export function isTerminal(status: TaskStatus): boolean {
  return TERMINAL.includes(status);
}

/** A task as stored (times in epoch ms, JSON fields as text). */
export interface TaskRecord {
  task_id: string;
  agent_id: string;
  task_type: string;
  status: TaskStatus;
  progress: number;
  progress_message: string | null;
  result_json: string | null;
  error_message: string | null;
  created_at: number;
  started_at: number | null;
  completed_at: number | null;
  metadata_json: string;
  attempts: number;
  max_attempts: number;
  timeout_seconds: number;
  instance_id: string | null;
  last_activity_at: number;
  /** Set while the task waits for a human decision: it is not run, nor progressed, before. */
  approval_id: string | null;
  /** The approval the task was created behind, kept after the decision (the view's `approval_id`). */
  gate_approval_id: string | null;
  /** Whether a built-in handler runs it through the queue (else an external worker reports). */
  executor: "queue" | "external";
  /** The request that created it: log lines about changes no request made (queue, timers) carry it. */
  request_id?: string | null;
}

/**
 * One change, as streamed by `GET /api/v2/tasks/{id}/events`: `status` when the status changed,
 * `progress` when only progress or its message did, `approval` when the task's approval gate opened.
 */
export interface TaskEvent {
  seq: number;
  type: "status" | "progress" | "approval";
  status: TaskStatus;
  progress: number;
  message: string | null;
  at: number;
  /** Whether the task was waiting for its approval after this change. */
  waiting_for_approval: boolean;
}

export interface CreateTaskInput {
  agentId: string;
  taskType: string;
  /** The metadata as JSON: the Worker serializes it once (it needs the size anyway). */
  metadataJson: string;
  maxAttempts: number;
  timeoutSeconds: number;
  executor: "queue" | "external";
  idempotencyKey?: string;
  nowMs: number;
  requestId?: string;
}

export type TaskRefusal = { reason: "not_found" } | { reason: "conflict"; status: TaskStatus; detail: string; approvalId?: string };

export type TaskFailure = { ok: false } & TaskRefusal;

export type TaskResult<T> = Result<T, TaskRefusal>;

/** The queue message that asks the consumer to run one attempt of a task. */
export interface TaskMessage {
  task_id: string;
  agent_id: string;
}

/** What the consumer learns when it asks to start an attempt. */
export type AttemptStart =
  | { run: true; task: TaskRecord; attempt: number; deadline: number }
  | { run: false; reason: "terminal" | "not_found" | "waiting_for_approval" | "not_dispatched" };
