/**
 * Runs the attempts of one agent's tasks that arrived in one queue batch. The agent's Durable
 * Object decides whether an attempt may start, records progress and outcomes, and hands out
 * lanes; this module only runs the handlers and says what to do with each message.
 *
 * - The attempts run concurrently: with N instances, N tasks of one agent run at once. The
 *   agent is asked once which of its tasks may start, and the outcomes of attempts that finish
 *   together go back in one call (`Completions`), so a batch of quick tasks costs two calls to
 *   the agent, not two per task.
 * - A throwing handler is retried with exponential backoff (the verdict carries the delay) until
 *   the task's `max_attempts`; then the task fails and goes to the dead-letter queue.
 * - Cancellation is cooperative: every progress report is a checkpoint, and a background check
 *   every second aborts `ctx.signal` (for handlers waiting on I/O) once the task is cancelled
 *   or timed out: one call per agent and batch for all its running attempts (`CancelWatch`).
 */
import { warn } from "../lib/log";
import { NonRetryableError, TaskCancelled, type TaskContext } from "./handler";
import { handlerFor } from "./handlers/registry";
import { isTerminal, type AttemptStart, type TaskRecord, type TaskResult, type TaskStatus } from "./model";
import type { AgentDO } from "../../durable-objects/agent";

/** What the queue consumer does with an attempt's message. */
export type AttemptVerdict = { ack: true } | { ack: false; retryAfterSeconds: number };

const ACK: AttemptVerdict = { ack: true };

type Agent = DurableObjectStub<AgentDO>;
type Outcome = { result?: unknown; error_message?: string };

/** Runs one agent's attempts, one per task id; resolves with a verdict per task, in order. */
export async function runAttempts(env: Env, agentId: string, taskIds: string[]): Promise<AttemptVerdict[]> {
  const agent = env.AGENT.getByName(agentId);
  const starts = await agent.beginTaskAttempts(taskIds);
  const completions = new Completions(agent);
  const cancels = new CancelWatch(agent);
  return Promise.all(taskIds.map((taskId, i) => runAttempt({ agent, agentId, taskId, start: starts[i]!, completions, cancels }, env)));
}

const CANCEL_POLL_MS = 1000;

/**
 * Outcomes reported within one turn of the event loop go to the agent in one call: quick tasks
 * of a batch finish together, and each still gets its own result back.
 */
class Completions {
  readonly #agent: Agent;
  #waiting: { taskId: string; outcome: Outcome; resolve: (r: TaskResult<TaskRecord>) => void; reject: (e: unknown) => void }[] = [];

  constructor(agent: Agent) {
    this.#agent = agent;
  }

  complete(taskId: string, outcome: Outcome): Promise<TaskResult<TaskRecord>> {
    return new Promise((resolve, reject) => {
      if (this.#waiting.length === 0) setTimeout(() => void this.#flush(), 0);
      this.#waiting.push({ taskId, outcome, resolve, reject });
    });
  }

  async #flush(): Promise<void> {
    const items = this.#waiting.splice(0);
    try {
      const results = await this.#agent.completeTasks(items.map((i) => ({ taskId: i.taskId, ...i.outcome })));
      items.forEach((item, n) => item.resolve(results[n]!));
    } catch (err) {
      for (const item of items) item.reject(err);
    }
  }
}

/**
 * The cancellation check of one agent's running attempts in a batch: while any runs, once a
 * second one call asks the agent for all their statuses, and an attempt whose task has ended
 * (cancelled, timed out) or is gone is stopped. Attempts that end within the second cost no call.
 */
class CancelWatch {
  readonly #agent: Agent;
  readonly #stops = new Map<string, (why: string) => void>();
  #timer: ReturnType<typeof setInterval> | null = null;

  constructor(agent: Agent) {
    this.#agent = agent;
  }

  /** Watches the task until the returned function is called. */
  watch(taskId: string, stop: (why: string) => void): () => void {
    this.#stops.set(taskId, stop);
    this.#timer ??= setInterval(() => void this.#check(), CANCEL_POLL_MS);
    return () => {
      this.#stops.delete(taskId);
      if (this.#stops.size === 0 && this.#timer !== null) {
        clearInterval(this.#timer);
        this.#timer = null;
      }
    };
  }

  async #check(): Promise<void> {
    const ids = [...this.#stops.keys()];
    let statuses: (TaskStatus | null)[];
    try {
      statuses = await this.#agent.taskStatuses(ids);
    } catch {
      return; // The next check asks again.
    }
    ids.forEach((id, i) => {
      const status = statuses[i] ?? null;
      if (status === null || isTerminal(status)) this.#stops.get(id)?.(`The task is ${status ?? "gone"}`);
    });
  }
}

async function runAttempt(
  {
    agent,
    agentId,
    taskId,
    start,
    completions,
    cancels,
  }: { agent: Agent; agentId: string; taskId: string; start: AttemptStart; completions: Completions; cancels: CancelWatch },
  env: Env,
): Promise<AttemptVerdict> {
  if (!start.run) return ACK;
  const handler = handlerFor(start.task.task_type);
  if (!handler) {
    await completions.complete(taskId, { error_message: `No built-in handler for task type '${start.task.task_type}'` });
    return ACK;
  }

  const controller = new AbortController();
  let stopped = false;
  const stop = (why: string) => {
    stopped = true;
    controller.abort(new TaskCancelled(why));
  };
  const unwatch = cancels.watch(taskId, stop);

  const ctx: TaskContext = {
    taskId,
    agentId,
    taskType: start.task.task_type,
    attempt: start.attempt,
    requestId: start.task.request_id ?? undefined,
    metadata: JSON.parse(start.task.metadata_json) as Record<string, unknown>,
    signal: controller.signal,
    async progress(percent, msg) {
      const res = await agent.updateTaskProgress(taskId, { progress: percent, ...(msg !== undefined ? { message: msg } : {}) });
      if (!res.ok) {
        stop(res.reason === "conflict" ? `The task is ${res.status}` : "The task is gone");
        throw controller.signal.reason as TaskCancelled;
      }
    },
    async checkpoint() {
      const t = await agent.getTask(taskId);
      if (!t || isTerminal(t.status)) stop(`The task is ${t?.status ?? "gone"}`);
      if (stopped) throw controller.signal.reason as TaskCancelled;
    },
  };

  try {
    const result = await handler(ctx);
    if (stopped) throw controller.signal.reason as TaskCancelled;
    await completions.complete(taskId, { result: result ?? null });
    return ACK;
  } catch (err) {
    if (stopped || err instanceof TaskCancelled) return ACK;
    const error = err instanceof Error ? err.message : String(err);
    const outcome = await agent.taskAttemptFailed(taskId, error, !(err instanceof NonRetryableError));
    if (outcome.retry) {
      warn({
        event: "task.attempt_failed",
        agent_id: agentId,
        task_id: taskId,
        attempt: outcome.attempts,
        error,
        retry_in_s: outcome.delaySeconds,
      });
      return { ack: false, retryAfterSeconds: outcome.delaySeconds };
    }
    warn({ event: "task.attempt_failed", agent_id: agentId, task_id: taskId, attempt: outcome.attempts, error });
    await env.TASK_DLQ.send({ task_id: taskId, agent_id: agentId, error, attempts: outcome.attempts });
    return ACK;
  } finally {
    unwatch();
  }
}
