/**
 * Approval replies (docs/email-and-approvals.md), the cases approvals-inbound.test.ts leaves out: HTML-only replies,
 * quoted history in its usual shapes, sub-address signatures, a reply after the decision, the
 * yes/no synonyms and multi-line reasons. Mail is built as a mail client would write it and handed
 * to the Worker's email() handler as a hand-made ForwardableEmailMessage.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { htmlAnswerText, readAnswer } from "../../src/approvals/reply-reader";
import { replyToAddress } from "../../src/approvals/signing";
import { base, createApproval, getApproval, inboundMessage, sentMails, spyMail } from "../helpers/approvals";
import { JWT_SECRET, call, json } from "../helpers/api";

afterEach(() => vi.restoreAllMocks());

const APPROVER = "boss@example.com";
const ATTRIBUTION = "On Thu, 26 Nov 2026 at 12:00, DataMCPServerAgent <agent@localhost> wrote:";
/** Gmail's plain-text attribution, wrapped at 78 characters. */
const WRAPPED_ATTRIBUTION = "On Thu, 26 Nov 2026 at 12:00, DataMCPServerAgent <agent@localhost>\nwrote:";
const QUOTED = "> Approval needed: Deploy v2\n>\n> Ship it?\n> Or reply to this mail with APPROVE or REJECT";

interface Mail {
  to: string;
  from?: string;
  inReplyTo?: string;
  /** The text/plain body; or give `html` alone (HTML-only), or both (multipart/alternative). */
  text?: string;
  html?: string;
}

/** A raw reply and the ForwardableEmailMessage the runtime would hand to email(). */
function inbound(m: Mail) {
  const from = m.from ?? APPROVER;
  const head: Record<string, string> = {
    From: `Boss <${from}>`,
    To: m.to,
    Subject: "Re: Approval needed: Deploy v2",
    "Message-ID": `<${crypto.randomUUID()}@example.com>`,
    ...(m.inReplyTo ? { "In-Reply-To": m.inReplyTo, References: m.inReplyTo } : {}),
    "MIME-Version": "1.0",
  };
  const crlf = (s: string) => s.replace(/\r?\n/g, "\r\n");
  let body: string;
  if (m.text !== undefined && m.html !== undefined) {
    head["Content-Type"] = 'multipart/alternative; boundary="b1"';
    body = `--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${crlf(m.text)}\r\n--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n${crlf(m.html)}\r\n--b1--\r\n`;
  } else if (m.html !== undefined) {
    head["Content-Type"] = "text/html; charset=utf-8";
    body = crlf(m.html);
  } else {
    head["Content-Type"] = "text/plain; charset=utf-8";
    body = crlf(m.text ?? "");
  }
  return inboundMessage(from, m.to, head, body);
}
type Fake = ReturnType<typeof inbound>;

async function setup(extra: Record<string, unknown> = {}) {
  const spy = spyMail();
  const created = await createApproval(base({ approver_email: APPROVER, ...extra }));
  const mail = sentMails(spy)[0]!;
  spy.mockRestore();
  const logged = await json<{ rfc_message_id: string }>(await call(`/api/v2/email/messages/${created.email.message_id!}`));
  const rfc = logged.rfc_message_id;
  return { id: created.approval_id, replyTo: mail.replyTo!, inReplyTo: rfc.startsWith("<") ? rfc : `<${rfc}>` };
}

async function deliver(m: Mail): Promise<Fake> {
  const f = inbound(m);
  await worker.email(f.msg, env);
  return f;
}
const replyOf = (f: Fake) => (f.reply.mock.calls[0] as unknown as [{ text: string; subject: string }])[0];

