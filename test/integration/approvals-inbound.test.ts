import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { readAnswer } from "../../src/approvals/reply-reader";
import { base, createApproval, getApproval, inboundMessage, sentMails, spyMail } from "../helpers/approvals";
import { call, json } from "../helpers/api";

afterEach(() => vi.restoreAllMocks());

interface Fake {
  msg: ForwardableEmailMessage;
  setReject: ReturnType<typeof vi.fn>;
  reply: ReturnType<typeof vi.fn>;
}

/** A ForwardableEmailMessage built by hand (cloudflare:test has no inbound helper). */
function inbound(opts: {
  to: string;
  from?: string;
  fromHeader?: string;
  inReplyTo?: string;
  body: string;
  headers?: Record<string, string>;
}): Fake {
  const from = opts.from ?? "boss@example.com";
  const head: Record<string, string> = {
    From: opts.fromHeader ?? `Boss <${from}>`,
    To: opts.to,
    Subject: "Re: Approval needed: Deploy v2",
    "Message-ID": `<${crypto.randomUUID()}@example.com>`,
    ...(opts.inReplyTo ? { "In-Reply-To": opts.inReplyTo, References: opts.inReplyTo } : {}),
    "Content-Type": "text/plain; charset=utf-8",
    ...opts.headers,
  };
  return inboundMessage(from, opts.to, head, opts.body.replace(/\n/g, "\r\n"));
}

async function setup() {
  const spy = spyMail();
  const created = await createApproval(base());
  const mail = sentMails(spy)[0]!;
  // The approval names its mail in the message log; the log has the Message-ID it went out with.
  const logged = await json<{ rfc_message_id: string }>(await call(`/api/v2/email/messages/${created.email.message_id!}`));
  const messageId = logged.rfc_message_id;
  return { id: created.approval_id, replyTo: mail.replyTo!, inReplyTo: messageId.startsWith("<") ? messageId : `<${messageId}>` };
}

const deliver = (f: Fake) => worker.email(f.msg, env);
const replyText = (f: Fake) => (f.reply.mock.calls[0] as unknown as [{ text: string }])[0].text;

describe("replies to the approval mail", () => {
  it("approve from the approver (display name and case ignored) is recorded and confirmed", async () => {
    const { id, replyTo, inReplyTo } = await setup();
    const f = inbound({
      to: replyTo,
      from: "Boss@EXAMPLE.com",
      inReplyTo,
      body: "Approved - looks good\nship it\n\nOn Mon, Bot wrote:\n> Approval needed",
    });
    await deliver(f);
    expect(f.setReject).not.toHaveBeenCalled();
    expect(replyText(f)).toContain("approved");
    expect(await getApproval(id)).toMatchObject({ status: "approved", decided_via: "email", approved_by: "boss@example.com" });
  });

  it("reject keeps the rest as the reason; a later reply is told it was decided", async () => {
    const { id, replyTo, inReplyTo } = await setup();
    await deliver(inbound({ to: replyTo, inReplyTo, body: "no: too risky\n> quoted" }));
    expect(await getApproval(id)).toMatchObject({ status: "rejected", rejection_reason: "too risky" });
    const late = inbound({ to: replyTo, inReplyTo, body: "yes" });
    await deliver(late);
    expect(replyText(late)).toContain("already decided");
    expect((await getApproval(id)).status).toBe("rejected");
  });

  it("an unreadable reply gets help and changes nothing", async () => {
    const { id, replyTo, inReplyTo } = await setup();
    const f = inbound({ to: replyTo, inReplyTo, body: "maybe later?\n> Approval needed" });
    await deliver(f);
    expect(replyText(f)).toMatch(/APPROVE or REJECT/);
    expect((await getApproval(id)).status).toBe("pending");
  });

  it("auto-replies are ignored: no answer, no change", async () => {
    const { id, replyTo, inReplyTo } = await setup();
    const robots: Record<string, string>[] = [
      { "Auto-Submitted": "auto-replied" },
      { Precedence: "bulk" },
      { "X-Auto-Response-Suppress": "All" },
    ];
    for (const headers of robots) {
      const f = inbound({ to: replyTo, inReplyTo, body: "approve", headers });
      await deliver(f);
      expect(f.reply).not.toHaveBeenCalled();
      expect(f.setReject).not.toHaveBeenCalled();
    }
    expect((await getApproval(id)).status).toBe("pending");
  });

  it("refuses strangers, forged sub-addresses and unthreaded mail", async () => {
    const { id, replyTo, inReplyTo } = await setup();
    const forged = replyTo.replace(/\.([0-9a-f]{16})@/, ".0000000000000000@");
    const cases = [
      inbound({ to: replyTo, from: "intern@example.com", inReplyTo, body: "approve" }),
      inbound({ to: forged, inReplyTo, body: "approve" }),
      inbound({ to: "agent@localhost", inReplyTo, body: "approve" }),
      inbound({ to: replyTo, inReplyTo: "<other@example.com>", body: "approve" }),
      inbound({ to: replyTo, body: "approve" }),
    ];
    for (const f of cases) {
      await deliver(f);
      expect(f.setReject).toHaveBeenCalledTimes(1);
      expect(f.reply).not.toHaveBeenCalled();
    }
    expect((await getApproval(id)).status).toBe("pending");
  });
});

describe("readAnswer", () => {
  it("reads the first non-quoted line", () => {
    expect(readAnswer("YES")).toEqual({ action: "approve", reason: "" });
    expect(readAnswer("\n\nRejected. Budget.\nNext quarter.\n> quoted")).toEqual({ action: "reject", reason: "Budget.\nNext quarter." });
    expect(readAnswer("> approve\nyes")).toBeNull();
    expect(readAnswer("nobody knows")).toBeNull();
    expect(readAnswer("")).toBeNull();
  });
});
