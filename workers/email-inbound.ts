/**
 * Inbound approval replies (SPEC §5), the Worker's `email()` handler.
 *
 * A reply is accepted only when every check passes:
 * 1. It was sent to a signed sub-address `approvals+{approval_id}.{sig}@…` (see
 *    src/approvals/signing.ts); anything else is refused with `setReject` (permanent SMTP error).
 * 2. It is not an auto-reply (RFC 3834: `Auto-Submitted` other than `no`, `Precedence:
 *    bulk|list|junk`, `X-Auto-Response-Suppress`): those are dropped silently, no answer, no change.
 * 3. `In-Reply-To` or `References` names the Message-ID the approval mail went out with.
 * 4. The sender is the approver (or an escalation recipient once escalated); case-insensitive,
 *    display name ignored.
 * 5. The first non-quoted line starts with approve/approved/yes or reject/rejected/no; the rest of
 *    that line and the lines after it, up to the quoted original (`>` lines, an "On … wrote:" line,
 *    also wrapped over two lines, Outlook's separators), are the reason. An HTML-only reply is read
 *    from its HTML, cut where the quote (blockquote, Gmail's or Outlook's quote block) begins.
 * An unreadable answer gets a short help reply and changes nothing; a valid one is recorded
 * (decided_via `email`) and confirmed by reply.
 */
import PostalMime from "postal-mime";
import type { ApprovalRecord } from "../src/approvals/model";
import { responders } from "../src/approvals/model";
import { decide, getApproval } from "../src/approvals/service";
import { replyToAddress, signingSecret } from "../src/approvals/signing";
import { decodeHtmlEntities } from "../src/email/html-entities";
import { defaultSender } from "../src/email/settings";
import { AppError } from "../src/lib/problem";

const ROUTED = /^approvals\+(approval_[0-9a-f]{24})\.([0-9a-f]{16})@/i;
const APPROVE = /^(approve|approved|yes)\b/i;
const REJECT = /^(reject|rejected|no)\b/i;
/** Where the quoted original starts: `> …`, `On … wrote:`, Outlook's separator. */
const QUOTE_START = /^(>|On .+wrote:\s*$|-{2,}\s*Original Message\s*-{2,}|_{5,}$|From: .+)/i;

export function isAutoReply(headers: Headers): boolean {
  const auto = headers.get("auto-submitted");
  if (auto && auto.trim().toLowerCase() !== "no") return true;
  if (/^(bulk|list|junk)$/i.test(headers.get("precedence")?.trim() ?? "")) return true;
  return headers.has("x-auto-response-suppress");
}

/** Whether `lines[i]` starts the quoted original; also an "On … wrote:" that the client wrapped. */
function quoteStarts(lines: string[], i: number): boolean {
  const line = lines[i]!.trim();
  if (QUOTE_START.test(line)) return true;
  return /^On\s/.test(line) && i + 1 < lines.length && /^On .+wrote:\s*$/i.test(`${line} ${lines[i + 1]!.trim()}`);
}

/** The answer in a reply body, or null when it cannot be read. */
export function readAnswer(text: string): { action: "approve" | "reject"; reason: string } | null {
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  const first = lines.findIndex((l) => l.trim() !== "");
  if (first < 0 || quoteStarts(lines, first)) return null;
  const line = lines[first]!.trim();
  const action = APPROVE.test(line) ? "approve" : REJECT.test(line) ? "reject" : null;
  if (!action) return null;
  const rest = [line.replace(action === "approve" ? APPROVE : REJECT, "").replace(/^[\s:.,;!\u2013\u2014-]+/, "")];
  for (let i = first + 1; i < lines.length && !quoteStarts(lines, i); i++) rest.push(lines[i]!);
  return { action, reason: rest.join("\n").trim() };
}

/** Where an HTML reply's quoted original starts: a blockquote, Gmail's or Outlook's quote block. */
const HTML_QUOTE_START = /<blockquote\b|<div\b[^>]*(?:class="[^"]*\bgmail_quote\b|id="?divRplyFwdMsg\b)/i;

