import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { METRICS_ROWS_SQL } from "../../durable-objects/agent/scaling";
import { call, json, mintToken, problem } from "../helpers/api";

type Scale = {
  success: boolean;
  agent_id: string;
  target_instances: number;
  current_instances: number;
  instances: string[];
  draining: string[];
};
type Inst = {
  instance_id: string;
  status: string;
  load: number;
  pending: number;
  running: number;
  completed_5m: number;
  failed_5m: number;
  avg_duration_ms: number | null;
  p95_duration_ms: number | null;
  requests_per_minute: number;
};
type Metrics = {
  agent_id: string;
  instances: Inst[];
  total_instances: number;
  total_load: number;
  average_load: number;
  queue_depth: number;
  scaling_recommendation: string;
  recommended_instances: number;
  reason: string;
  autoscale: { enabled: boolean };
};
type Task = { task_id: string; status: string; instance_id: string | null; started_at: string | null; completed_at: string | null };

const scale = (agent: string, target: unknown, token?: string) =>
  call(`/api/v2/agents/${agent}/scale`, { body: { target_instances: target }, ...(token ? { token } : {}) });
const metrics = async (agent: string) => json<Metrics>(await call(`/api/v2/agents/${agent}/metrics`));
const task = async (id: string) => json<Task>(await call(`/api/v2/tasks/${id}`));
async function create(agent: string, body: Record<string, unknown>): Promise<string> {
  const res = await call(`/api/v2/agents/${agent}/tasks`, { body });
  expect(res.status).toBe(202);
  return (await json<{ task_id: string }>(res)).task_id;
}

describe("POST /api/v2/agents/{id}/scale", () => {
  it("adds, drains and removes instances; the prototype's query form works", async () => {
    const up = await json<Scale>(await scale("sc-basic", 3));
    expect(up).toEqual({
      success: true,
      agent_id: "sc-basic",
      target_instances: 3,
      current_instances: 3,
      instances: ["sc-basic_instance_0", "sc-basic_instance_1", "sc-basic_instance_2"],
      draining: [],
    });
    // An external task holds a lane on instance 0; scaling to 1 drains the idle others at once.
    const held = await create("sc-basic", { task_type: "ext" });
    await call(`/api/v2/tasks/${held}/progress`, { method: "PUT", body: { progress: 1 } });
    const down = await json<Scale>(await call("/api/v2/agents/sc-basic/scale?target_instances=0", { method: "POST" }));
    expect(down).toMatchObject({ target_instances: 0, current_instances: 0, instances: [], draining: ["sc-basic_instance_0"] });
    await call(`/api/v2/tasks/${held}/complete`, { body: { result: 1 } });
    // Once its task finished, the drained instance goes away; 0 is kept (no default instance comes back).
    expect((await metrics("sc-basic")).instances).toEqual([]);
    const waiting = await create("sc-basic", { task_type: "noop" });
    const m = await metrics("sc-basic");
    expect(m).toMatchObject({ total_instances: 0, queue_depth: 1, scaling_recommendation: "scale_up", recommended_instances: 1 });
    expect((await task(waiting)).status).toBe("pending");
    // Scaling up dispatches the backlog.
    expect(await json<Scale>(await scale("sc-basic", 1))).toMatchObject({ current_instances: 1, instances: ["sc-basic_instance_0"] });
    await expect.poll(async () => (await task(waiting)).status, { timeout: 10_000, interval: 50 }).toBe("completed");
  });

  it("refuses bad targets with 4xx and changes nothing", async () => {
    await scale("sc-bad", 2);
    for (const bad of [-1, 33, 1e9, 1.5, "3", null]) await problem(await scale("sc-bad", bad), 422);
    await problem(await call("/api/v2/agents/sc-bad/scale?target_instances=abc", { method: "POST" }), 422);
    await problem(await call("/api/v2/agents/sc-bad/scale?target_instances=-2", { method: "POST" }), 422);
    await problem(await call("/api/v2/agents/sc-bad/scale", { method: "POST" }), 422);
    await problem(
      await call("/api/v2/agents/sc-bad/scale", { method: "POST", rawBody: "{", headers: { "content-type": "application/json" } }),
      400,
    );
    const doc = await problem(await scale("sc-bad", 33), 422);
    expect(doc.errors).toEqual([{ path: "target_instances", message: "must be at most 32 (MAX_INSTANCES)" }]);
    await problem(await scale("sc-bad", 1, await mintToken({ role: "user" })), 403);
    expect((await metrics("sc-bad")).instances.map((i) => i.instance_id)).toEqual(["sc-bad_instance_0", "sc-bad_instance_1"]);
  });
});

