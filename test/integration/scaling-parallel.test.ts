import { describe, expect, it } from "vitest";
import { call, json } from "../helpers/api";

type Task = { task_id: string; status: string; instance_id: string | null; started_at: string | null; completed_at: string | null };

const SECONDS = 1.5;

/** Scales the agent, creates 3 delay tasks of `seconds` together and waits for all of them. */
async function runThree(agent: string, instances: number, seconds = SECONDS): Promise<{ tasks: Task[]; wallMs: number }> {
  expect((await call(`/api/v2/agents/${agent}/scale`, { body: { target_instances: instances } })).status).toBe(200);
  const t0 = Date.now();
  const created = await Promise.all(
    [0, 1, 2].map(
      async () =>
        (
          await json<{ task_id: string }>(
            await call(`/api/v2/agents/${agent}/tasks`, { body: { task_type: "delay", metadata: { seconds } } }),
          )
        ).task_id,
    ),
  );
  let tasks: Task[] = [];
  await expect
    .poll(
      async () => {
        tasks = await Promise.all(created.map(async (id) => json<Task>(await call(`/api/v2/tasks/${id}`))));
        return tasks.every((t) => t.status === "completed");
      },
      { timeout: 25_000, interval: 50 },
    )
    .toBe(true);
  return { tasks, wallMs: Date.now() - t0 };
}

const starts = (tasks: Task[]) => tasks.map((t) => Date.parse(t.started_at!)).sort((a, b) => a - b);

describe("instances are real lanes of parallel work", () => {
  it("3 instances run 3 delay tasks at once", { timeout: 30_000 }, async () => {
    // Tasks of 3 s, so that three starts a moment apart on a busy machine still overlap.
    const { tasks } = await runThree("par-three", 3, 3);
    expect(new Set(tasks.map((t) => t.instance_id)).size).toBe(3);
    // At once: the last of them started before the first of them finished, so for a moment all
    // three were running, each on its own instance.
    const lastStart = Math.max(...starts(tasks));
    const firstEnd = Math.min(...tasks.map((t) => Date.parse(t.completed_at!)));
    expect(lastStart).toBeLessThan(firstEnd);
  });

  it("1 instance runs them one after another", { timeout: 30_000 }, async () => {
    const { tasks, wallMs } = await runThree("par-one", 1);
    const s = starts(tasks);
    expect(s[2]! - s[0]!).toBeGreaterThanOrEqual(2 * SECONDS * 1000 - 500);
    expect(new Set(tasks.map((t) => t.instance_id))).toEqual(new Set(["par-one_instance_0"]));
    // No two ran at the same time.
    const byStart = [...tasks].sort((a, b) => Date.parse(a.started_at!) - Date.parse(b.started_at!));
    for (let i = 1; i < byStart.length; i++)
      expect(Date.parse(byStart[i]!.started_at!)).toBeGreaterThanOrEqual(Date.parse(byStart[i - 1]!.completed_at!));
    expect(wallMs).toBeGreaterThan(3 * SECONDS * 1000);
  });
});
