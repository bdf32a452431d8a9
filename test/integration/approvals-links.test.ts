import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { call, json, mintToken, problem } from "../helpers/api";
import { base, createApproval, getApproval, sentMails, spyMail } from "../helpers/approvals";
import { linkToken } from "../helpers/tokens";

afterEach(() => vi.restoreAllMocks());

const page = (path: string, method = "GET") => call(path, { method, token: null });

describe("creating an approval", () => {
  it("stores it, mails two signed links and a signed Reply-To through the cloudflare provider", async () => {
    const spy = spyMail();
    const created = await createApproval(base({ data: { version: 2 }, expires_in_hours: 2 }));
    expect(created).toMatchObject({ success: true, status: "pending", email: { status: "sent" } });
    expect(created.approval_id).toMatch(/^approval_[0-9a-f]{24}$/);
    expect(Date.parse(created.expires_at) - Date.now()).toBeGreaterThan(2 * 3600e3 - 60e3);
    expect(created.email.message_id).toBeTruthy();
    const [mail] = sentMails(spy);
    expect(mail!.to).toBe("Boss@Example.com");
    expect(mail!.subject).toContain("Deploy v2");
    expect(mail!.replyTo).toMatch(new RegExp(`^approvals\\+${created.approval_id}\\.[0-9a-f]{16}@localhost$`));
    expect(mail!.links.approve).toContain(`/approve/${created.approval_id}?action=approve&token=`);
    const got = await getApproval(created.approval_id);
    expect(got).toMatchObject({
      status: "pending",
      data: { version: 2 },
      approver_email: "Boss@Example.com",
      approved_at: null,
      decided_via: null,
      email: { status: "sent", message_id: created.email.message_id },
    });
    const list = await json<{ approvals: { approval_id: string }[] }>(
      await call("/api/v2/email/approvals?status=pending&approver_email=boss@example.com"),
    );
    expect(list.approvals.map((a) => a.approval_id)).toContain(created.approval_id);
  });

  it("accepts the prototype's query form with data as the raw body", async () => {
    spyMail();
    const q = new URLSearchParams({
      agent_id: "legacy",
      title: "T",
      description: "D",
      approver_email: "a@example.com",
      expires_in_hours: "1",
    });
    const res = await call(`/api/v2/email/approval?${q}`, { body: { amount: 5 } });
    expect(res.status).toBe(201);
    const { approval_id } = await json<{ approval_id: string }>(res);
    expect(await getApproval(approval_id)).toMatchObject({ agent_id: "legacy", data: { amount: 5 } });
  });

  it("still creates the approval when no provider can send, with email.status failed", async () => {
    spyMail().mockRejectedValue(new Error("internal error"));
    const created = await createApproval(base());
    expect(created.email).toMatchObject({ status: "failed", message_id: expect.stringMatching(/^msg_/) });
    // The failed mail is in the message log, linked to the approval.
    const logged = await json(await call(`/api/v2/email/messages/${created.email.message_id!}`));
    expect(logged).toMatchObject({ status: "failed", related: created.approval_id });
    expect(await getApproval(created.approval_id)).toMatchObject({ status: "pending", email: { status: "failed" } });
  });

  it("refuses bad input with 422 and creates nothing", async () => {
    const before = (await env.DB.prepare("SELECT count(*) AS n FROM approval_index").first<{ n: number }>())!.n;
    const bad = [
      { ...base(), approver_email: undefined },
      base({ approver_email: "not-an-address" }),
      base({ expires_in_hours: 0 }),
      base({ expires_in_hours: 721 }),
      base({ on_expire: "shrug" }),
      base({ on_expire: "escalate" }),
      base({ callback_url: "ftp://x" }),
    ];
    for (const body of bad) await problem(await call("/api/v2/email/approval", { body }), 422);
    expect((await env.DB.prepare("SELECT count(*) AS n FROM approval_index").first<{ n: number }>())!.n).toBe(before);
  });
});