/**
 * The text of an HTML-only reply (postal-mime gives no `text` when there is no text part), with
 * the quoted original cut off and replaced by a `>` line, so readAnswer stops where the quote began.
 */
export function htmlAnswerText(html: string): string {
  const q = html.search(HTML_QUOTE_START);
  return (q < 0 ? html : `${html.slice(0, q)}<br>&gt;`)
    .replace(/<(head|style|script)\b[\s\S]*?<\/\1\s*>|<!--[\s\S]*?-->/gi, "")
    .replace(/\r?\n/g, " ")
    .replace(/<br\b[^>]*>/gi, "\n")
    .replace(/<\/?(?:p|div|tr|li|h[1-6]|table|hr)\b[^>]*>/gi, "\n")
    .replace(/<[^>]*>/g, "")
    .replace(/&[#a-z0-9]+;/gi, decodeHtmlEntities)
    .split("\n")
    .map((l) => l.replace(/[ \t]+/g, " ").trim())
    .join("\n");
}

const normId = (id: string) => id.trim().replace(/^<|>$/g, "").toLowerCase();

export async function handleInboundEmail(message: ForwardableEmailMessage, env: Env): Promise<void> {
  const secret = signingSecret(env);
  const routed = ROUTED.exec(message.to);
  if (!secret || !routed) return message.setReject("Unknown recipient");
  const approvalId = routed[1]!.toLowerCase();
  const expected = await replyToAddress(secret, approvalId, message.to);
  const enc = new TextEncoder();
  const a = enc.encode(expected.toLowerCase());
  const b = enc.encode(message.to.toLowerCase());
  if (a.byteLength !== b.byteLength || !crypto.subtle.timingSafeEqual(a, b)) return message.setReject("Unknown recipient");
  if (isAutoReply(message.headers)) return; // never answer a robot (mail loops)

  let approval: ApprovalRecord;
  try {
    approval = await getApproval(env, approvalId);
  } catch (err) {
    if (err instanceof AppError && err.status === 404) return message.setReject("Unknown approval request");
    throw err;
  }
  const parsed = await PostalMime.parse(message.raw);
  const threadIds = [parsed.inReplyTo ?? "", ...(parsed.references ?? "").split(/\s+/)].filter(Boolean).map(normId);
  if (!approval.rfc_message_id || !threadIds.includes(normId(approval.rfc_message_id))) return message.setReject("This message is not a reply to the approval request");
  const sender = (parsed.from?.address ?? message.from).toLowerCase();
  if (!responders(approval).includes(sender)) return message.setReject("Only the approver may answer this approval request");

  const reply = (text: string) =>
    message.reply({ from: defaultSender(env).email, subject: /^re:/i.test(parsed.subject ?? "") ? parsed.subject! : `Re: ${parsed.subject ?? approval.title}`, text });
  const answer = readAnswer(parsed.text?.trim() ? parsed.text : htmlAnswerText(parsed.html ?? ""));
  if (!answer) {
    await reply(`Your reply could not be read, so nothing was recorded.\n\nTo answer "${approval.title}", reply with APPROVE or REJECT on the first line (anything after it is kept as the reason), or use the links in the original mail.\n`);
    return;
  }
  try {
    const decided = await decide(env, approval.agent_id, approvalId, {
      action: answer.action,
      by: sender,
      via: "email",
      reason: answer.reason || undefined,
      checkResponder: true,
    });
    await reply(`Recorded: "${approval.title}" is ${decided.status}${decided.rejection_reason ? ` (${decided.rejection_reason})` : ""}. Thank you.\n`);
  } catch (err) {
    if (!(err instanceof AppError) || err.status !== 409) throw err;
    // The 409 names the status it found (the record read above may predate that decision).
    const status = typeof err.extensions.status === "string" ? err.extensions.status : approval.status;
    await reply(`Nothing was recorded: "${approval.title}" was already decided (${status}).\n`);
  }
}
