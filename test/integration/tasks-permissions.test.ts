/**
 * A task type declares the permissions it needs beyond tasks:write, and so does an approval gate:
 * a `user` (tasks:write, no email:send) cannot send mail through a task.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { call, json, mintToken, problem } from "../helpers/api";
import { listTasks, sleep, waitForStatus } from "../helpers/tasks";

afterEach(() => {
  vi.restoreAllMocks();
});

const SEND = { task_type: "send_email", metadata: { to: ["someone@example.com"], subject: "Hello", text: "Hi" } };
const GATED = (taskType: string) => ({ task_type: taskType, requires_approval: { approver_email: "boss@example.com" } });

async function count(sqlText: string, ...args: unknown[]): Promise<number> {
  return (await env.DB.prepare(sqlText)
    .bind(...args)
    .first<{ n: number }>())!.n;
}

/** Everything a create could leave behind for `agent`: tasks, its D1 rows, approvals, logged mail. */
async function traces(agent: string) {
  return {
    tasks: (await listTasks(agent)).tasks.length,
    prefixes: await count("SELECT count(*) AS n FROM task_id_prefixes WHERE agent_id = ?", agent),
    approvals: await count("SELECT count(*) AS n FROM approval_index WHERE agent_id = ?", agent),
    messages: await count("SELECT count(*) AS n FROM email_messages"),
  };
}

describe("task permissions", () => {
  it("a user's send_email task is 403 naming email:send: no task, no queue run, no mail", async () => {
    const agent = "perm-send-user";
    const send = vi.spyOn(env.EMAIL, "send");
    const before = await traces(agent);
    const token = await mintToken({ role: "user", sub: "perm-user" });
    const doc = await problem(await call(`/api/v2/agents/${agent}/tasks`, { token, body: SEND }), 403);
    expect(doc.detail).toContain("email:send");
    expect(doc.detail).toContain("send_email");
    expect(doc.permission).toBe("email:send");
    // The prototype's form (?task_type=) goes through the same check.
    const legacy = await call(`/api/v2/agents/${agent}/tasks?task_type=send_email`, { token, body: SEND.metadata });
    expect((await problem(legacy, 403)).permission).toBe("email:send");
    // A queued task would have run by now.
    await sleep(300);
    expect(await traces(agent)).toEqual({ ...before, tasks: 0, prefixes: 0 });
    expect(send).not.toHaveBeenCalled();
  });

  it.each(["noop", "render_video"])(
    "a user's requires_approval %s task is 403 naming email:send: no task, no approval, no mail",
    async (taskType) => {
      const agent = `perm-gate-user-${taskType.replace("_", "-")}`;
      const send = vi.spyOn(env.EMAIL, "send");
      const before = await traces(agent);
      const token = await mintToken({ role: "user", sub: "perm-user" });
      const doc = await problem(await call(`/api/v2/agents/${agent}/tasks`, { token, body: GATED(taskType) }), 403);
      expect(doc.detail).toContain("email:send");
      expect(doc.detail).toContain("requires_approval");
      expect(doc.permission).toBe("email:send");
      expect(await traces(agent)).toEqual({ ...before, tasks: 0, prefixes: 0, approvals: 0 });
      expect(send).not.toHaveBeenCalled();
      // The same user may still create the ungated task: only the gate needed more.
      expect((await call(`/api/v2/agents/${agent}/tasks`, { token, body: { task_type: taskType } })).status).toBe(202);
    },
  );

  it("a developer (email:send) may create both", async () => {
    const agent = "perm-developer";
    const send = vi.spyOn(env.EMAIL, "send");
    const token = await mintToken({ role: "developer", sub: "perm-dev" });
    const sent = await call(`/api/v2/agents/${agent}/tasks`, { token, body: SEND });
    expect(sent.status).toBe(202);
    const { task_id } = await json<{ task_id: string }>(sent);
    expect(await waitForStatus(task_id, ["completed", "failed"])).toMatchObject({ status: "completed" });
    const gated = await call(`/api/v2/agents/${agent}/tasks`, { token, body: GATED("noop") });
    expect(gated.status).toBe(202);
    expect(await count("SELECT count(*) AS n FROM approval_index WHERE agent_id = ?", agent)).toBe(1);
    // The task's mail and the approval's mail.
    expect(send).toHaveBeenCalledTimes(2);
  });
});
