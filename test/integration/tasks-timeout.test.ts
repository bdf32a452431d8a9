/** A running task silent for longer than timeout_seconds is failed by the agent's alarm. */
import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, json, problem } from "../helpers/api";
import { createTask, getTask, sleep, waitForStatus, type Task } from "../helpers/tasks";

function progress(taskId: string, value: number): Promise<Response> {
  return call(`/api/v2/tasks/${taskId}/progress`, { method: "PUT", body: { progress: value } });
}

describe("task timeout via the alarm", () => {
  it("a silent running external task fails as timed out", async () => {
    const agent = "sleepy";
    const id = await createTask(agent, { task_type: "render_video", timeout_seconds: 1 });
    expect((await json<Task>(await progress(id, 10))).status).toBe("running");
    await sleep(1300);
    // The alarm may already have fired on schedule; running it again is harmless.
    await runDurableObjectAlarm(env.AGENT.getByName(agent));
    const task = await getTask(id);
    expect(task.status).toBe("failed");
    expect(task.error_message).toMatch(/timed out/i);
    expect(task.error_message).toContain("1 s");
    expect(task.progress).toBe(100);
    expect(task.completed_at).not.toBeNull();
    // Terminal: a late report from the worker is refused.
    await problem(await progress(id, 50), 409);
  });

  it("the alarm fires on its own, without a nudge", async () => {
    const id = await createTask("sleepy-2", { task_type: "render_video", timeout_seconds: 1 });
    await progress(id, 5);
    const task = await waitForStatus(id, ["failed"], 5000);
    expect(task.error_message).toMatch(/timed out/i);
  });

  it("a running task that keeps reporting progress is not timed out", async () => {
    const agent = "chatty";
    const id = await createTask(agent, { task_type: "render_video", timeout_seconds: 1 });
    const stub = env.AGENT.getByName(agent);
    const started = Date.now();
    let n = 0;
    // ~2.2 s of reports every 250 ms: twice the 1 s timeout in total, never 1 s silent.
    while (Date.now() - started < 2200) {
      expect((await progress(id, ++n)).status).toBe(200);
      await runDurableObjectAlarm(stub);
      await sleep(250);
    }
    await runDurableObjectAlarm(stub);
    expect(await getTask(id)).toMatchObject({ status: "running", progress: n, error_message: null });
    // Then it goes silent, and is timed out.
    await sleep(1300);
    await runDurableObjectAlarm(stub);
    expect(await getTask(id)).toMatchObject({ status: "failed" });
  }, 10_000);

  it("pending tasks are not timed out (the clock starts when they run)", async () => {
    const agent = "waiting";
    const id = await createTask(agent, { task_type: "render_video", timeout_seconds: 1 });
    await sleep(1300);
    await runDurableObjectAlarm(env.AGENT.getByName(agent));
    expect(await getTask(id)).toMatchObject({ status: "pending", error_message: null });
  });
});
