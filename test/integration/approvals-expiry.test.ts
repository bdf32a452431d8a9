import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { JWT_SECRET, call } from "../helpers/api";
import { base, createApproval, getApproval, makeDue, sentMails, spyMail } from "../helpers/approvals";
import { createTask, getTask, sleep, waitForStatus } from "../helpers/tasks";
import { linkToken } from "../helpers/tokens";

afterEach(() => vi.restoreAllMocks());

async function expire(agentId: string, approvalId: string): Promise<void> {
  await makeDue(agentId, approvalId);
  expect(await runDurableObjectAlarm(env.AGENT.getByName(agentId))).toBe(true);
}

describe("expiry by the alarm", () => {
  it("on_expire reject (default): expired, exactly once", async () => {
    spyMail();
    const { approval_id } = await createApproval(base({ agent_id: "exp-reject" }));
    await expire("exp-reject", approval_id);
    const got = await getApproval(approval_id);
    expect(got).toMatchObject({ status: "expired", decided_via: "expiry", rejection_reason: "Expired without a decision" });
    await runDurableObjectAlarm(env.AGENT.getByName("exp-reject"));
    expect(await getApproval(approval_id)).toEqual(got);
    const row = await env.DB.prepare("SELECT status FROM approval_index WHERE approval_id = ?")
      .bind(approval_id)
      .first<{ status: string }>();
    expect(row!.status).toBe("expired");
    const res = await call(`/api/v2/email/approval/${approval_id}/respond`, {
      body: { action: "approve", approver_email: "boss@example.com" },
    });
    expect(res.status).toBe(409);
  });

  it("on_expire approve: approved by expiry", async () => {
    spyMail();
    const { approval_id } = await createApproval(base({ agent_id: "exp-approve", on_expire: "approve" }));
    await expire("exp-approve", approval_id);
    expect(await getApproval(approval_id)).toMatchObject({ status: "approved", decided_via: "expiry", approved_by: null });
  });

  it("on_expire escalate: mails escalate_to once, extends the deadline, then rejects at the new one", async () => {
    const spy = spyMail();
    const { approval_id } = await createApproval(
      base({ agent_id: "exp-esc", on_expire: "escalate", escalate_to: ["cto@example.com", "ceo@example.com"], expires_in_hours: 1 }),
    );
    expect(spy).toHaveBeenCalledTimes(1);
    const before = Date.now();
    await expire("exp-esc", approval_id);
    const escalated = await getApproval(approval_id);
    expect(escalated.status).toBe("pending");
    expect(escalated.escalated_at).not.toBeNull();
    expect(Date.parse(escalated.expires_at)).toBeGreaterThanOrEqual(before + 3600e3 - 1000);
    const mails = sentMails(spy);
    expect(
      mails
        .slice(1)
        .map((m) => m.to)
        .sort(),
    ).toEqual(["ceo@example.com", "cto@example.com"]);
    // An escalation recipient may now answer; here nobody does, and the new deadline rejects.
    await expire("exp-esc", approval_id);
    expect(await getApproval(approval_id)).toMatchObject({
      status: "expired",
      rejection_reason: "Expired without a decision, after escalation",
    });
    expect(spy).toHaveBeenCalledTimes(3);
  });

  it("an escalation recipient may answer only after the escalation", async () => {
    spyMail();
    const { approval_id } = await createApproval(
      base({ agent_id: "exp-esc-answer", on_expire: "escalate", escalate_to: ["cto@example.com"], expires_in_hours: 1 }),
    );
    // A link mailed to the escalation recipient (the responder check applies to link and reply decisions).
    const token = await linkToken({ approvalId: approval_id, action: "approve", to: "CTO@example.com" });
    const respond = () =>
      call(`/api/v2/email/approval/${approval_id}/respond?token=${token}`, { token: null, body: { action: "approve" } });
    expect((await respond()).status).toBe(403);
    expect((await getApproval(approval_id)).status).toBe("pending");
    await expire("exp-esc-answer", approval_id);
    const res = await respond();
    expect(res.status).toBe(200);
    expect(await getApproval(approval_id)).toMatchObject({ status: "approved", decided_via: "link", decided_by: "CTO@example.com" });
  });
});

