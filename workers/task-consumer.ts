/**
 * Consumer of the `agent-tasks` queue (one attempt of one task per message) and of its
 * dead-letter queue. The agent's Durable Object decides whether an attempt may start, records
 * progress and outcomes, and hands out lanes; this module only runs the handler.
 *
 * - Messages of a batch run concurrently: with N instances, N tasks of one agent run at once.
 *   The agent's Durable Object is asked once per batch which of its tasks may start, and the
 *   outcomes of attempts that finish together go back in one call (`Completions`), so a batch
 *   of quick tasks costs two calls to the agent, not two per task.
 * - A throwing handler is retried with exponential backoff (`message.retry({ delaySeconds })`)
 *   until the task's `max_attempts`; then the task fails and its message goes to the
 *   dead-letter queue, whose consumer records it in D1 (`dead_letters`).
 * - Cancellation is cooperative: every progress report is a checkpoint, and a background check
 *   every second aborts `ctx.signal` (for handlers waiting on I/O) once the task is cancelled
 *   or timed out: one call per agent and batch for all its running attempts (`CancelWatch`).
 */
import { z } from "zod";
import { log, warn } from "../src/lib/log";
import { NonRetryableError, TaskCancelled, type TaskContext } from "../src/tasks/handler";
import { handlerFor } from "../src/tasks/handlers/registry";
import { isTerminal, type AttemptStart, type TaskRecord, type TaskResult, type TaskStatus } from "../src/tasks/model";
import type { AgentDO } from "../durable-objects/agent";

export const TASK_QUEUE_NAME = "agent-tasks";
export const DEAD_LETTER_QUEUE_NAME = "agent-tasks-dlq";
const CANCEL_POLL_MS = 1000;

const TaskMessageSchema = z.object({ task_id: z.string().min(1), agent_id: z.string().min(1) });
const DeadLetterSchema = TaskMessageSchema.extend({ error: z.string().optional(), attempts: z.number().optional() }).partial();

type Agent = DurableObjectStub<AgentDO>;
type Outcome = { result?: unknown; error_message?: string };

export async function consumeTaskBatch(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  if (batch.queue === DEAD_LETTER_QUEUE_NAME) return recordDeadLetters(batch, env);
  const byAgent = new Map<string, { message: Message<unknown>; taskId: string }[]>();
  for (const message of batch.messages) {
    const parsed = TaskMessageSchema.safeParse(message.body);
    if (!parsed.success) {
      // A message we can never run (an older or foreign producer): keep it, but out of the way.
      await env.TASK_DLQ.send({ error: "malformed task message", body: message.body });
      message.ack();
      continue;
    }
    const list = byAgent.get(parsed.data.agent_id) ?? [];
    list.push({ message, taskId: parsed.data.task_id });
    byAgent.set(parsed.data.agent_id, list);
  }
  await Promise.all(
    [...byAgent].map(async ([agentId, items]) => {
      const agent = env.AGENT.getByName(agentId);
      const starts = await agent.beginTaskAttempts(items.map((i) => i.taskId));
      const completions = new Completions(agent);
      const cancels = new CancelWatch(agent);
      await Promise.all(items.map((item, i) => runAttempt(item.message, { agent, agentId, taskId: item.taskId, start: starts[i]!, completions, cancels }, env)));
    }),
  );
}

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
  message: Message<unknown>,
  {
    agent,
    agentId,
    taskId,
    start,
    completions,
    cancels,
  }: { agent: Agent; agentId: string; taskId: string; start: AttemptStart; completions: Completions; cancels: CancelWatch },
  env: Env,
): Promise<void> {
  if (!start.run) {
    message.ack();
    return;
  }
  const handler = handlerFor(start.task.task_type);
  if (!handler) {
    await completions.complete(taskId, { error_message: `No built-in handler for task type '${start.task.task_type}'` });
    message.ack();
    return;
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
    log({ event: "task.finished", agent_id: agentId, task_id: taskId, status: "completed" });
    message.ack();
  } catch (err) {
    if (stopped || err instanceof TaskCancelled) {
      message.ack();
      return;
    }
    const error = err instanceof Error ? err.message : String(err);
    const outcome = await agent.taskAttemptFailed(taskId, error, !(err instanceof NonRetryableError));
    if (outcome.retry) {
      warn({ event: "task.attempt_failed", agent_id: agentId, task_id: taskId, attempt: outcome.attempts, error, retry_in_s: outcome.delaySeconds });
      message.retry({ delaySeconds: outcome.delaySeconds });
      return;
    }
    warn({ event: "task.attempt_failed", agent_id: agentId, task_id: taskId, attempt: outcome.attempts, error });
    await env.TASK_DLQ.send({ task_id: taskId, agent_id: agentId, error, attempts: outcome.attempts });
    message.ack();
  } finally {
    unwatch();
  }
}

async function recordDeadLetters(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const now = Date.now();
  const statements = batch.messages.map((m) => {
    const body = DeadLetterSchema.safeParse(m.body);
    const info = body.success ? body.data : {};
    log({ event: "task.dead_lettered", agent_id: info.agent_id, task_id: info.task_id, error: info.error ?? "unknown" });
    return env.DB.prepare(
      "INSERT OR IGNORE INTO dead_letters (message_id, task_id, agent_id, error, attempts, body, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    ).bind(m.id, info.task_id ?? null, info.agent_id ?? null, info.error ?? null, info.attempts ?? null, JSON.stringify(m.body), now);
  });
  if (statements.length > 0) await env.DB.batch(statements);
  batch.ackAll();
}

