/**
 * Finding a task by id alone (durable-objects/agent/task-ids.ts): a task id carries its agent's
 * prefix, registered in D1's `task_id_prefixes` before the agent's first task; tasks made before
 * prefixes are found through their `task_index` row. Every created task is findable as soon as
 * its create has answered; after its first create an agent writes nothing more to D1.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { call, json, mintToken, problem } from "../helpers/api";
import { listTasks } from "../helpers/tasks";

type Created = { task_id: string; status: string };

const create = (agentId: string, headers: Record<string, string> = {}) =>
  call(`/api/v2/agents/${agentId}/tasks`, { body: { task_type: "render_later" }, headers });

async function prefixesOf(agentId: string): Promise<string[]> {
  const { results } = await env.DB.prepare("SELECT prefix FROM task_id_prefixes WHERE agent_id = ?")
    .bind(agentId)
    .all<{ prefix: string }>();
  return results.map((r) => r.prefix);
}

/** Makes D1's prefix table unreachable for the duration of `fn`. */
async function withoutPrefixTable<T>(fn: () => Promise<T>): Promise<T> {
  await env.DB.exec("ALTER TABLE task_id_prefixes RENAME TO task_id_prefixes_away");
  try {
    return await fn();
  } finally {
    await env.DB.exec("ALTER TABLE task_id_prefixes_away RENAME TO task_id_prefixes");
  }
}

describe("task ids and the D1 prefix index", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("40 concurrent first creates: one prefix for the agent, every id carries it and is found by id at once", async () => {
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
    const prefixes = await prefixesOf(agent);
    expect(prefixes).toHaveLength(1);
    for (const id of ids) expect(id).toMatch(new RegExp(`^task_${prefixes[0]}[0-9a-f]{20}$`));
    // Nothing per task in D1.
    expect((await env.DB.prepare("SELECT count(*) AS n FROM task_index WHERE agent_id = ?").bind(agent).first<{ n: number }>())!.n).toBe(0);
  });

  it("an agent's first create answers 503 and keeps nothing when D1 cannot register its prefix; the retry works", async () => {
    const agent = "index-broken";
    await withoutPrefixTable(async () => {
      const res = await create(agent, { "Idempotency-Key": "while-broken" });
      expect((await problem(res, 503)).detail).toMatch(/nothing was created/);
    });
    expect((await listTasks(agent)).tasks).toEqual([]);
    // The key was not kept either: a retry now creates the task.
    const retry = await create(agent, { "Idempotency-Key": "while-broken" });
    expect(retry.status).toBe(202);
    expect((await listTasks(agent)).tasks).toHaveLength(1);
  });

  it("once registered, an agent creates and serves tasks while D1 is unavailable", async () => {
    const agent = "index-registered";
    const first = await json<Created>(await create(agent));
    const { task_id } = await withoutPrefixTable(async () => {
      const res = await create(agent);
      expect(res.status).toBe(202);
      return json<Created>(res);
    });
    // The isolate that made a task remembers its prefix, so even the lookup by id does without D1.
    expect(task_id.slice(0, 17)).toBe(first.task_id.slice(0, 17));
    await withoutPrefixTable(async () => {
      expect((await call(`/api/v2/tasks/${task_id}`)).status).toBe(200);
      // A prefix it does not know needs D1: that is our dependency down (503), not an unknown task.
      expect((await problem(await call(`/api/v2/tasks/task_${"1".repeat(32)}`), 503)).detail).toMatch(/could not be read/);
    });
  });

  it("an unknown id is 404, whether its prefix is unknown or its agent has no such task; a credential for other agents gets 403", async () => {
    const agent = "index-lookup";
    const { task_id } = await json<Created>(await create(agent));
    const prefix = task_id.slice(5, 17);
    for (const id of [`task_${"0".repeat(32)}`, `task_${prefix}${"0".repeat(20)}`, `task_${"0".repeat(24)}`]) {
      expect((await problem(await call(`/api/v2/tasks/${id}`), 404)).detail).toContain(id);
    }
    const outsider = await mintToken({ role: "user", agents: ["someone-else"] });
    await problem(await call(`/api/v2/tasks/${task_id}`, { token: outsider }), 403);
  });

  it("an agent whose prefix D1 already holds (its own copy lost) keeps that prefix", async () => {
    const agent = "index-adopt";
    await env.DB.prepare("INSERT INTO task_id_prefixes (prefix, agent_id, created_at) VALUES ('abcdefabcdef', ?, 0)").bind(agent).run();
    const { task_id } = await json<Created>(await create(agent));
    expect(task_id).toMatch(/^task_abcdefabcdef[0-9a-f]{20}$/);
    expect(await prefixesOf(agent)).toEqual(["abcdefabcdef"]);
  });

  it("a drawn prefix that another agent holds is drawn again", async () => {
    await env.DB.prepare("INSERT INTO task_id_prefixes (prefix, agent_id, created_at) VALUES ('aaaaaaaaaaaa', 'index-holder', 0)").run();
    // The agent's object draws its prefix with crypto.getRandomValues in this isolate: the first
    // 6-byte draw collides with the holder's prefix.
    const real = crypto.getRandomValues.bind(crypto);
    let collided = 0;
    vi.spyOn(crypto, "getRandomValues").mockImplementation(<T extends ArrayBufferView | null>(array: T): T => {
      if (array instanceof Uint8Array && array.length === 6 && collided === 0) {
        collided++;
        array.fill(0xaa);
        return array;
      }
      return real(array as never) as T;
    });
    const { task_id } = await json<Created>(await create("index-drawn-again"));
    expect(collided).toBe(1);
    const [prefix] = await prefixesOf("index-drawn-again");
    expect(prefix).toMatch(/^[0-9a-f]{12}$/);
    expect(prefix).not.toBe("aaaaaaaaaaaa");
    expect(task_id.slice(5, 17)).toBe(prefix);
    expect(await prefixesOf("index-holder")).toEqual(["aaaaaaaaaaaa"]);
  });

  it("a task made before prefixes (a 24-hex id in task_index) is still found by id", async () => {
    const agent = "index-legacy";
    // A task as the previous version stored it: its own task_index row, an id with no prefix.
    const legacyId = `task_${"ab".repeat(12)}`;
    await create(agent);
    const stub = env.AGENT.getByName(agent);
    await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec(
        `INSERT INTO tasks (task_id, agent_id, task_type, status, progress, created_at, metadata, attempts, max_attempts, timeout_seconds, last_activity_at, executor)
         VALUES (?, ?, 'render_later', 'pending', 0, ?, '{}', 0, 3, 300, ?, 'external')`,
        legacyId,
        agent,
        Date.now(),
        Date.now(),
      );
    });
    await env.DB.prepare("INSERT INTO task_index (task_id, agent_id, created_at) VALUES (?, ?, ?)").bind(legacyId, agent, Date.now()).run();
    expect(await json(await call(`/api/v2/tasks/${legacyId}`))).toMatchObject({ task_id: legacyId, agent_id: agent, status: "pending" });
    expect((await call(`/api/v2/tasks/${legacyId}/progress`, { method: "PUT", body: { progress: 40 } })).status).toBe(200);
  });
});