describe("task gating (requires_approval)", () => {
  it("a gated noop task waits until approved, then runs to completed", async () => {
    const spy = spyMail();
    const taskId = await createTask("gated", {
      task_type: "noop",
      requires_approval: { approver_email: "boss@example.com", title: "Run noop" },
    });
    await sleep(300);
    expect(await getTask(taskId)).toMatchObject({ status: "pending", attempts: 0 });
    const mail = sentMails(spy)[0]!;
    expect(mail.subject).toContain("Run noop");
    const approvalId = /\/approve\/(approval_[0-9a-f]{24})/.exec(mail.links.approve)![1]!;
    expect(await getApproval(approvalId)).toMatchObject({ task_id: taskId, status: "pending" });
    expect((await call(mail.links.approve, { method: "POST", token: null })).status).toBe(200);
    expect(await waitForStatus(taskId, ["completed", "failed", "cancelled"])).toMatchObject({ status: "completed", attempts: 1 });
  });

  it("rejected or expired: the task is cancelled with a reason", async () => {
    spyMail();
    const rejected = await createTask("gated-no", { task_type: "noop", requires_approval: { approver_email: "boss@example.com" } });
    const expired = await createTask("gated-no", {
      task_type: "noop",
      requires_approval: { approver_email: "boss@example.com", expires_in_hours: 1 },
    });
    const approvalOf = async (taskId: string) => (await env.AGENT.getByName("gated-no").getTask(taskId))!.approval_id!;
    const a1 = await approvalOf(rejected);
    const res = await call(`/api/v2/email/approval/${a1}/respond`, {
      body: { action: "reject", approver_email: "boss@example.com", reason: "no" },
    });
    expect(res.status).toBe(200);
    expect(await getTask(rejected)).toMatchObject({ status: "cancelled", attempts: 0 });
    expect((await getTask(rejected)).error_message).toContain("rejected");
    await expire("gated-no", await approvalOf(expired));
    expect(await getTask(expired)).toMatchObject({ status: "cancelled", attempts: 0 });
  });
});

describe("callback_url", () => {
  async function hmac(body: string): Promise<string> {
    const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(JWT_SECRET), { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
    ]);
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body)));
    return `sha256=${[...mac].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
  }

  it("gets a signed POST after the decision; a failing endpoint is retried", async () => {
    spyMail();
    const received: { body: string; sig: string | null; id: string | null }[] = [];
    let fail = true;
    const realFetch = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const req = new Request(input, init);
      if (!req.url.startsWith("https://hooks.example.com/")) return realFetch(input, init);
      received.push({ body: await req.text(), sig: req.headers.get("x-signature"), id: req.headers.get("x-approval-id") });
      return new Response(null, { status: fail ? 500 : 204 });
    });
    const agent = "cb-agent";
    const { approval_id } = await createApproval(base({ agent_id: agent, callback_url: "https://hooks.example.com/approved" }));
    const res = await call(`/api/v2/email/approval/${approval_id}/respond`, {
      body: { action: "approve", approver_email: "boss@example.com" },
    });
    expect(res.status).toBe(200);
    await vi.waitFor(() => expect(received.length).toBe(1), { timeout: 10_000 });
    expect(await getApproval(approval_id)).toMatchObject({ callback: { status: "pending", attempts: 1 } });
    fail = false;
    await makeDue(agent, approval_id);
    await runDurableObjectAlarm(env.AGENT.getByName(agent));
    expect(received.length).toBe(2);
    const last = received[1]!;
    expect(last.id).toBe(approval_id);
    expect(last.sig).toBe(await hmac(last.body));
    // Decided with the API (a JWT whose sub is `tester`): the callback names that credential.
    expect(JSON.parse(last.body)).toMatchObject({
      approval_id,
      status: "approved",
      approved_by: "jwt:tester",
      decided_by: "jwt:tester",
      decider: { kind: "jwt", id: "tester" },
      rejection_reason: null,
      task_id: null,
    });
    expect(JSON.parse(last.body).decided_at).toMatch(/Z$/);
    expect(await getApproval(approval_id)).toMatchObject({ callback: { status: "delivered", attempts: 2 } });
  });
});
