/**
 * The D1 task index, written by the agent's Durable Object with group commit
 * (durable-objects/agent/task-index.ts): every created task is findable by id as soon as its
 * create has answered, concurrent creates share writes, and a failed index write leaves nothing.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, json, problem } from "../helpers/api";
import { listTasks } from "../helpers/tasks";

type Created = { task_id: string; status: string };

const create = (agentId: string, headers: Record<string, string> = {}) =>
  call(`/api/v2/agents/${agentId}/tasks`, { body: { task_type: "render_later" }, headers });

async function indexed(agentId: string): Promise<string[]> {
  const { results } = await env.DB.prepare("SELECT task_id FROM task_index WHERE agent_id = ? ORDER BY task_id").bind(agentId).all<{ task_id: string }>();
  return results.map((r) => r.task_id);
}

describe("task index", () => {
  it("40 concurrent creates: each answer's task is found by id at once, one index row each", async () => {
    const agent = "index-burst";
    const ids = await Promise.all(
      Array.from({ length: 40 }, async () => {
        const res = await create(agent);
        expect(res.status).toBe(202);
        const { task_id } = await json<Created>(res);
        // Straight after the create answered, without knowing the agent.
        const got = await call(`/api/v2/tasks/${task_id}`);
        expect(got.status).toBe(200);
        return task_id;
      }),
    );
    expect(new Set(ids).size).toBe(40);
    expect(await indexed(agent)).toEqual([...ids].sort());
  });

  it("racing creates with one Idempotency-Key: one task, and every answer's id is already findable", async () => {
    const agent = "index-race";
    const answers = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const res = await create(agent, { "Idempotency-Key": "same-key" });
        const { task_id } = await json<Created>(res);
        expect((await call(`/api/v2/tasks/${task_id}`)).status).toBe(200);
        return { status: res.status, task_id };
      }),
    );
    expect(new Set(answers.map((a) => a.task_id)).size).toBe(1);
    expect(answers.filter((a) => a.status === 202)).toHaveLength(1);
    expect(await indexed(agent)).toEqual([answers[0]!.task_id]);
  });

  it("when the index cannot be written the create answers 503 and the agent keeps no task", async () => {
    const agent = "index-broken";
    const before = await create(agent);
    expect(before.status).toBe(202);
    const kept = await json<Created>(before);
    await env.DB.exec("ALTER TABLE task_index RENAME TO task_index_away");
    try {
      const res = await create(agent, { "Idempotency-Key": "while-broken" });
      expect((await problem(res, 503)).detail).toMatch(/nothing was created/);
    } finally {
      await env.DB.exec("ALTER TABLE task_index_away RENAME TO task_index");
    }
    const list = await listTasks(agent);
    expect(list.tasks.map((t) => t.task_id)).toEqual([kept.task_id]);
    // The key was not kept either: a retry now creates the task.
    const retry = await create(agent, { "Idempotency-Key": "while-broken" });
    expect(retry.status).toBe(202);
    expect((await listTasks(agent)).tasks).toHaveLength(2);
  });

  it("an external worker's progress reports read the index once: they go on while D1 is unavailable", async () => {
    const agent = "index-remembered";
    const { task_id } = await json<Created>(await create(agent));
    expect((await call(`/api/v2/tasks/${task_id}/progress`, { method: "PUT", body: { progress: 10 } })).status).toBe(200);
    await env.DB.exec("ALTER TABLE task_index RENAME TO task_index_away");
    try {
      const res = await call(`/api/v2/tasks/${task_id}/progress`, { method: "PUT", body: { progress: 60 } });
      expect(res.status).toBe(200);
      expect(await json(res)).toMatchObject({ task_id, progress: 60 });
    } finally {
      await env.DB.exec("ALTER TABLE task_index_away RENAME TO task_index");
    }
  });
});

