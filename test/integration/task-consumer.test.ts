/**
 * The queue consumer in isolation: batches made with createMessageBatch, run through the
 * Worker's queue() handler, with the outcome read by getQueueResult.
 *
 * A message must name a dispatched task. Creating a built-in task over HTTP would also put a
 * message on the real queue, so these tests create an external task (which holds a lane from
 * the start, and is never sent to the queue) and then turn it into a queue task in the agent's
 * SQLite database; only the batches built here ever run it.
 */
import { createExecutionContext, createMessageBatch, getQueueResult, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { AgentDO } from "../../durable-objects/agent";
import { call } from "../helpers/api";
import { DEAD_LETTER_QUEUE_NAME, TASK_QUEUE_NAME } from "../../workers/task-consumer";
import { createTask, deadLettersFor, getTask } from "../helpers/tasks";

const TARGET = "https://consumer-unit.example.test/";
/** The Worker's queue handler, called with the platform's full signature. */
const queueHandler: ExportedHandlerQueueHandler<Env, unknown> = worker.queue;

afterEach(() => {
  vi.restoreAllMocks();
});

/** An external task turned into a dispatched queue task of `taskType`. */
async function dispatchedTask(agentId: string, taskType: string, metadata: Record<string, unknown> = {}, maxAttempts = 3): Promise<string> {
  const id = await createTask(agentId, { task_type: "render_later", metadata, max_attempts: maxAttempts });
  await runInDurableObject(env.AGENT.getByName(agentId), (_instance, state) => {
    state.storage.sql.exec("UPDATE tasks SET executor = 'queue', task_type = ? WHERE task_id = ?", taskType, id);
  });
  const task = await getTask(id);
  expect(task).toMatchObject({ task_type: taskType, status: "pending", instance_id: `${agentId}_instance_0` });
  return id;
}

async function runBatch(queue: string, messages: { id: string; body: unknown; attempts?: number }[]) {
  const batch = createMessageBatch(
    queue,
    messages.map((m) => ({ id: m.id, timestamp: new Date(), attempts: m.attempts ?? 1, body: m.body })),
  );
  // getQueueResult lists retried messages by id only; the spies (which call through) keep the
  // options each retry() was given, so the backoff is visible too.
  const retries = batch.messages.map((m) => vi.spyOn(m, "retry"));
  const ctx = createExecutionContext();
  await queueHandler(batch, env, ctx);
  const result = await getQueueResult(batch, ctx);
  const retryOptions = Object.fromEntries(
    batch.messages.flatMap((m, i) => retries[i]!.mock.calls.map((args) => [m.id, args[0]?.delaySeconds] as const)),
  );
  return { ...result, retryMessages: result.retryMessages.map((r) => ({ msgId: r.msgId, delaySeconds: retryOptions[r.msgId] })) };
}

function fail503() {
  const realFetch = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const url = new Request(input as RequestInfo, init).url;
    if (url !== TARGET) return realFetch(input as RequestInfo, init);
    return new Response("unavailable", { status: 503 });
  });
}

