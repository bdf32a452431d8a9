/**
 * A queue send that fails after a task is claimed: the create (or completion) that caused it still
 * succeeds, the task goes back to the backlog instead of holding a lane with no message, and the
 * agent's alarm dispatches it again.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { AgentDO } from "../../durable-objects/agent";
import { call, json } from "../helpers/api";
import { createTask, getTask, waitForStatus } from "../helpers/tasks";

/** Makes the agent's queue binding refuse the next `sendBatch` (the engine holds that same object). */
async function failNextSend(agentId: string) {
  const stub = env.AGENT.getByName(agentId);
  return runInDurableObject(stub, (instance: AgentDO) => {
    const queue = (instance as unknown as { env: Env }).env.TASK_QUEUE;
    // The agents' objects share this binding object in tests: count only this test's sends.
    return vi.spyOn(queue, "sendBatch").mockClear().mockRejectedValueOnce(new Error("queue unavailable"));
  });
}

describe("dispatch when the queue send fails", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("the create answers 202, the task waits unclaimed, and the alarm dispatches it so it completes", async () => {
    const agent = "dispatch-retry";
    // The agent exists (one instance) before its queue is made to fail.
    await waitForStatus(
      (await json<{ task_id: string }>(await call(`/api/v2/agents/${agent}/tasks`, { body: { task_type: "noop" } }))).task_id,
      ["completed"],
    );
    const spy = await failNextSend(agent);

    const res = await call(`/api/v2/agents/${agent}/tasks`, { body: { task_type: "noop" } });
    expect(res.status).toBe(202);
    const { task_id } = await json<{ task_id: string }>(res);
    expect(spy).toHaveBeenCalledTimes(1);
    // Back in the backlog: pending and holding no lane (not a lane with no message).
    expect(await getTask(task_id)).toMatchObject({ status: "pending", instance_id: null, attempts: 0 });

    // The retry timer (2 s) fires the alarm, which dispatches the backlog; the task then runs.
    const done = await waitForStatus(task_id, ["completed"], 15_000);
    expect(done).toMatchObject({ status: "completed", attempts: 1, result: { ok: true } });
    expect(spy).toHaveBeenCalledTimes(2);
  });

  it("a finish whose freed lane cannot be dispatched still completes; the next task waits in the backlog until the alarm", async () => {
    const agent = "dispatch-retry-finish";
    // One instance: a running delay holds the only lane, so the noop behind it waits in the backlog.
    const first = await createTask(agent, { task_type: "delay", metadata: { seconds: 0.5 } });
    await waitForStatus(first, ["running"]);
    const next = await createTask(agent, { task_type: "noop" });
    expect(await getTask(next)).toMatchObject({ status: "pending", instance_id: null });
    const spy = await failNextSend(agent);

    // The delay's completion frees the lane; its dispatch of the noop is refused.
    expect(await waitForStatus(first, ["completed", "failed"])).toMatchObject({ status: "completed" });
    await expect.poll(() => spy.mock.calls.length, { timeout: 10_000, interval: 20 }).toBe(1);
    await expect.poll(async () => (await getTask(next)).instance_id, { timeout: 10_000, interval: 20 }).toBeNull();
    expect(await getTask(next)).toMatchObject({ status: "pending", attempts: 0 });

    const done = await waitForStatus(next, ["completed"], 15_000);
    expect(done).toMatchObject({ status: "completed", attempts: 1 });
    expect(spy).toHaveBeenCalledTimes(2);
  }, 20_000);
});
