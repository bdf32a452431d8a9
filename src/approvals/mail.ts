/**
 * The approval mail: the built-in `approval_request` template with two signed links per
 * recipient, From `EMAIL_FROM`, Reply-To the signed sub-address, sent through the outbox (the
 * configured providers with failover, recorded in the message log with `related` = the approval
 * and owned by the approval's agent). The links go out with their tokens; the log stores the
 * mail with both tokens masked, so a reader of the log cannot decide the approval.
 * Never throws for a delivery failure: the caller records the outcome.
 */
import { sendMessage } from "../email/outbox";
import { defaultSender } from "../email/settings";
import { AppError } from "../lib/problem";
import { BUILTIN_TEMPLATES, renderTemplate } from "../email/templates";
import { iso } from "../lib/time";
import { getConfig } from "../lib/config";
import type { ApprovalRecord } from "./model";
import { replyToAddress, signLinkToken } from "./signing";

export interface MailOutcome {
  /** The message log entry (`msg_…`), also when sending failed. */
  message_id: string | null;
  /** The Message-ID it went out with, for threading replies. */
  rfc_message_id: string | null;
  status: "sent" | "failed";
  error?: string;
}

export function approvalLink(env: Env, approvalId: string, action: "approve" | "reject", token: string): string {
  return `${getConfig(env).publicBaseUrl}/approve/${approvalId}?action=${action}&token=${encodeURIComponent(token)}`;
}

/** Sends one mail to `to` (its own links, signed for that address). */
export async function sendApprovalMail(env: Env, secret: string, a: ApprovalRecord, to: string, escalation = false): Promise<MailOutcome> {
  const sender = defaultSender(env);
  try {
    const [approveToken, rejectToken, replyTo] = await Promise.all([
      signLinkToken(secret, { approvalId: a.approval_id, action: "approve", to, expiresAtMs: a.expires_at }),
      signLinkToken(secret, { approvalId: a.approval_id, action: "reject", to, expiresAtMs: a.expires_at }),
      replyToAddress(secret, a.approval_id, sender.email),
    ]);
    const description = escalation ? `Escalated: ${a.approver_email} has not answered in time.\n\n${a.description}` : a.description;
    const variables = {
      title: a.title,
      description: a.data === null ? description : `${description}\n\nData:\n${JSON.stringify(JSON.parse(a.data), null, 2)}`,
      approve_url: approvalLink(env, a.approval_id, "approve", approveToken),
      reject_url: approvalLink(env, a.approval_id, "reject", rejectToken),
      expires_at: iso(a.expires_at),
      agent_id: a.agent_id,
      reply_hint: `Or reply to this mail with APPROVE or REJECT on the first line (anything after it is kept as the reason).`,
    };
    // The approval id in the subject helps people and mail filters; the template gives the rest.
    const subject = `${renderTemplate({ subject: BUILTIN_TEMPLATES.approval_request.subject, text: "" }, variables).subject} [${a.approval_id}]`;
    const sent = await sendMessage(env, {
      agentId: a.agent_id,
      to: [to],
      subject,
      template_id: "approval_request",
      variables,
      replyTo,
      headers: { "X-Approval-Id": a.approval_id },
      related: a.approval_id,
      mask: [approveToken, rejectToken],
    });
    // Only a real Message-ID can be matched against a reply's In-Reply-To (SendGrid gives none).
    return { message_id: sent.message_id, rfc_message_id: sent.rfc_message_id, status: "sent" };
  } catch (err) {
    const logged = err instanceof AppError && typeof err.extensions.message_id === "string" ? err.extensions.message_id : null;
    return { message_id: logged, rfc_message_id: null, status: "failed", error: err instanceof Error ? err.message : String(err) };
  }
}
