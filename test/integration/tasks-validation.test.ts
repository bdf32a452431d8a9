/** Bad inputs to the task routes: the right 4xx, and nothing changes (no task, no D1 row). */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { ADMIN_KEY, call, problem } from "../helpers/api";
import { callWithEnv } from "../helpers/auth";
import { createTask, getTask, listTasks, type Task } from "../helpers/tasks";

const AGENT = "validator";
let existing: string;
let baseline: Task[];

/** D1 rows that name the agent: its one task id prefix, registered by its first create. */
async function d1Rows(): Promise<number> {
  const prefixes = (await env.DB.prepare("SELECT count(*) AS n FROM task_id_prefixes WHERE agent_id = ?")
    .bind(AGENT)
    .first<{ n: number }>())!.n;
  const legacy = (await env.DB.prepare("SELECT count(*) AS n FROM task_index WHERE agent_id = ?").bind(AGENT).first<{ n: number }>())!.n;
  return prefixes + legacy;
}

async function expectUnchanged(): Promise<void> {
  expect((await listTasks(AGENT)).tasks).toEqual(baseline);
  expect(await d1Rows()).toBe(1);
}

beforeAll(async () => {
  existing = await createTask(AGENT, { task_type: "render_video", metadata: { keep: true } });
  await call(`/api/v2/tasks/${existing}/progress`, { method: "PUT", body: { progress: 25, message: "quarter" } });
  baseline = (await listTasks(AGENT)).tasks;
  expect(baseline).toHaveLength(1);
});

function create(body: unknown, init: { rawBody?: string; headers?: Record<string, string>; query?: string } = {}) {
  return call(
    `/api/v2/agents/${AGENT}/tasks${init.query ?? ""}`,
    init.rawBody !== undefined ? { method: "POST", rawBody: init.rawBody, headers: init.headers } : { body, headers: init.headers },
  );
}

describe("create: bad inputs change nothing", () => {
  it.each([
    ["missing task_type", { metadata: { a: 1 } }, "task_type"],
    ["empty task_type", { task_type: "" }, "task_type"],
    ["task_type with spaces", { task_type: "render video" }, "task_type"],
    ["task_type not a string", { task_type: 42 }, "task_type"],
    ["max_attempts 0", { task_type: "noop", max_attempts: 0 }, "max_attempts"],
    ["max_attempts 11", { task_type: "noop", max_attempts: 11 }, "max_attempts"],
    ["max_attempts 1.5", { task_type: "noop", max_attempts: 1.5 }, "max_attempts"],
    ["timeout_seconds 0", { task_type: "noop", timeout_seconds: 0 }, "timeout_seconds"],
    ["metadata not an object", { task_type: "noop", metadata: [1, 2] }, "metadata"],
    ["unknown field", { task_type: "noop", priority: "high" }, "priority"],
    ["requires_approval without approver_email", { task_type: "noop", requires_approval: { title: "ok?" } }, "approver_email"],
    ["a body that is not an object", [1, 2, 3], "(root)"],
  ])("%s → 422 naming the field", async (_name, body, field) => {
    const doc = await problem(await create(body), 422);
    expect(JSON.stringify(doc.errors)).toContain(field);
    await expectUnchanged();
  });

  it("malformed JSON → 400", async () => {
    await problem(await create(undefined, { rawBody: '{"task_type": "noop",', headers: { "content-type": "application/json" } }), 400);
    await expectUnchanged();
  });

  it("no body at all → 422 (task_type missing); a form post → 415", async () => {
    await problem(await call(`/api/v2/agents/${AGENT}/tasks`, { method: "POST" }), 422);
    await problem(
      await create(undefined, { rawBody: "task_type=noop", headers: { "content-type": "application/x-www-form-urlencoded" } }),
      415,
    );
    await expectUnchanged();
  });

  it("requires_approval without a signing secret → 503 naming it, and no task", async () => {
    const res = await callWithEnv({ JWT_SECRET: "" }, `/api/v2/agents/${AGENT}/tasks`, {
      body: { task_type: "noop", requires_approval: { approver_email: "boss@example.com" } },
      token: ADMIN_KEY,
    });
    const doc = await problem(res, 503);
    expect(doc.detail).toMatch(/APPROVAL_SIGNING_SECRET/);
    await expectUnchanged();
  });

  it("metadata over 1 MiB of JSON → 413, counted in bytes", async () => {
    await problem(await create({ task_type: "noop", metadata: { blob: "x".repeat(1024 * 1024 + 10) } }), 413);
    // 600 k two-byte characters: 1.2 MB of UTF-8 though only 600 k string units.
    await problem(await create({ task_type: "noop", metadata: { blob: "é".repeat(600_000) } }), 413);
    await expectUnchanged();
  });

  it("an invalid agent id → 422", async () => {
    await problem(await call("/api/v2/agents/-bad!/tasks", { body: { task_type: "noop" } }), 422);
    await expectUnchanged();
  });
});

describe("progress and complete: bad inputs change nothing", () => {
  it.each([
    ["progress a string", { progress: "abc" }],
    ["progress missing", { message: "hi" }],
    ["progress null", { progress: null }],
    ["unknown field", { progress: 5, eta: 3 }],
    ["message not a string", { progress: 5, message: 7 }],
  ])("%s → 422", async (_name, body) => {
    await problem(await call(`/api/v2/tasks/${existing}/progress`, { method: "PUT", body }), 422);
    await expectUnchanged();
  });

  it("query form with progress=abc → 422", async () => {
    const doc = await problem(await call(`/api/v2/tasks/${existing}/progress?progress=abc`, { method: "PUT" }), 422);
    expect(JSON.stringify(doc.errors)).toContain("progress");
    await problem(await call(`/api/v2/tasks/${existing}/progress?progress=`, { method: "PUT" }), 422);
    await expectUnchanged();
  });

  it("malformed JSON → 400 for progress and complete", async () => {
    const headers = { "content-type": "application/json" };
    await problem(await call(`/api/v2/tasks/${existing}/progress`, { method: "PUT", rawBody: "{progress: 5}", headers }), 400);
    await problem(await call(`/api/v2/tasks/${existing}/complete`, { method: "POST", rawBody: "{", headers }), 400);
    await expectUnchanged();
  });

  it("complete with an unknown field or a non-string error_message → 422", async () => {
    await problem(await call(`/api/v2/tasks/${existing}/complete`, { body: { outcome: "done" } }), 422);
    await problem(await call(`/api/v2/tasks/${existing}/complete`, { body: { error_message: 5 } }), 422);
    await expectUnchanged();
    expect(await getTask(existing)).toMatchObject({ status: "running", progress: 25, progress_message: "quarter" });
  });
});