describe("the mailed links", () => {
  it("GET shows the request and a confirm form and changes nothing; POST approves; reuse changes nothing", async () => {
    const spy = spyMail();
    const { approval_id } = await createApproval(base({ data: { x: "<y>" } }));
    const { links } = sentMails(spy)[0]!;
    for (let i = 0; i < 2; i++) {
      const res = await page(links.approve);
      expect(res.status).toBe(200);
      const html = await res.text();
      expect(html).toContain("Deploy v2");
      expect(html).toContain("Ship &lt;b&gt;it&lt;/b&gt;?");
      expect(html).toContain("&lt;y&gt;");
      expect(html).toContain('<form method="post"');
    }
    expect((await getApproval(approval_id)).status).toBe("pending");
    const done = await page(links.approve, "POST");
    expect(done.status).toBe(200);
    expect(await done.text()).toContain("Approved");
    const got = await getApproval(approval_id);
    expect(got).toMatchObject({ status: "approved", approved_by: "Boss@Example.com", decided_via: "link" });
    const again = await page(links.approve, "POST");
    expect(again.status).toBe(409);
    expect(await page(links.reject, "POST")).toHaveProperty("status", 409);
    expect(await getApproval(approval_id)).toEqual(got);
    const row = await env.DB.prepare("SELECT status FROM approval_index WHERE approval_id = ?")
      .bind(approval_id)
      .first<{ status: string }>();
    expect(row!.status).toBe("approved");
  });

  it("reject link records the reason from the form", async () => {
    const spy = spyMail();
    const { approval_id } = await createApproval(base());
    const res = await call(sentMails(spy)[0]!.links.reject, {
      method: "POST",
      token: null,
      rawBody: "reason=too+risky",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(res.status).toBe(200);
    expect(await getApproval(approval_id)).toMatchObject({ status: "rejected", rejection_reason: "too risky", approved_by: null });
  });

  it("forged, other-approval and expired tokens get an error page and change nothing", async () => {
    const spy = spyMail();
    const a = await createApproval(base());
    const b = await createApproval(base());
    const [ma, mb] = sentMails(spy);
    const tokenOf = (path: string) => new URL(`http://x${path}`).searchParams.get("token")!;
    const now = Math.floor(Date.now() / 1000);
    const forged = await linkToken({
      approvalId: a.approval_id,
      action: "approve",
      exp: now + 600,
      secret: "another-secret-entirely-0123456789",
    });
    const expired = await linkToken({ approvalId: a.approval_id, action: "approve", exp: now - 60 });
    const cases: [string, number][] = [
      [`/approve/${a.approval_id}?action=approve&token=${forged}`, 403],
      [`/approve/${a.approval_id}?action=approve&token=${tokenOf(mb!.links.approve)}`, 403],
      [`/approve/${a.approval_id}?action=approve&token=${expired}`, 410],
      [`/approve/${a.approval_id}?action=approve&token=garbage`, 403],
      [`/approve/${a.approval_id}?action=approve`, 400],
    ];
    for (const [path, status] of cases) {
      for (const method of ["GET", "POST"]) {
        const res = await page(path, method);
        expect(res.status, `${method} ${path}`).toBe(status);
        expect(res.headers.get("content-type")).toContain("text/html");
      }
    }
    expect((await getApproval(a.approval_id)).status).toBe("pending");
    expect((await getApproval(b.approval_id)).status).toBe("pending");
    expect(ma).toBeDefined();
  });
});

describe("POST /api/v2/email/approval/{id}/respond", () => {
  it("a bearer credential with email:send decides once, recorded as that credential (401 without, 403 without the permission, 409 after)", async () => {
    spyMail();
    const { approval_id } = await createApproval(base());
    const path = `/api/v2/email/approval/${approval_id}/respond`;
    await problem(await call(path, { token: null, body: { action: "approve", approver_email: "boss@example.com" } }), 401);
    await problem(
      await call(path, { token: await mintToken({ role: "user" }), body: { action: "approve", approver_email: "boss@example.com" } }),
      403,
    );
    expect((await getApproval(approval_id)).status).toBe("pending");
    const res = await call(path, {
      token: await mintToken({ sub: "carol", role: "developer" }),
      body: { action: "reject", approver_email: "BOSS@example.COM", reason: "not now" },
    });
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({
      status: "rejected",
      rejection_reason: "not now",
      decided_via: "api",
      decided_by: "jwt:carol",
      decider: { kind: "jwt", id: "carol" },
    });
    await problem(await call(path, { body: { action: "approve", approver_email: "boss@example.com" } }), 409);
  });

  it("accepts the link token instead of a bearer token (its action must match)", async () => {
    const spy = spyMail();
    const { approval_id } = await createApproval(base());
    const token = new URL(`http://x${sentMails(spy)[0]!.links.approve}`).searchParams.get("token")!;
    const path = `/api/v2/email/approval/${approval_id}/respond`;
    await problem(await call(path, { token: null, body: { action: "reject", approver_email: "boss@example.com", token } }), 403);
    const res = await call(`${path}?token=${token}`, { token: null, body: { action: "approve", approver_email: "boss@example.com" } });
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ status: "approved", decided_via: "link" });
  });

  it("a credential limited to other agents can neither create, read nor decide this agent's approvals", async () => {
    spyMail();
    const other = await mintToken({ role: "super_admin", agents: ["someone-else"] });
    await problem(await call("/api/v2/email/approval", { token: other, body: base() }), 403);
    const { approval_id } = await createApproval(base());
    await problem(await call(`/api/v2/email/approval/${approval_id}`, { token: other }), 403);
    const path = `/api/v2/email/approval/${approval_id}/respond`;
    await problem(await call(path, { token: other, body: { action: "approve", approver_email: "boss@example.com" } }), 403);
    expect((await getApproval(approval_id)).status).toBe("pending");
    // The same role limited to this agent may decide.
    const mine = await mintToken({ role: "super_admin", agents: ["approver-agent"] });
    expect((await call(path, { token: mine, body: { action: "approve", approver_email: "boss@example.com" } })).status).toBe(200);
  });

  it("an approval past its deadline cannot be decided, even before the alarm has expired it", async () => {
    spyMail();
    const { approval_id } = await createApproval(base());
    await runInDurableObject(env.AGENT.getByName("approver-agent"), (_i, state) => {
      state.storage.sql.exec("UPDATE approvals SET expires_at = ? WHERE approval_id = ?", Date.now() - 1, approval_id);
    });
    const res = await call(`/api/v2/email/approval/${approval_id}/respond`, {
      body: { action: "approve", approver_email: "boss@example.com" },
    });
    await problem(res, 409);
    expect((await getApproval(approval_id)).status).not.toBe("approved");
  });

  it("a link token already used on the page is refused by respond too (409), nothing changes", async () => {
    const spy = spyMail();
    const { approval_id } = await createApproval(base());
    const link = sentMails(spy)[0]!.links.reject;
    const token = new URL(`http://x${link}`).searchParams.get("token")!;
    // Used once through the confirm page: the approval is rejected and the token spent.
    expect((await call(link, { method: "POST", token: null })).status).toBe(200);
    const again = await call(`/api/v2/email/approval/${approval_id}/respond?token=${token}`, {
      token: null,
      body: { action: "reject", approver_email: "boss@example.com" },
    });
    await problem(again, 409);
    expect(await getApproval(approval_id)).toMatchObject({ status: "rejected", decided_via: "link" });
  });
});