describe("reading the answer", () => {
  it("an HTML-only reply (no text part) is read, up to Gmail's quote block", async () => {
    const { id, replyTo, inReplyTo } = await setup();
    const html = `<div dir="ltr">Rejected &ndash; not this week<div>the freeze ends Monday&nbsp;&amp; QA is out</div></div><br>
<div class="gmail_quote"><div dir="ltr" class="gmail_attr">${ATTRIBUTION.replace("<", "&lt;").replace(">", "&gt;")}<br></div>
<blockquote class="gmail_quote">Approval needed: Deploy v2<br>Or reply to this mail with APPROVE or REJECT</blockquote></div>`;
    const f = await deliver({ to: replyTo, inReplyTo, html });
    expect(f.setReject).not.toHaveBeenCalled();
    expect(replyOf(f).text).toContain("is rejected");
    expect(await getApproval(id)).toMatchObject({
      status: "rejected",
      decided_via: "email",
      rejection_reason: "not this week\nthe freeze ends Monday & QA is out",
    });
  });

  it("an HTML-only approval with a bare blockquote and no attribution line", async () => {
    const { id, replyTo, inReplyTo } = await setup();
    const f = await deliver({
      to: replyTo,
      inReplyTo,
      html: "<html><head><style>p{}</style></head><body><p>YES</p><blockquote>Reply with APPROVE or REJECT</blockquote></body></html>",
    });
    expect(replyOf(f).text).toContain("is approved");
    expect(await getApproval(id)).toMatchObject({ status: "approved", decided_via: "email" });
  });

  it("with text and HTML parts, the text part is read", async () => {
    const { id, replyTo, inReplyTo } = await setup();
    await deliver({ to: replyTo, inReplyTo, text: "reject: from the text part\n> quoted", html: "<p>approve</p>" });
    expect(await getApproval(id)).toMatchObject({ status: "rejected", rejection_reason: "from the text part" });
  });

  it('quoted history below (an "On … wrote:" line, also wrapped, and > lines) is not part of the reason', async () => {
    for (const attribution of [ATTRIBUTION, WRAPPED_ATTRIBUTION]) {
      const { id, replyTo, inReplyTo } = await setup();
      const f = await deliver({
        to: replyTo,
        inReplyTo,
        text: `No, the budget is spent.\nAsk again in Q1.\n\n${attribution}\n${QUOTED}\n`,
      });
      expect(replyOf(f).text).toContain("is rejected (the budget is spent.\nAsk again in Q1.)");
      expect(await getApproval(id)).toMatchObject({ status: "rejected", rejection_reason: "the budget is spent.\nAsk again in Q1." });
    }
    const { id, replyTo, inReplyTo } = await setup();
    await deliver({ to: replyTo, inReplyTo, text: `Rejected\n\nwrong environment\n${QUOTED}` });
    expect(await getApproval(id)).toMatchObject({ status: "rejected", rejection_reason: "wrong environment" });
  });

  it("yes/approve/approved and no/reject/rejected, any case, with punctuation", async () => {
    const cases: [string, "approved" | "rejected"][] = [
      ["yes", "approved"],
      ["Yes!", "approved"],
      ["APPROVE", "approved"],
      ["approved.", "approved"],
      ["no", "rejected"],
      ["No.", "rejected"],
      ["REJECT", "rejected"],
      ["Rejected,", "rejected"],
    ];
    for (const [text, status] of cases) {
      const { id, replyTo, inReplyTo } = await setup();
      const f = await deliver({ to: replyTo, inReplyTo, text: `${text}\n\n${ATTRIBUTION}\n${QUOTED}` });
      expect(replyOf(f).text, text).toContain(`is ${status}`);
      expect(replyOf(f).subject).toBe("Re: Approval needed: Deploy v2");
      expect(await getApproval(id), text).toMatchObject({
        status,
        decided_via: "email",
        approved_by: status === "approved" ? APPROVER : null,
      });
    }
  });

  it("words that only start like an answer are not one: help reply, nothing changes", async () => {
    for (const text of ["Nope", "yesterday I said maybe", "approval pending", "nothing to add"]) {
      const { id, replyTo, inReplyTo } = await setup();
      const f = await deliver({ to: replyTo, inReplyTo, text });
      expect(replyOf(f).text, text).toMatch(/could not be read/);
      expect((await getApproval(id)).status).toBe("pending");
    }
  });

  it("readAnswer and htmlAnswerText on their own", () => {
    expect(readAnswer(`reject: line one\n  line two\n\nline four\n${WRAPPED_ATTRIBUTION}\n> x`)).toEqual({
      action: "reject",
      reason: "line one\n  line two\n\nline four",
    });
    expect(readAnswer(`${WRAPPED_ATTRIBUTION}\n> approve`)).toBeNull();
    expect(readAnswer("Rejected\n-----Original Message-----\nFrom: agent@localhost")).toEqual({ action: "reject", reason: "" });
    expect(htmlAnswerText("<p>yes &#8212; go</p><p>ship&#x21;</p>")).toMatch(/^\nyes — go\n\nship!\n$/);
    expect(htmlAnswerText('<div>approve</div><div id="divRplyFwdMsg">From: agent</div>')).toBe("\napprove\n\n>");
  });
});

