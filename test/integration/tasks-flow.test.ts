import { describe, expect, it } from "vitest";
import { call, json } from "../helpers/api";

type Task = { task_id: string; status: string; progress: number; result: Record<string, unknown> | null; attempts: number; instance_id: string | null; started_at: string | null; completed_at: string | null; error_message: string | null };

async function waitForStatus(taskId: string, statuses: string[], timeout = 10_000): Promise<Task> {
  let task: Task | undefined;
  await expect
    .poll(
      async () => {
        task = await json<Task>(await call(`/api/v2/tasks/${taskId}`));
        return task.status;
      },
      { timeout, interval: 50 },
    )
    .toSatisfy((s: string) => statuses.includes(s));
  return task!;
}

describe("tasks through the real queue", () => {
  it("runs data_analysis to completed with real statistics", async () => {
    const res = await call("/api/v2/agents/analyst/tasks", { body: { task_type: "data_analysis", metadata: { data: [1, 2, 3, 4, 5] } } });
    expect(res.status).toBe(202);
    const created = await json<{ task_id: string; status: string }>(res);
    expect(created.status).toBe("pending");
    expect(res.headers.get("location")).toBe(`/api/v2/tasks/${created.task_id}`);
    const done = await waitForStatus(created.task_id, ["completed", "failed"]);
    expect(done).toMatchObject({ status: "completed", progress: 100, attempts: 1, instance_id: "analyst_instance_0" });
    expect(done.result).toMatchObject({ count: 5, mean: 3, median: 3, min: 1, max: 5 });
    expect(done.started_at).not.toBeNull();
    expect(done.completed_at).not.toBeNull();
  });
});