describe("task queue consumer", () => {
  it("a successful attempt is explicitly acked and completes the task", async () => {
    const id = await dispatchedTask("unit-ok", "noop");
    const result = await runBatch(TASK_QUEUE_NAME, [{ id: "ok-1", body: { task_id: id, agent_id: "unit-ok" } }]);
    expect(result.outcome).toBe("ok");
    expect(result.explicitAcks).toEqual(["ok-1"]);
    expect(result.retryMessages).toEqual([]);
    expect(result.ackAll).toBe(false);
    expect(await getTask(id)).toMatchObject({ status: "completed", attempts: 1, progress: 100, result: { ok: true } });
  });

  it("a failing attempt is retried with exponential delaySeconds, then failed, acked and dead-lettered", async () => {
    fail503();
    const agent = "unit-retry";
    const id = await dispatchedTask(agent, "http_request", { url: TARGET }, 3);
    const body = { task_id: id, agent_id: agent };

    const first = await runBatch(TASK_QUEUE_NAME, [{ id: "r-1", body, attempts: 1 }]);
    expect(first.retryMessages).toEqual([{ msgId: "r-1", delaySeconds: 1 }]);
    expect(first.explicitAcks).toEqual([]);
    expect(await getTask(id)).toMatchObject({ status: "pending", attempts: 1 });
    expect((await getTask(id)).error_message).toMatch(/503/);

    const second = await runBatch(TASK_QUEUE_NAME, [{ id: "r-1", body, attempts: 2 }]);
    expect(second.retryMessages).toEqual([{ msgId: "r-1", delaySeconds: 2 }]);
    expect(await getTask(id)).toMatchObject({ status: "pending", attempts: 2 });

    const third = await runBatch(TASK_QUEUE_NAME, [{ id: "r-1", body, attempts: 3 }]);
    expect(third.retryMessages).toEqual([]);
    expect(third.explicitAcks).toEqual(["r-1"]);
    const failed = await getTask(id);
    expect(failed).toMatchObject({ status: "failed", attempts: 3, progress: 100 });
    expect(failed.error_message).toMatch(/503/);
    // The consumer sent it to the real dead-letter queue, whose consumer writes D1.
    await expect.poll(async () => (await deadLettersFor(id)).map((r) => r.attempts), { timeout: 10_000, interval: 100 }).toEqual([3]);

    // A late duplicate delivery of the same message does nothing more.
    const late = await runBatch(TASK_QUEUE_NAME, [{ id: "r-1", body, attempts: 4 }]);
    expect(late.explicitAcks).toEqual(["r-1"]);
    expect(await getTask(id)).toMatchObject({ status: "failed", attempts: 3 });
  }, 20_000);

  it("invalid input fails at once: acked, not retried", async () => {
    const id = await dispatchedTask("unit-bad-input", "data_analysis", { data: "not csv without a field" });
    const result = await runBatch(TASK_QUEUE_NAME, [{ id: "b-1", body: { task_id: id, agent_id: "unit-bad-input" } }]);
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks).toEqual(["b-1"]);
    const task = await getTask(id);
    expect(task).toMatchObject({ status: "failed", attempts: 1 });
    expect(task.error_message).toMatch(/field/);
  });

  it("a malformed message is acked and recorded through the dead-letter queue", async () => {
    const marker = `junk-${crypto.randomUUID()}`;
    const result = await runBatch(TASK_QUEUE_NAME, [
      { id: "m-1", body: { marker } },
      { id: "m-2", body: "plain text" },
    ]);
    expect(result.retryMessages).toEqual([]);
    expect([...result.explicitAcks].sort()).toEqual(["m-1", "m-2"]);
    await expect
      .poll(
        async () => (await env.DB.prepare("SELECT error, task_id FROM dead_letters WHERE body LIKE ?").bind(`%${marker}%`).all()).results,
        { timeout: 10_000, interval: 100 },
      )
      .toEqual([{ error: "malformed task message", task_id: null }]);
  });

  it("a message for an unknown task, or a finished one, is acked and changes nothing", async () => {
    const unknown = `task_${"ab".repeat(12)}`;
    const done = await dispatchedTask("unit-known", "noop");
    await runBatch(TASK_QUEUE_NAME, [{ id: "k-0", body: { task_id: done, agent_id: "unit-known" } }]);
    const before = await getTask(done);
    expect(before.status).toBe("completed");

    const result = await runBatch(TASK_QUEUE_NAME, [
      { id: "u-1", body: { task_id: unknown, agent_id: "unit-nobody" } },
      { id: "u-2", body: { task_id: done, agent_id: "unit-known" } },
    ]);
    expect([...result.explicitAcks].sort()).toEqual(["u-1", "u-2"]);
    expect(result.retryMessages).toEqual([]);
    expect(await getTask(done)).toEqual(before);
  });

  it("a message for an external task that was never dispatched is acked without running", async () => {
    const id = await createTask("unit-external", { task_type: "render_video" });
    const result = await runBatch(TASK_QUEUE_NAME, [{ id: "e-1", body: { task_id: id, agent_id: "unit-external" } }]);
    expect(result.explicitAcks).toEqual(["e-1"]);
    expect(await getTask(id)).toMatchObject({ status: "pending", attempts: 0, started_at: null });
  });

  it("a batch runs its messages, each with its own outcome", async () => {
    fail503();
    const okId = await dispatchedTask("unit-mixed-a", "noop");
    const badId = await dispatchedTask("unit-mixed-b", "http_request", { url: TARGET });
    const result = await runBatch(TASK_QUEUE_NAME, [
      { id: "x-ok", body: { task_id: okId, agent_id: "unit-mixed-a" } },
      { id: "x-bad", body: { task_id: badId, agent_id: "unit-mixed-b" } },
    ]);
    expect(result.explicitAcks).toEqual(["x-ok"]);
    expect(result.retryMessages).toEqual([{ msgId: "x-bad", delaySeconds: 1 }]);
  });

  it("one agent's messages of a batch cost one start call and one completion call, each task its own outcome", async () => {
    const agent = "unit-grouped";
    const a = await dispatchedTask(agent, "noop");
    const b = await dispatchedTask(agent, "data_analysis", { data: [1, 2, 3, 4, 5] });
    const cancelled = await dispatchedTask(agent, "noop");
    await call(`/api/v2/tasks/${cancelled}/cancel`, { method: "POST" });
    const other = await dispatchedTask("unit-grouped-other", "noop");
    const begin = vi.spyOn(AgentDO.prototype, "beginTaskAttempts");
    const complete = vi.spyOn(AgentDO.prototype, "completeTasks");
    const result = await runBatch(TASK_QUEUE_NAME, [
      { id: "g-a", body: { task_id: a, agent_id: agent } },
      { id: "g-other", body: { task_id: other, agent_id: "unit-grouped-other" } },
      { id: "g-b", body: { task_id: b, agent_id: agent } },
      { id: "g-cancelled", body: { task_id: cancelled, agent_id: agent } },
    ]);
    expect(result.explicitAcks.sort()).toEqual(["g-a", "g-b", "g-cancelled", "g-other"]);
    expect(result.retryMessages).toEqual([]);
    // Per agent: one start call with all its task ids, one completion call with those that ran.
    expect(begin.mock.calls.map(([ids]) => ids)).toEqual(expect.arrayContaining([[a, b, cancelled], [other]]));
    expect(begin).toHaveBeenCalledTimes(2);
    expect(complete).toHaveBeenCalledTimes(2);
    const grouped = complete.mock.calls.find(([outcomes]) => outcomes.length === 2)![0];
    expect(grouped.map((o) => o.taskId).sort()).toEqual([a, b].sort());
    expect(await getTask(a)).toMatchObject({ status: "completed", result: { ok: true } });
    expect(await getTask(b)).toMatchObject({ status: "completed", result: { count: 5, mean: 3 } });
    expect(await getTask(cancelled)).toMatchObject({ status: "cancelled", attempts: 0 });
    expect(await getTask(other)).toMatchObject({ status: "completed", attempts: 1 });
  });
});

