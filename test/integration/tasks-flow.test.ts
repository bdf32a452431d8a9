import { describe, expect, it } from "vitest";
import { call, json, problem } from "../helpers/api";
import { createTask, getTask, listTasks, waitForStatus } from "../helpers/tasks";

describe("tasks through the real queue", () => {
  it("runs data_analysis to completed with real statistics", async () => {
    const res = await call("/api/v2/agents/analyst/tasks", { body: { task_type: "data_analysis", metadata: { data: [1, 2, 3, 4, 5] } } });
    expect(res.status).toBe(202);
    const created = await json<{ success: boolean; task_id: string; agent_id: string; task_type: string; status: string }>(res);
    expect(created).toMatchObject({ success: true, agent_id: "analyst", task_type: "data_analysis", status: "pending" });
    expect(created.task_id).toMatch(/^task_[0-9a-f]{32}$/);
    expect(res.headers.get("location")).toBe(`/api/v2/tasks/${created.task_id}`);
    const done = await waitForStatus(created.task_id, ["completed", "failed"]);
    expect(done).toMatchObject({ status: "completed", progress: 100, attempts: 1, instance_id: "analyst_instance_0", error_message: null });
    expect(done.result).toMatchObject({ count: 5, sum: 15, mean: 3, median: 3, min: 1, max: 5, variance: 2, sample_variance: 2.5 });
    expect(done.started_at).not.toBeNull();
    expect(done.completed_at).not.toBeNull();
    expect(Date.parse(done.completed_at!)).toBeGreaterThanOrEqual(Date.parse(done.started_at!));
  });

  it("fails data_analysis with input only the run can find wrong at once, without retries", async () => {
    // The schema holds (CSV text with a field); that the CSV has no data rows shows when it runs.
    const id = await createTask("analyst-bad", { task_type: "data_analysis", metadata: { data: "a,b\n", field: "a" }, max_attempts: 3 });
    const done = await waitForStatus(id, ["completed", "failed"]);
    expect(done.status).toBe("failed");
    expect(done.attempts).toBe(1);
    expect(done.error_message).toMatch(/data/);
    expect(done.result).toBeNull();
    // Still failed, still one attempt: nothing retried it meanwhile.
    await new Promise((r) => setTimeout(r, 1200));
    expect(await getTask(id)).toMatchObject({ status: "failed", attempts: 1 });
  });
});

describe("reading tasks", () => {
  it("GET /api/v2/tasks/{id} shows the task as created", async () => {
    const id = await createTask("reader", { task_type: "render_video", metadata: { frames: 24 }, max_attempts: 5, timeout_seconds: 60 });
    const task = await getTask(id);
    expect(task).toMatchObject({
      task_id: id,
      agent_id: "reader",
      task_type: "render_video",
      status: "pending",
      progress: 0,
      progress_message: null,
      result: null,
      error_message: null,
      started_at: null,
      completed_at: null,
      metadata: { frames: 24 },
      attempts: 0,
      max_attempts: 5,
      timeout_seconds: 60,
    });
    expect(task.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  });

  it("404 for an unknown well-formed id, 422 for a malformed one", async () => {
    const unknown = `task_${"0".repeat(24)}`;
    await problem(await call(`/api/v2/tasks/${unknown}`), 404);
    await problem(await call(`/api/v2/tasks/${unknown}/progress`, { method: "PUT", body: { progress: 5 } }), 404);
    await problem(await call(`/api/v2/tasks/${unknown}/complete`, { body: {} }), 404);
    await problem(await call(`/api/v2/tasks/${unknown}/cancel`, { method: "POST" }), 404);
    for (const bad of ["task_123", "nope", `task_${"G".repeat(24)}`, `task_${"a".repeat(25)}`]) {
      const doc = await problem(await call(`/api/v2/tasks/${bad}`), 422);
      expect(JSON.stringify(doc.errors)).toContain("task_id");
    }
    await problem(await call(`/api/v2/tasks/task_123/cancel`, { method: "POST" }), 422);
  });

  it("lists an agent's tasks in creation order, filtered by status and paginated", async () => {
    const agent = "lister";
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await createTask(agent, { task_type: "render_video", metadata: { n: i } }));
    // Make two of them terminal so the status filter has something to pick.
    expect((await call(`/api/v2/tasks/${ids[1]}/cancel`, { method: "POST" })).status).toBe(200);
    expect((await call(`/api/v2/tasks/${ids[3]}/cancel`, { method: "POST" })).status).toBe(200);

    const all = await listTasks(agent);
    expect(all.tasks.map((t) => t.task_id)).toEqual(ids);
    expect(all.next_cursor).toBeNull();
    expect(all.tasks.map((t) => t.metadata.n)).toEqual([0, 1, 2, 3, 4]);

    expect((await listTasks(agent, "?status=cancelled")).tasks.map((t) => t.task_id)).toEqual([ids[1], ids[3]]);
    expect((await listTasks(agent, "?status=pending")).tasks.map((t) => t.task_id)).toEqual([ids[0], ids[2], ids[4]]);
    expect((await listTasks(agent, "?status=completed")).tasks).toEqual([]);

    // Pages of two: 2 + 2 + 1, each cursor continuing where the last page stopped.
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await listTasks(agent, `?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      expect(page.tasks.length).toBeLessThanOrEqual(2);
      seen.push(...page.tasks.map((t) => t.task_id));
      cursor = page.next_cursor;
      pages++;
    } while (cursor && pages < 10);
    expect(seen).toEqual(ids);
    expect(pages).toBe(3);

    // The filter and the cursor combine.
    const first = await listTasks(agent, "?status=pending&limit=1");
    expect(first.tasks.map((t) => t.task_id)).toEqual([ids[0]]);
    const rest = await listTasks(agent, `?status=pending&limit=5&cursor=${first.next_cursor}`);
    expect(rest.tasks.map((t) => t.task_id)).toEqual([ids[2], ids[4]]);
    expect(rest.next_cursor).toBeNull();
  });

  it("an agent without tasks lists none; bad list queries are 422", async () => {
    expect(await listTasks("empty-agent")).toEqual({ tasks: [], next_cursor: null });
    await problem(await call("/api/v2/agents/lister/tasks?status=done"), 422);
    await problem(await call("/api/v2/agents/lister/tasks?limit=0"), 422);
    await problem(await call("/api/v2/agents/lister/tasks?limit=101"), 422);
    await problem(await call("/api/v2/agents/lister/tasks?cursor=abc"), 422);
  });
});