describe("GET /api/v2/agents/{id}/metrics", () => {
  it("matches the task records: 2 completed, 1 failed, 1 running on known instances", async () => {
    const agent = "sc-metrics";
    await scale(agent, 2);
    // External tasks take the least loaded lane when created: a→0, b→1, c→0, d→1.
    const [a, b, c, d] = [
      await create(agent, { task_type: "ext" }),
      await create(agent, { task_type: "ext" }),
      await create(agent, { task_type: "ext" }),
      await create(agent, { task_type: "ext" }),
    ];
    for (const id of [a, b, c, d]) await call(`/api/v2/tasks/${id}/progress`, { method: "PUT", body: { progress: 10 } });
    await call(`/api/v2/tasks/${a}/complete`, { body: { result: "a" } });
    await call(`/api/v2/tasks/${b}/complete`, { body: { result: "b" } });
    await call(`/api/v2/tasks/${c}/complete`, { body: { error_message: "c broke" } });
    const rows = { a: await task(a!), b: await task(b!), c: await task(c!), d: await task(d!) };
    expect([rows.a.instance_id, rows.b.instance_id, rows.c.instance_id, rows.d.instance_id]).toEqual([
      `${agent}_instance_0`,
      `${agent}_instance_1`,
      `${agent}_instance_0`,
      `${agent}_instance_1`,
    ]);
    const ms = (t: Task) => Date.parse(t.completed_at!) - Date.parse(t.started_at!);
    const m = await metrics(agent);
    expect(m.instances).toEqual([
      {
        instance_id: `${agent}_instance_0`,
        status: "active",
        load: 0,
        pending: 0,
        running: 0,
        completed_5m: 1,
        failed_5m: 1,
        avg_duration_ms: ms(rows.a),
        p95_duration_ms: ms(rows.a),
        requests_per_minute: 2,
      },
      {
        instance_id: `${agent}_instance_1`,
        status: "active",
        load: 1,
        pending: 0,
        running: 1,
        completed_5m: 1,
        failed_5m: 0,
        avg_duration_ms: ms(rows.b),
        p95_duration_ms: ms(rows.b),
        requests_per_minute: 2,
      },
    ]);
    expect(m).toMatchObject({
      agent_id: agent,
      total_instances: 2,
      total_load: 1,
      average_load: 0.5,
      queue_depth: 0,
      scaling_recommendation: "maintain",
      recommended_instances: 2,
    });
    expect(m.reason).toContain("average load 0.5");
    // Guests may read the figures.
    expect((await call(`/api/v2/agents/${agent}/metrics`, { token: await mintToken({ role: "guest" }) })).status).toBe(200);
  });

  it("reads unfinished and recently finished tasks through indexes: tasks finished over 5 minutes ago are neither counted nor read", async () => {
    const agent = "sc-metrics-window";
    await scale(agent, 1);
    const [old, recent] = [await create(agent, { task_type: "ext" }), await create(agent, { task_type: "ext" })];
    for (const id of [old, recent]) {
      await call(`/api/v2/tasks/${id}/progress`, { method: "PUT", body: { progress: 50 } });
      await call(`/api/v2/tasks/${id}/complete`, { body: { result: 1 } });
    }
    const stub = env.AGENT.getByName(agent);
    // One of them finished (and started) ten minutes ago.
    await runInDurableObject(stub, (_i, state) => {
      const tenMinutesAgo = Date.now() - 10 * 60 * 1000;
      state.storage.sql.exec(
        "UPDATE tasks SET started_at = ?, completed_at = ? WHERE task_id = ?",
        tenMinutesAgo - 1000,
        tenMinutesAgo,
        old,
      );
    });
    expect((await metrics(agent)).instances[0]).toMatchObject({ completed_5m: 1, requests_per_minute: 1 });
    const plan = await runInDurableObject(stub, (_i, state) =>
      state.storage.sql
        .exec<{ detail: string }>(`EXPLAIN QUERY PLAN ${METRICS_ROWS_SQL}`, 0)
        .toArray()
        .map((r) => r.detail),
    );
    expect(plan.filter((d) => /^SCAN tasks\b/.test(d))).toEqual([]);
    expect(plan.some((d) => d.includes("tasks_by_status"))).toBe(true);
    expect(plan.some((d) => d.includes("tasks_by_completed"))).toBe(true);
  });
});

