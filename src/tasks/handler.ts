/**
 * What a built-in task handler sees and may do. Handlers run in the queue consumer
 * (workers/task-consumer.ts); everything they report goes through the agent's Durable Object.
 */

export interface TaskContext {
  taskId: string;
  agentId: string;
  taskType: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** The request that created the task, for log lines about what the handler does. */
  requestId?: string;
  metadata: Record<string, unknown>;
  /** Aborted when the task is cancelled or times out; pass it to fetch and long waits. */
  signal: AbortSignal;
  /**
   * Reports progress (0–100, clamped) with an optional message, and doubles as a checkpoint:
   * throws `TaskCancelled` when the task was cancelled meanwhile.
   */
  progress(percent: number, message?: string): Promise<void>;
  /** A cancellation check without a progress report; throws `TaskCancelled`. */
  checkpoint(): Promise<void>;
}

/** A handler returns the task's `result` (any JSON value). Throwing fails the attempt. */
export type TaskHandler = (ctx: TaskContext) => Promise<unknown>;

/** Thrown at a checkpoint once the task was cancelled: the handler stops, nothing is retried. */
export class TaskCancelled extends Error {
  constructor(message = "The task was cancelled") {
    super(message);
    this.name = "TaskCancelled";
  }
}

/**
 * The input can never succeed (missing field, wrong type): the task fails at once instead of
 * being retried `max_attempts` times.
 */
export class NonRetryableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NonRetryableError";
  }
}
