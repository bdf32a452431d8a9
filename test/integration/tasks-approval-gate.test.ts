/**
 * An external task created behind an approval: its worker cannot report progress or finish it
 * until the approval is granted (409 naming the approval), and every task view shows the gate.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { call, json, mintToken, problem } from "../helpers/api";
import { spyMail } from "../helpers/approvals";
import { SseReader } from "../helpers/sse";
import { getTask, listTasks, type Task } from "../helpers/tasks";

afterEach(() => {
  vi.restoreAllMocks();
});

type Gate = { approval_id: string | null; waiting_for_approval: boolean };

const APPROVER = "boss@example.com";

async function gatedExternalTask(agent: string): Promise<{ taskId: string; approvalId: string; token: string }> {
  spyMail();
  const token = await mintToken({ role: "developer", sub: "gate-dev" });
  const res = await call(`/api/v2/agents/${agent}/tasks`, {
    token,
    body: { task_type: "render_video", metadata: { frames: 24 }, requires_approval: { approver_email: APPROVER } },
  });
  expect(res.status).toBe(202);
  const { task_id: taskId } = await json<{ task_id: string }>(res);
  const task = await json<Task & Gate>(await call(`/api/v2/tasks/${taskId}`, { token }));
  expect(task.approval_id).toMatch(/^approval_[0-9a-f]{24}$/);
  return { taskId, approvalId: task.approval_id!, token };
}

const progress = (id: string, token: string, body: Record<string, unknown>) =>
  call(`/api/v2/tasks/${id}/progress`, { method: "PUT", token, body });
const complete = (id: string, token: string, body: Record<string, unknown>) => call(`/api/v2/tasks/${id}/complete`, { token, body });

describe("approval gate of an external task", () => {
  it("progress and completion are 409 naming the approval while it is pending; the task is unchanged", async () => {
    const { taskId, approvalId, token } = await gatedExternalTask("gate-refuse");
    const before = await getTask(taskId);
    expect(before).toMatchObject({ status: "pending", progress: 0, approval_id: approvalId, waiting_for_approval: true });

    for (const res of [
      await progress(taskId, token, { progress: 10, message: "starting" }),
      await progress(taskId, token, { progress: 5, status: "pending" }),
      await complete(taskId, token, { result: { frames: 24 } }),
      await complete(taskId, token, { error_message: "gave up" }),
      // The prototype's query form takes the same path.
      await call(`/api/v2/tasks/${taskId}/progress?progress=50`, { method: "PUT", token }),
    ]) {
      const doc = await problem(res, 409);
      expect(doc.approval_id).toBe(approvalId);
      expect(doc.detail).toContain(approvalId);
      expect(doc.status).toBe(409);
    }
    expect(await getTask(taskId)).toEqual(before);
  });

  it("GET, list and SSE show the gate; once approved through the API, progress and completion work", async () => {
    const agent = "gate-open";
    const { taskId, approvalId, token } = await gatedExternalTask(agent);
    const listed = (await listTasks(agent)).tasks.find((t) => t.task_id === taskId) as (Task & Gate) | undefined;
    expect(listed).toMatchObject({ approval_id: approvalId, waiting_for_approval: true });

    const sse = new SseReader(await call(`/api/v2/tasks/${taskId}/events`, { token }));
    expect(JSON.parse((await sse.next())!.data)).toMatchObject({
      seq: 1,
      type: "status",
      status: "pending",
      approval_id: approvalId,
      waiting_for_approval: true,
    });

    const decided = await call(`/api/v2/email/approval/${approvalId}/respond`, {
      token,
      body: { action: "approve", approver_email: APPROVER },
    });
    expect(decided.status).toBe(200);
    // The stream learns the gate opened without waiting for the worker's first report.
    const opened = await sse.next();
    expect(opened!.event).toBe("approval");
    expect(JSON.parse(opened!.data)).toMatchObject({
      seq: 2,
      type: "approval",
      status: "pending",
      approval_id: approvalId,
      waiting_for_approval: false,
    });
    // The approval id stays in the view after the decision.
    expect(await getTask(taskId)).toMatchObject({ status: "pending", approval_id: approvalId, waiting_for_approval: false });

    const running = await progress(taskId, token, { progress: 40, message: "encoding" });
    expect(running.status).toBe(200);
    expect(await json<Task & Gate>(running)).toMatchObject({
      status: "running",
      progress: 40,
      approval_id: approvalId,
      waiting_for_approval: false,
    });
    expect(JSON.parse((await sse.next())!.data)).toMatchObject({ seq: 3, type: "status", status: "running", waiting_for_approval: false });
    const done = await complete(taskId, token, { result: { frames: 24 } });
    expect(done.status).toBe(200);
    expect(await json<Task>(done)).toMatchObject({ status: "completed", result: { frames: 24 } });
    expect(JSON.parse((await sse.next())!.data)).toMatchObject({
      seq: 4,
      status: "completed",
      approval_id: approvalId,
      waiting_for_approval: false,
    });
    expect(await sse.next()).toBeNull();
  });

  it("a gated task can still be cancelled; an ungated one shows no gate", async () => {
    const { taskId, approvalId, token } = await gatedExternalTask("gate-cancel");
    const cancelled = await call(`/api/v2/tasks/${taskId}/cancel`, { method: "POST", token });
    expect(cancelled.status).toBe(200);
    expect(await json<Task & Gate>(cancelled)).toMatchObject({ status: "cancelled", approval_id: approvalId, waiting_for_approval: false });

    const plain = await json<{ task_id: string }>(
      await call("/api/v2/agents/gate-cancel/tasks", { token, body: { task_type: "render_video" } }),
    );
    expect(await getTask(plain.task_id)).toMatchObject({ approval_id: null, waiting_for_approval: false });
  });
});
