/** External tasks (no built-in handler): progress, completion, cancellation, terminal states. */
import { describe, expect, it } from "vitest";
import { call, json, problem } from "../helpers/api";
import { createTask, getTask, waitForStatus, type Task } from "../helpers/tasks";

const AGENT = "renderer";

async function progress(taskId: string, body: unknown): Promise<Response> {
  return call(`/api/v2/tasks/${taskId}/progress`, { method: "PUT", body });
}

describe("external tasks", () => {
  it("progress over JSON: pending → running sets started_at once; values are clamped", async () => {
    const id = await createTask(AGENT, { task_type: "render_video" });
    const first = await progress(id, { progress: 10, message: "encoding" });
    expect(first.status).toBe(200);
    const t1 = await json<Task>(first);
    expect(t1).toMatchObject({ task_id: id, status: "running", progress: 10, progress_message: "encoding", completed_at: null });
    expect(t1.started_at).not.toBeNull();

    await new Promise((r) => setTimeout(r, 20));
    const over = await json<Task>(await progress(id, { progress: 150 }));
    expect(over).toMatchObject({ status: "running", progress: 100, progress_message: "encoding" });
    expect(over.started_at).toBe(t1.started_at);

    const under = await json<Task>(await progress(id, { progress: -5, status: "running", message: "rewinding" }));
    expect(under).toMatchObject({ status: "running", progress: 0, progress_message: "rewinding" });
    expect(under.started_at).toBe(t1.started_at);

    const fraction = await json<Task>(await progress(id, { progress: 42.5 }));
    expect(fraction.progress).toBe(42.5);
    expect(await getTask(id)).toMatchObject({ status: "running", progress: 42.5, started_at: t1.started_at });
  });

  it("progress that keeps a task pending is accepted and does not start it", async () => {
    const id = await createTask("ext-queued", { task_type: "render_video" });
    const res = await call(`/api/v2/tasks/${id}/progress`, {
      method: "PUT",
      body: { progress: 5, status: "pending", message: "queued upstream" },
    });
    expect(res.status).toBe(200);
    expect(await getTask(id)).toMatchObject({ status: "pending", progress: 5, progress_message: "queued upstream", started_at: null });
  });

  it("a running external task holds no lane: a queued task on the same single instance still runs", async () => {
    const external = await createTask("ext-lane", { task_type: "render_video" });
    expect((await call(`/api/v2/tasks/${external}/progress`, { method: "PUT", body: { progress: 10 } })).status).toBe(200);
    const queued = await createTask("ext-lane", { task_type: "noop" });
    expect(await waitForStatus(queued, ["completed", "failed"])).toMatchObject({ status: "completed", instance_id: "ext-lane_instance_0" });
    expect(await getTask(external)).toMatchObject({ status: "running", instance_id: "ext-lane_instance_0" });
  });

  it("progress in the prototype's query form, with clamping", async () => {
    const id = await createTask(AGENT, { task_type: "render_video" });
    const res = await call(`/api/v2/tasks/${id}/progress?progress=42&message=${encodeURIComponent("half way")}`, { method: "PUT" });
    expect(res.status).toBe(200);
    expect(await json<Task>(res)).toMatchObject({ status: "running", progress: 42, progress_message: "half way" });

    const high = await call(`/api/v2/tasks/${id}/progress?progress=150&status=running`, { method: "PUT" });
    expect(await json<Task>(high)).toMatchObject({ status: "running", progress: 100 });
    const low = await call(`/api/v2/tasks/${id}/progress?progress=-5`, { method: "PUT" });
    expect(await json<Task>(low)).toMatchObject({ status: "running", progress: 0 });
    expect(await getTask(id)).toMatchObject({ progress: 0, progress_message: "half way" });
  });

  it("a running task may go back to pending (started_at kept) and run again", async () => {
    const id = await createTask(AGENT, { task_type: "render_video" });
    const running = await json<Task>(await progress(id, { progress: 30 }));
    const pending = await json<Task>(await progress(id, { progress: 30, status: "pending", message: "requeued" }));
    expect(pending).toMatchObject({ status: "pending", progress: 30, progress_message: "requeued", started_at: running.started_at });
    const again = await json<Task>(await progress(id, { progress: 35, status: "running" }));
    expect(again).toMatchObject({ status: "running", progress: 35, started_at: running.started_at });
  });

  it("complete with result → completed, progress 100, completed_at set", async () => {
    const id = await createTask(AGENT, { task_type: "render_video" });
    await progress(id, { progress: 60 });
    const res = await call(`/api/v2/tasks/${id}/complete`, { body: { result: { url: "https://cdn.example/v.mp4", frames: 240 } } });
    expect(res.status).toBe(200);
    const done = await json<Task>(res);
    expect(done).toMatchObject({
      status: "completed",
      progress: 100,
      result: { url: "https://cdn.example/v.mp4", frames: 240 },
      error_message: null,
    });
    expect(done.completed_at).not.toBeNull();
    expect(await getTask(id)).toEqual(done);
  });

  it("complete with error_message → failed; both at once → 422 and nothing changes", async () => {
    const id = await createTask(AGENT, { task_type: "render_video" });
    await progress(id, { progress: 20 });
    const both = await problem(await call(`/api/v2/tasks/${id}/complete`, { body: { result: 1, error_message: "x" } }), 422);
    expect(both.detail).toMatch(/not both/);
    expect(await getTask(id)).toMatchObject({ status: "running", progress: 20, completed_at: null });

    const res = await call(`/api/v2/tasks/${id}/complete`, { body: { error_message: "codec crashed" } });
    expect(res.status).toBe(200);
    const failed = await json<Task>(res);
    expect(failed).toMatchObject({ status: "failed", progress: 100, error_message: "codec crashed", result: null });
    expect(failed.completed_at).not.toBeNull();
  });

  it("complete without a body → completed with a null result", async () => {
    const id = await createTask(AGENT, { task_type: "render_video" });
    const res = await call(`/api/v2/tasks/${id}/complete`, { method: "POST" });
    expect(res.status).toBe(200);
    expect(await json<Task>(res)).toMatchObject({ status: "completed", progress: 100, result: null, error_message: null });
  });

  it("cancel → cancelled, also straight from pending", async () => {
    const id = await createTask(AGENT, { task_type: "render_video" });
    const res = await call(`/api/v2/tasks/${id}/cancel`, { method: "POST" });
    expect(res.status).toBe(200);
    const cancelled = await json<Task>(res);
    expect(cancelled).toMatchObject({ status: "cancelled", progress: 0, started_at: null });
    expect(cancelled.completed_at).not.toBeNull();
  });

  it("every transition out of a terminal state is 409 and changes nothing", async () => {
    const completed = await createTask(AGENT, { task_type: "render_video" });
    await call(`/api/v2/tasks/${completed}/complete`, { body: { result: "ok" } });
    const failed = await createTask(AGENT, { task_type: "render_video" });
    await call(`/api/v2/tasks/${failed}/complete`, { body: { error_message: "broken" } });
    const cancelled = await createTask(AGENT, { task_type: "render_video" });
    await call(`/api/v2/tasks/${cancelled}/cancel`, { method: "POST" });

    for (const [id, status] of [
      [completed, "completed"],
      [failed, "failed"],
      [cancelled, "cancelled"],
    ] as const) {
      const before = await getTask(id);
      expect(before.status).toBe(status);
      const attempts = [
        () => progress(id, { progress: 50 }),
        () => progress(id, { progress: 50, status: "running" }),
        () => progress(id, { progress: 50, status: "pending" }),
        () => call(`/api/v2/tasks/${id}/progress?progress=7`, { method: "PUT" }),
        () => call(`/api/v2/tasks/${id}/complete`, { body: { result: "again" } }),
        () => call(`/api/v2/tasks/${id}/complete`, { body: { error_message: "again" } }),
        () => call(`/api/v2/tasks/${id}/complete`, { method: "POST" }),
        () => call(`/api/v2/tasks/${id}/cancel`, { method: "POST" }),
      ];
      for (const attempt of attempts) {
        const doc = await problem(await attempt(), 409);
        expect(doc.detail).toContain(status);
      }
      expect(await getTask(id)).toEqual(before);
    }
  });

  it("progress cannot set a terminal status: 422 (schema), the task unchanged", async () => {
    const id = await createTask(AGENT, { task_type: "render_video" });
    await progress(id, { progress: 10 });
    const before = await getTask(id);
    for (const status of ["completed", "failed", "cancelled", "bogus"]) {
      const doc = await problem(await progress(id, { progress: 90, status }), 422);
      expect(JSON.stringify(doc.errors)).toContain("status");
    }
    await problem(await call(`/api/v2/tasks/${id}/progress?progress=90&status=completed`, { method: "PUT" }), 422);
    expect(await getTask(id)).toEqual(before);
  });
});