describe("autoscale", () => {
  it("validates the policy: min ≤ max ≤ MAX_INSTANCES", async () => {
    const put = (body: unknown) => call("/api/v2/agents/as-bad/autoscale", { method: "PUT", body });
    await problem(await put({ enabled: true, min_instances: 3, max_instances: 2 }), 422);
    await problem(await put({ enabled: true, min_instances: 1, max_instances: 33 }), 422);
    await problem(await put({ enabled: true, min_instances: -1, max_instances: 2 }), 422);
    await problem(await put({ enabled: "yes", min_instances: 1, max_instances: 2 }), 422);
    const policy = await json(await call("/api/v2/agents/as-bad/autoscale"));
    expect(policy).toMatchObject({ agent_id: "as-bad", enabled: false, updated_at: null });
  });

  it("applies its recommendation at once and then on the alarm, within the bounds", async () => {
    const agent = "as-live";
    const res = await call(`/api/v2/agents/${agent}/autoscale`, {
      method: "PUT",
      body: { enabled: true, min_instances: 2, max_instances: 3 },
    });
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ agent_id: agent, enabled: true, min_instances: 2, max_instances: 3, interval_seconds: 30 });
    // Below the minimum: brought up to 2 at once.
    expect((await metrics(agent)).instances.length).toBe(2);
    expect((await metrics(agent)).autoscale).toMatchObject({ enabled: true, min_instances: 2, max_instances: 3 });
    // Two slow queued tasks hold both lanes; a third queued task then waits in the backlog.
    await scale(agent, 2);
    const held = [
      await create(agent, { task_type: "delay", metadata: { seconds: 3 } }),
      await create(agent, { task_type: "delay", metadata: { seconds: 3 } }),
    ];
    const queued = await create(agent, { task_type: "noop" });
    expect(await metrics(agent)).toMatchObject({ queue_depth: 1, scaling_recommendation: "scale_up", recommended_instances: 3 });
    // The periodic check, made due now: it scales up (capped at 3) and the backlog is dispatched.
    const stub = env.AGENT.getByName(agent);
    await runInDurableObject(stub, (_i, state) => {
      state.storage.sql.exec("UPDATE timers SET due_at = 0 WHERE name = 'autoscale'");
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await metrics(agent)).instances.map((i) => i.instance_id)).toEqual([
      `${agent}_instance_0`,
      `${agent}_instance_1`,
      `${agent}_instance_2`,
    ]);
    await expect.poll(async () => (await task(queued)).status, { timeout: 10_000, interval: 50 }).toBe("completed");
    // The next check is armed ~30 s ahead.
    const due = await runInDurableObject(
      stub,
      (_i, state) => state.storage.sql.exec<{ due_at: number }>("SELECT due_at FROM timers WHERE name = 'autoscale'").one().due_at,
    );
    expect(due - Date.now()).toBeGreaterThan(20_000);
    // Disabling stops the checks and keeps the instances.
    await call(`/api/v2/agents/${agent}/autoscale`, { method: "PUT", body: { enabled: false, min_instances: 0, max_instances: 3 } });
    const timers = await runInDurableObject(stub, (_i, state) =>
      state.storage.sql.exec("SELECT name FROM timers WHERE name = 'autoscale'").toArray(),
    );
    expect(timers).toEqual([]);
    expect((await metrics(agent)).instances.length).toBe(3);
    for (const id of held) await call(`/api/v2/tasks/${id}/cancel`, { method: "POST" });
  });
});
