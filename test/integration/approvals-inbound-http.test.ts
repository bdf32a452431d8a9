/**
 * POST /api/v2/email/inbound: a raw reply posted by an MTA or webhook goes through the same reader
 * as the email() handler; its own token opens this route only; refusals change nothing.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { base, createApproval, getApproval, sentMails, spyMail } from "../helpers/approvals";
import { call, callWith, json, mintToken, problem } from "../helpers/api";

afterEach(() => vi.restoreAllMocks());

const TOKEN = "inbound-test-token-0123456789abcdef";
const WITH_TOKEN = { INBOUND_MAIL_TOKEN: TOKEN };
const PATH = "/api/v2/email/inbound";

async function setup() {
  const spy = spyMail();
  const created = await createApproval(base());
  const mail = sentMails(spy)[0]!;
  const logged = await json<{ rfc_message_id: string }>(await call(`/api/v2/email/messages/${created.email.message_id!}`));
  const rfc = logged.rfc_message_id;
  return { id: created.approval_id, replyTo: mail.replyTo!, inReplyTo: rfc.startsWith("<") ? rfc : `<${rfc}>`, spy };
}

function rawReply(o: { to: string; from?: string; inReplyTo: string; body: string }): string {
  return [
    `From: Boss <${o.from ?? "boss@example.com"}>`,
    `To: ${o.to}`,
    "Subject: Re: Approval needed: Deploy v2",
    `Message-ID: <${crypto.randomUUID()}@example.com>`,
    `In-Reply-To: ${o.inReplyTo}`,
    `References: ${o.inReplyTo}`,
    "Content-Type: text/plain; charset=utf-8",
    "",
    o.body,
  ].join("\r\n");
}

const post = (raw: string, opts: { token?: string | null; type?: string; query?: string } = {}) =>
  callWith(WITH_TOKEN, `${PATH}${opts.query ?? ""}`, {
    token: opts.token === undefined ? TOKEN : opts.token,
    rawBody: raw,
    headers: { "content-type": opts.type ?? "message/rfc822" },
  });

describe("POST /api/v2/email/inbound", () => {
  it("decides the approval from a raw reply posted with INBOUND_MAIL_TOKEN, and answers the sender by mail", async () => {
    const { id, replyTo, inReplyTo, spy } = await setup();
    const res = await post(rawReply({ to: replyTo, inReplyTo, body: "APPROVE\r\nship it" }));
    expect(res.status).toBe(200);
    const body = await json<{ outcome: string; reply: { to: string; sent: boolean; provider: string } }>(res);
    expect(body).toMatchObject({ outcome: "answered", reply: { to: "boss@example.com", sent: true, provider: "cloudflare" } });
    const approval = await getApproval(id);
    expect(approval).toMatchObject({ status: "approved", decided_via: "email", decided_by: "boss@example.com" });
    // The answer went to the sender, threaded on the reply.
    const answer = spy.mock.calls.at(-1)![0] as { to: string; text: string; headers: Record<string, string> };
    expect(answer.to).toBe("boss@example.com");
    expect(answer.text).toContain("is approved");
    expect(answer.headers["In-Reply-To"]).toMatch(/@example\.com>$/);
  });

  it("takes an admin credential too; the envelope may come as query parameters", async () => {
    const { id, replyTo, inReplyTo } = await setup();
    const raw = rawReply({ to: "someone-else@example.com", inReplyTo, body: "REJECT too risky" });
    const res = await post(raw, {
      token: await mintToken({ role: "admin" }),
      query: `?to=${encodeURIComponent(replyTo)}&from=boss@example.com`,
    });
    expect(res.status).toBe(200);
    expect(await getApproval(id)).toMatchObject({ status: "rejected", rejection_reason: "too risky" });
  });

  it("refuses a post without credentials, with a wrong token, or with a non-admin credential, and nothing changes", async () => {
    const { id, replyTo, inReplyTo } = await setup();
    const raw = rawReply({ to: replyTo, inReplyTo, body: "APPROVE" });
    const none = await problem(await post(raw, { token: null }), 401);
    expect(none.code).toBe("unauthenticated");
    await problem(await post(raw, { token: "not-the-token" }), 401);
    await problem(await post(raw, { token: await mintToken({ role: "user" }) }), 403);
    await problem(await post(raw, { token: await mintToken({ role: "admin", agents: ["approver-agent"] }) }), 403);
    // Without INBOUND_MAIL_TOKEN configured, the same bearer is no credential at all.
    const unset = await call(PATH, { token: TOKEN, rawBody: raw, headers: { "content-type": "message/rfc822" } });
    await problem(unset, 401);
    expect((await getApproval(id)).status).toBe("pending");
  });

  it("the token opens this route only", async () => {
    const res = await callWith(WITH_TOKEN, "/api/v2/email/messages", { token: TOKEN });
    await problem(res, 401);
  });

  it("refuses a message that is not a valid reply (422 with the reason), the wrong media type (415) and an oversized body (413)", async () => {
    const { id, replyTo, inReplyTo } = await setup();
    const stranger = await problem(await post(rawReply({ to: replyTo, from: "mallory@example.com", inReplyTo, body: "APPROVE" })), 422);
    expect(stranger.reason).toBe("Only the approver may answer this approval request");
    const forged = replyTo.replace(/\.[0-9a-f]{16}@/, ".0000000000000000@");
    expect((await problem(await post(rawReply({ to: forged, inReplyTo, body: "APPROVE" })), 422)).reason).toBe("Unknown recipient");
    await problem(await post(rawReply({ to: replyTo, inReplyTo, body: "APPROVE" }), { type: "text/plain" }), 415);
    const big = await callWith({ ...WITH_TOKEN, MAX_BODY_BYTES: "1024" }, PATH, {
      token: TOKEN,
      rawBody: rawReply({ to: replyTo, inReplyTo, body: `APPROVE\r\n${"x".repeat(2048)}` }),
      headers: { "content-type": "message/rfc822" },
    });
    await problem(big, 413);
    expect((await getApproval(id)).status).toBe("pending");
  });

  it("drops an auto-reply without answering or deciding", async () => {
    const { id, replyTo, inReplyTo, spy } = await setup();
    const sentBefore = spy.mock.calls.length;
    const raw = rawReply({ to: replyTo, inReplyTo, body: "APPROVE" }).replace("Subject:", "Auto-Submitted: auto-replied\r\nSubject:");
    const res = await post(raw);
    expect(await json(res)).toEqual({ outcome: "ignored" });
    expect(spy.mock.calls.length).toBe(sentBefore);
    expect((await getApproval(id)).status).toBe("pending");
  });

  it("is declared in OpenAPI with its own bearer scheme and a message/rfc822 body", async () => {
    const doc = await json<{
      paths: Record<string, Record<string, { security: unknown; requestBody: { content: Record<string, unknown> } }>>;
      components: { securitySchemes: Record<string, unknown> };
    }>(await call("/openapi.json", { token: null }));
    const op = doc.paths[PATH]!.post!;
    expect(op.security).toEqual([{ inboundMailToken: [] }, { bearer: [] }, { apiKey: [] }]);
    expect(Object.keys(op.requestBody.content)).toEqual(["message/rfc822"]);
    expect(doc.components.securitySchemes.inboundMailToken).toMatchObject({ type: "http", scheme: "bearer" });
  });
});