describe("cancellation checks", () => {
  it("attempts of one agent running together share one status call a second, which stops a handler waiting on I/O whose task ended", async () => {
    const agent = "unit-cancel-watch";
    const slowUrl = "https://never-answers.example.test/unit";
    const realFetch = globalThis.fetch;
    const statuses = vi.spyOn(AgentDO.prototype, "taskStatuses");
    const perTask = vi.spyOn(AgentDO.prototype, "getTask");
    // How many status checks had run when the hanging fetch was aborted.
    const seen = { checksBeforeAbort: null as number | null };
    vi.spyOn(globalThis, "fetch").mockImplementation((input, init) => {
      const req = new Request(input as RequestInfo, init);
      if (req.url !== slowUrl) return realFetch(input as RequestInfo, init);
      return new Promise<Response>((_resolve, reject) => {
        req.signal.addEventListener("abort", () => {
          seen.checksBeforeAbort = statuses.mock.calls.length;
          reject(req.signal.reason);
        });
      });
    });
    // The delays outlast the first check (due 1 s after the attempts start) by a wide margin, so
    // all three tasks are still running when it comes.
    const delays = [await dispatchedTask(agent, "delay", { seconds: 4 }), await dispatchedTask(agent, "delay", { seconds: 4 })];
    const waiting = await dispatchedTask(agent, "http_request", { url: slowUrl, timeout_seconds: 60 });
    const ids = [...delays, waiting];
    statuses.mockClear();
    perTask.mockClear();
    // The waiting task ends (as a cancel or a timeout elsewhere would) while its fetch hangs.
    setTimeout(() => {
      void runInDurableObject(env.AGENT.getByName(agent), (_i, state) => {
        state.storage.sql.exec("UPDATE tasks SET status = 'cancelled', completed_at = ? WHERE task_id = ?", Date.now(), waiting);
      });
    }, 300);
    const started = Date.now();
    const result = await runBatch(
      TASK_QUEUE_NAME,
      ids.map((id, i) => ({ id: `w-${i}`, body: { task_id: id, agent_id: agent } })),
    );
    const elapsedMs = Date.now() - started;
    expect(result.explicitAcks.sort()).toEqual(["w-0", "w-1", "w-2"]);
    // One call asks about all three running tasks at once; nothing asks per task; and there is at
    // most one call for each second the batch ran (a slow run only allows more).
    expect([...statuses.mock.calls[0]![0]].sort()).toEqual([...ids].sort());
    expect(perTask).not.toHaveBeenCalled();
    expect(statuses.mock.calls.length).toBeLessThanOrEqual(Math.ceil(elapsedMs / 1000));
    // A check aborted the hanging fetch (its own timeout is a minute away), and the batch could end.
    expect(seen.checksBeforeAbort).toBeGreaterThanOrEqual(1);
    for (const id of delays) expect((await getTask(id)).status).toBe("completed");
    expect(await getTask(waiting)).toMatchObject({ status: "cancelled", result: null });
  }, 30_000);
});

