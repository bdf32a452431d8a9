/**
 * Lanes as the task engine remembers them (durable-objects/agent/lanes.ts, LaneBook): the engine
 * counts the lanes it hands out and gets back in memory instead of reading the tables for each
 * task. These check that the count never lets two tasks share a lane and never loses one.
 */
import { describe, expect, it } from "vitest";
import { call } from "../helpers/api";
import { createTask, getTask, waitForStatus } from "../helpers/tasks";

describe("lanes held in memory by the task engine", () => {
  it("one instance runs one task at a time: a burst of delays runs back to back, never overlapping", async () => {
    const agent = "lanes-one-at-a-time";
    // The first task makes the agent (one instance) and leaves its backlog known to be empty.
    await waitForStatus(await createTask(agent, { task_type: "noop" }), ["completed"]);
    const ids = await Promise.all(Array.from({ length: 4 }, () => createTask(agent, { task_type: "delay", metadata: { seconds: 0.2 } })));
    const done = await Promise.all(ids.map((id) => waitForStatus(id, ["completed", "failed"], 15_000)));
    expect(done.map((t) => t.status)).toEqual(["completed", "completed", "completed", "completed"]);
    const spans = done.map((t) => [Date.parse(t.started_at!), Date.parse(t.completed_at!)] as const).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
  }, 30_000);

  it("a cancelled running task frees its lane for the backlog, exactly once", async () => {
    const agent = "lanes-cancel";
    await waitForStatus(await createTask(agent, { task_type: "noop" }), ["completed"]);
    const long = await createTask(agent, { task_type: "delay", metadata: { seconds: 30 } });
    await waitForStatus(long, ["running"]);
    // Two more that would run for a minute: only a cancel ends them, so what is observed below does
    // not depend on how fast the machine is.
    const waiting = await Promise.all([0, 1].map(() => createTask(agent, { task_type: "delay", metadata: { seconds: 60 } })));
    expect((await Promise.all(waiting.map(getTask))).map((t) => [t.status, t.instance_id])).toEqual([
      ["pending", null],
      ["pending", null],
    ]);
    expect((await call(`/api/v2/tasks/${long}/cancel`, { method: "POST" })).status).toBe(200);
    // The lane goes to the older waiting task only; the other stays in the backlog while it runs.
    const first = await waitForStatus(waiting[0]!, ["running"]);
    expect(first.instance_id).toBe(`${agent}_instance_0`);
    expect(await getTask(waiting[1]!)).toMatchObject({ status: "pending", instance_id: null });
    // Cancelling that one hands the lane on to the last.
    expect((await call(`/api/v2/tasks/${waiting[0]}/cancel`, { method: "POST" })).status).toBe(200);
    const second = await waitForStatus(waiting[1]!, ["running"]);
    expect(second.instance_id).toBe(`${agent}_instance_0`);
    const firstEnded = await getTask(waiting[0]!);
    expect(firstEnded.status).toBe("cancelled");
    expect(Date.parse(second.started_at!)).toBeGreaterThanOrEqual(Date.parse(firstEnded.completed_at!));
    expect((await call(`/api/v2/tasks/${waiting[1]}/cancel`, { method: "POST" })).status).toBe(200);
  }, 30_000);
});