describe("who may answer, and when", () => {
  it("a forged or foreign signature and a missing sub-address are rejected and change nothing", async () => {
    const { id, replyTo, inReplyTo } = await setup();
    const other = await setup();
    const sig = /\.([0-9a-f]{16})@/.exec(replyTo)![1]!;
    const flipped = sig.replace(/^./, (c) => (c === "0" ? "1" : "0"));
    const addresses = [
      replyTo.replace(sig, flipped), // one character off
      replyTo.replace(sig, /\.([0-9a-f]{16})@/.exec(other.replyTo)![1]!), // another approval's signature
      replyTo.replace(`.${sig}`, ""), // sub-address without a signature
      `approvals+${id}.${await replyToAddress("some-other-secret", id, "agent@localhost").then((a) => /\.([0-9a-f]{16})@/.exec(a)![1])}@localhost`, // signed with another secret
      "approvals@localhost", // no sub-address
      "agent@localhost",
    ];
    expect(await replyToAddress(JWT_SECRET, id, "agent@localhost")).toBe(replyTo); // the real one, for contrast
    for (const to of addresses) {
      const f = await deliver({ to, inReplyTo, text: "approve" });
      expect(f.setReject, to).toHaveBeenCalledWith("Unknown recipient");
      expect(f.reply).not.toHaveBeenCalled();
    }
    expect((await getApproval(id)).status).toBe("pending");
    expect((await getApproval(other.id)).status).toBe("pending");
  });

  it("a reply to another approval's mail (right address, wrong thread) is rejected", async () => {
    const a = await setup();
    const b = await setup();
    const f = await deliver({ to: a.replyTo, inReplyTo: b.inReplyTo, text: "approve" });
    expect(f.setReject).toHaveBeenCalledWith("This message is not a reply to the approval request");
    expect((await getApproval(a.id)).status).toBe("pending");
    expect((await getApproval(b.id)).status).toBe("pending");
  });

  it("a second reply after the decision is told so and changes nothing", async () => {
    const { id, replyTo, inReplyTo } = await setup();
    await deliver({ to: replyTo, inReplyTo, text: "approve\nfine by me" });
    const decided = await getApproval(id);
    expect(decided).toMatchObject({ status: "approved", decided_via: "email" });
    for (const text of ["reject: changed my mind", "approve"]) {
      const late = await deliver({ to: replyTo, inReplyTo, text });
      expect(late.setReject).not.toHaveBeenCalled();
      expect(replyOf(late).text).toMatch(/Nothing was recorded: "Deploy v2" was already decided \(approved\)/);
      expect(await getApproval(id)).toEqual(decided);
    }
  });

  it("a reply after a link decision is told it was decided", async () => {
    const { id, replyTo, inReplyTo } = await setup();
    const res = await call(`/api/v2/email/approval/${id}/respond`, {
      body: { action: "reject", approver_email: APPROVER, reason: "by API" },
    });
    expect(res.status).toBe(200);
    const late = await deliver({ to: replyTo, inReplyTo, text: "yes" });
    expect(replyOf(late).text).toContain("already decided (rejected)");
    expect(await getApproval(id)).toMatchObject({
      status: "rejected",
      decided_via: expect.not.stringMatching(/^email$/),
      rejection_reason: "by API",
    });
  });
});