describe("dead-letter queue consumer", () => {
  it("writes each message to D1 dead_letters and acks the whole batch", async () => {
    const taskId = `task_${"cd".repeat(12)}`;
    const result = await runBatch(DEAD_LETTER_QUEUE_NAME, [
      { id: "dlq-1", body: { task_id: taskId, agent_id: "unit-dlq", error: "boom", attempts: 3 } },
      { id: "dlq-2", body: "something else entirely" },
    ]);
    expect(result.ackAll).toBe(true);
    expect(result.retryMessages).toEqual([]);
    expect(result.retryBatch.retry).toBe(false);

    const { results } = await env.DB.prepare(
      "SELECT message_id, task_id, agent_id, error, attempts, body FROM dead_letters WHERE message_id IN ('dlq-1', 'dlq-2') ORDER BY message_id",
    ).all();
    expect(results).toEqual([
      {
        message_id: "dlq-1",
        task_id: taskId,
        agent_id: "unit-dlq",
        error: "boom",
        attempts: 3,
        body: JSON.stringify({ task_id: taskId, agent_id: "unit-dlq", error: "boom", attempts: 3 }),
      },
      { message_id: "dlq-2", task_id: null, agent_id: null, error: null, attempts: null, body: JSON.stringify("something else entirely") },
    ]);

    // A redelivered dead letter is not recorded twice.
    const again = await runBatch(DEAD_LETTER_QUEUE_NAME, [{ id: "dlq-1", body: { task_id: taskId, error: "boom" } }]);
    expect(again.ackAll).toBe(true);
    expect(await deadLettersFor(taskId)).toHaveLength(1);
  });
});
