/** Idempotency-Key on task creation (docs/tasks-and-scaling.md): a retried create returns the first task. */
import { describe, expect, it } from "vitest";
import { call, json } from "../helpers/api";
import { listTasks } from "../helpers/tasks";

type Created = { success: boolean; task_id: string; agent_id: string; task_type: string; status: string };

/** The ids the API finds by id (no agent given): each task once, whatever the retries. */
async function findable(ids: string[]): Promise<string[]> {
  const found = [];
  for (const id of ids) if ((await call(`/api/v2/tasks/${id}`)).status === 200) found.push(id);
  return found;
}

function create(agentId: string, key: string | undefined, body: Record<string, unknown> = { task_type: "render_video" }) {
  return call(`/api/v2/agents/${agentId}/tasks`, { body, headers: key ? { "Idempotency-Key": key } : {} });
}

describe("idempotent task creation", () => {
  it("the same Idempotency-Key twice gives the same task: 202 then 200, one task, found by id", async () => {
    const agent = "idem-a";
    const first = await create(agent, "key-1");
    expect(first.status).toBe(202);
    const a = await json<Created>(first);
    const second = await create(agent, "key-1");
    expect(second.status).toBe(200);
    const b = await json<Created>(second);
    expect(b).toEqual(a);
    expect(second.headers.get("location")).toBe(`/api/v2/tasks/${a.task_id}`);

    const list = await listTasks(agent);
    expect(list.tasks.map((t) => t.task_id)).toEqual([a.task_id]);
    expect(await findable([a.task_id])).toEqual([a.task_id]);
  });

  it("a retry with the same key returns the first task even if it has moved on (and a different body)", async () => {
    const agent = "idem-b";
    const a = await json<Created>(await create(agent, "key-x"));
    await call(`/api/v2/tasks/${a.task_id}/progress`, { method: "PUT", body: { progress: 50 } });
    const again = await create(agent, "key-x", { task_type: "other_type", metadata: { n: 1 } });
    expect(again.status).toBe(200);
    expect(await json<Created>(again)).toMatchObject({ task_id: a.task_id, task_type: "render_video", status: "running" });
    expect((await listTasks(agent)).tasks).toHaveLength(1);
    expect(await findable([a.task_id])).toEqual([a.task_id]);
  });

  it("different keys, or no key, make different tasks", async () => {
    const agent = "idem-c";
    const ids = [];
    for (const key of ["k-1", "k-2", undefined, undefined]) {
      const res = await create(agent, key);
      expect(res.status).toBe(202);
      ids.push((await json<Created>(res)).task_id);
    }
    expect(new Set(ids).size).toBe(4);
    expect((await listTasks(agent)).tasks.map((t) => t.task_id)).toEqual(ids);
    expect(await findable(ids)).toEqual(ids);
  });

  it("concurrent creates with one key still make one task", async () => {
    const agent = "idem-d";
    const responses = await Promise.all([1, 2, 3, 4].map(() => create(agent, "same")));
    const bodies = await Promise.all(responses.map((r) => json<Created>(r)));
    expect(responses.map((r) => r.status).sort()).toEqual([200, 200, 200, 202]);
    expect(new Set(bodies.map((b) => b.task_id)).size).toBe(1);
    expect((await listTasks(agent)).tasks).toHaveLength(1);
    expect(await findable([bodies[0]!.task_id])).toEqual([bodies[0]!.task_id]);
  });

  it("keys are per agent: the same key on another agent makes another task", async () => {
    const a = await json<Created>(await create("idem-e1", "shared-key"));
    const res = await create("idem-e2", "shared-key");
    expect(res.status).toBe(202);
    const b = await json<Created>(res);
    expect(b.task_id).not.toBe(a.task_id);
    expect(b.agent_id).toBe("idem-e2");
  });

  it("a queued built-in task created twice with one key runs once", async () => {
    const agent = "idem-f";
    const a = await json<Created>(await create(agent, "noop-key", { task_type: "noop" }));
    const b = await json<Created>(await create(agent, "noop-key", { task_type: "noop" }));
    expect(b.task_id).toBe(a.task_id);
    await expect
      .poll(async () => (await listTasks(agent)).tasks.map((t) => [t.status, t.attempts]), { timeout: 10_000, interval: 50 })
      .toEqual([["completed", 1]]);
  });
});
