/** The send_email task handler through the real queue: it sends through the outbox and logs the message. */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { call, json } from "../helpers/api";
import { messageRow } from "../helpers/email";
import { createTask, listTasks, waitForStatus } from "../helpers/tasks";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("send_email tasks", () => {
  it("sends a template message and completes with {message_id, status, provider}", async () => {
    const send = vi.spyOn(env.EMAIL, "send");
    const metadata = {
      to: "boss@example.com",
      template_id: "task_completion",
      variables: { task_id: "task_prev", task_type: "noop", status: "completed", result_summary: "ok", agent_id: "mailer" },
    };
    const id = await createTask("mailer", { task_type: "send_email", metadata });
    const done = await waitForStatus(id, ["completed", "failed"]);
    expect(done).toMatchObject({ status: "completed", attempts: 1, error_message: null });
    const result = done.result as { message_id: string; status: string; provider: string };
    expect(result).toMatchObject({ status: "sent", provider: "cloudflare" });
    expect(send).toHaveBeenCalledTimes(1);
    const row = await messageRow(result.message_id);
    expect(row).toMatchObject({ status: "sent", provider: "cloudflare" });
    const shown = await json<{ related: string; template_id: string; subject: string }>(
      await call(`/api/v2/email/messages/${result.message_id}`),
    );
    expect(shown).toMatchObject({ related: id, template_id: "task_completion", subject: "Task completed: noop (task_prev)" });
  });

  it("refuses invalid input at creation (422 naming metadata.to); fails at once, without retries, on a missing variable", async () => {
    const send = vi.spyOn(env.EMAIL, "send");
    const bad = await call("/api/v2/agents/mailer-bad/tasks", {
      body: { task_type: "send_email", metadata: { to: [], subject: "s", text: "t" }, max_attempts: 3 },
    });
    expect(bad.status).toBe(422);
    expect(JSON.stringify((await json<{ errors: unknown[] }>(bad)).errors)).toContain("metadata.to");
    const missing = await createTask("mailer-bad", {
      task_type: "send_email",
      metadata: { to: ["a@example.com"], template_id: "task_completion", variables: {} },
      max_attempts: 3,
    });
    // Only the task that passed creation exists.
    expect((await listTasks("mailer-bad")).tasks.map((t) => t.task_id)).toEqual([missing]);
    const missingDone = await waitForStatus(missing, ["completed", "failed"]);
    expect(missingDone).toMatchObject({ status: "failed", attempts: 1 });
    expect(missingDone.error_message).toContain("result_summary");
    expect(send).not.toHaveBeenCalled();
  });

  it("a permanent refusal fails the task at once and leaves the message logged as failed", async () => {
    vi.spyOn(env.EMAIL, "send").mockRejectedValue(new Error("email to stranger@example.com not allowed"));
    const id = await createTask("mailer-refused", {
      task_type: "send_email",
      metadata: { to: ["stranger@example.com"], subject: "s", text: "t" },
      max_attempts: 3,
    });
    const done = await waitForStatus(id, ["completed", "failed"]);
    expect(done).toMatchObject({ status: "failed", attempts: 1 });
    const messageId = /msg_[0-9a-f]{24}/.exec(done.error_message ?? "")?.[0];
    expect(messageId).toBeDefined();
    expect((await messageRow(messageId!))?.status).toBe("failed");
  });
});
