/**
 * Approval replies by mail: decides what an inbound message to a reply address means. A reply is
 * accepted only when every check passes:
 * 1. It was sent to a signed sub-address `approvals+{approval_id}.{sig}@…` (./signing.ts);
 *    anything else is refused (a permanent SMTP error).
 * 2. It is not an auto-reply (./reply-reader.ts): those are dropped silently, no answer, no change.
 * 3. `In-Reply-To` or `References` names the Message-ID the approval mail went out with.
 * 4. The sender is the approver (or an escalation recipient once escalated); case-insensitive,
 *    display name ignored.
 * 5. The first non-quoted line holds the answer (./reply-reader.ts).
 * An unreadable answer gets a short help reply and changes nothing; a valid one is recorded
 * (decided_via `email`) and confirmed by reply. The Worker's `email()` handler only carries out
 * the outcome (workers/email-inbound.ts).
 */
import PostalMime from "postal-mime";
import { defaultSender } from "../email/settings";
import { AppError } from "../lib/problem";
import { responders, type ApprovalRecord } from "./model";
import { htmlAnswerText, isAutoReply, readAnswer } from "./reply-reader";
import { decide, getApproval } from "./service";
import { replyToAddress, signingSecret } from "./signing";

const ROUTED = /^approvals\+(approval_[0-9a-f]{24})\.([0-9a-f]{16})@/i;

/** What arrived: the envelope, the headers and the raw RFC 822 message. */
export interface InboundReply {
  to: string;
  from: string;
  headers: Headers;
  raw: ReadableStream<Uint8Array> | ArrayBuffer | string;
}

/** What to do with it: refuse it, drop it silently, or answer it (after recording any decision). */
export type ReplyOutcome =
  | { kind: "reject"; reason: string }
  | { kind: "ignore" }
  | { kind: "reply"; from: string; subject: string; text: string };

const normId = (id: string) => id.trim().replace(/^<|>$/g, "").toLowerCase();

/** Whether `to` is exactly the signed reply address of its approval (constant-time). */
async function signedAddress(secret: string, approvalId: string, to: string): Promise<boolean> {
  const enc = new TextEncoder();
  const expected = enc.encode((await replyToAddress(secret, approvalId, to)).toLowerCase());
  const given = enc.encode(to.toLowerCase());
  return expected.byteLength === given.byteLength && crypto.subtle.timingSafeEqual(expected, given);
}

export async function answerReply(env: Env, message: InboundReply): Promise<ReplyOutcome> {
  const secret = signingSecret(env);
  const routed = ROUTED.exec(message.to);
  if (!secret || !routed) return { kind: "reject", reason: "Unknown recipient" };
  const approvalId = routed[1]!.toLowerCase();
  if (!(await signedAddress(secret, approvalId, message.to))) return { kind: "reject", reason: "Unknown recipient" };
  if (isAutoReply(message.headers)) return { kind: "ignore" }; // never answer a robot (mail loops)

  let approval: ApprovalRecord;
  try {
    approval = await getApproval(env, approvalId);
  } catch (err) {
    if (err instanceof AppError && err.status === 404) return { kind: "reject", reason: "Unknown approval request" };
    throw err;
  }
  const parsed = await PostalMime.parse(message.raw);
  const threadIds = [parsed.inReplyTo ?? "", ...(parsed.references ?? "").split(/\s+/)].filter(Boolean).map(normId);
  if (!approval.rfc_message_id || !threadIds.includes(normId(approval.rfc_message_id))) {
    return { kind: "reject", reason: "This message is not a reply to the approval request" };
  }
  const sender = (parsed.from?.address ?? message.from).toLowerCase();
  if (!responders(approval).includes(sender)) return { kind: "reject", reason: "Only the approver may answer this approval request" };

  const reply = (text: string): ReplyOutcome => ({
    kind: "reply",
    from: defaultSender(env).email,
    subject: /^re:/i.test(parsed.subject ?? "") ? parsed.subject! : `Re: ${parsed.subject ?? approval.title}`,
    text,
  });
  const answer = readAnswer(parsed.text?.trim() ? parsed.text : htmlAnswerText(parsed.html ?? ""));
  if (!answer) {
    return reply(
      `Your reply could not be read, so nothing was recorded.\n\nTo answer "${approval.title}", reply with APPROVE or REJECT on the first line (anything after it is kept as the reason), or use the links in the original mail.\n`,
    );
  }
  try {
    const decided = await decide(env, approval.agent_id, approvalId, {
      action: answer.action,
      by: sender,
      via: "email",
      reason: answer.reason || undefined,
      checkResponder: true,
    });
    return reply(
      `Recorded: "${approval.title}" is ${decided.status}${decided.rejection_reason ? ` (${decided.rejection_reason})` : ""}. Thank you.\n`,
    );
  } catch (err) {
    if (!(err instanceof AppError) || err.status !== 409) throw err;
    // The 409 names the status it found (the record read above may predate that decision).
    const status = typeof err.extensions.status === "string" ? err.extensions.status : approval.status;
    return reply(`Nothing was recorded: "${approval.title}" was already decided (${status}).\n`);
  }
}
