/**
 * A running task silent for longer than timeout_seconds is failed by the agent's alarm.
 *
 * Most tests make the silence by moving the task's last activity into the past (`fallSilent`)
 * and then run the alarm, with a timeout of a minute: a busy machine can neither time a task out
 * too early nor keep one alive, so the outcome depends on the reports alone.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, json, problem } from "../helpers/api";
import { createTask, getTask, waitForStatus, type Task } from "../helpers/tasks";

const TIMEOUT_SECONDS = 60;

function progress(taskId: string, value: number): Promise<Response> {
  return call(`/api/v2/tasks/${taskId}/progress`, { method: "PUT", body: { progress: value } });
}

/** As if the task had been silent for `seconds`: its last activity moves that far into the past. */
async function fallSilent(agent: string, taskId: string, seconds: number): Promise<void> {
  await runInDurableObject(env.AGENT.getByName(agent), (_instance, state) => {
    const moved = state.storage.sql.exec(
      "UPDATE tasks SET last_activity_at = ? WHERE task_id = ?",
      Date.now() - seconds * 1000,
      taskId,
    ).rowsWritten;
    expect(moved).toBe(1);
  });
}

/** Runs the agent's alarm now; the watchdog runs on every alarm, and one must be set. */
async function runAlarm(agent: string): Promise<void> {
  expect(await runDurableObjectAlarm(env.AGENT.getByName(agent))).toBe(true);
}

describe("task timeout via the alarm", () => {
  it("a silent running external task fails as timed out", async () => {
    const agent = "sleepy";
    const id = await createTask(agent, { task_type: "render_video", timeout_seconds: TIMEOUT_SECONDS });
    expect((await json<Task>(await progress(id, 10))).status).toBe("running");
    await fallSilent(agent, id, TIMEOUT_SECONDS + 1);
    await runAlarm(agent);
    const task = await getTask(id);
    expect(task.status).toBe("failed");
    expect(task.error_message).toMatch(/timed out/i);
    expect(task.error_message).toContain(`${TIMEOUT_SECONDS} s`);
    expect(task.progress).toBe(100);
    expect(task.completed_at).not.toBeNull();
    // Terminal: a late report from the worker is refused.
    await problem(await progress(id, 50), 409);
  });

  it("the alarm fires on its own, without a nudge", async () => {
    // A real 1 s timeout and the real alarm; the wait is the timeout plus a wide margin.
    const id = await createTask("sleepy-2", { task_type: "render_video", timeout_seconds: 1 });
    await progress(id, 5);
    const task = await waitForStatus(id, ["failed"], 15_000);
    expect(task.error_message).toMatch(/timed out/i);
  }, 30_000);

  it("a running task that keeps reporting progress is not timed out", async () => {
    const agent = "chatty";
    const id = await createTask(agent, { task_type: "render_video", timeout_seconds: TIMEOUT_SECONDS });
    expect((await json<Task>(await progress(id, 1))).status).toBe("running");
    // Each time, the task has been silent for longer than its timeout, then reports: the report
    // restarts its clock, so the alarm that follows leaves it running.
    for (let n = 1; n <= 3; n++) {
      await fallSilent(agent, id, TIMEOUT_SECONDS + 1);
      expect((await progress(id, n * 10)).status).toBe(200);
      await runAlarm(agent);
      expect(await getTask(id)).toMatchObject({ status: "running", progress: n * 10, error_message: null });
    }
    // Then it goes silent, and is timed out.
    await fallSilent(agent, id, TIMEOUT_SECONDS + 1);
    await runAlarm(agent);
    expect(await getTask(id)).toMatchObject({ status: "failed" });
  });

  it("pending tasks are not timed out (the clock starts when they run)", async () => {
    const agent = "waiting";
    const id = await createTask(agent, { task_type: "render_video", timeout_seconds: TIMEOUT_SECONDS });
    await fallSilent(agent, id, TIMEOUT_SECONDS + 1);
    // A pending task arms no watchdog of its own: set an alarm so that the watchdog runs.
    await runInDurableObject(env.AGENT.getByName(agent), (_instance, state) => state.storage.setAlarm(Date.now() + 60_000));
    await runAlarm(agent);
    expect(await getTask(id)).toMatchObject({ status: "pending", error_message: null });
  });
});
