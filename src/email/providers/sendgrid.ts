/**
 * SendGrid v3 Mail Send: `POST {base}/v3/mail/send`, `Authorization: Bearer <key>`, JSON body.
 * Success is `202 Accepted` with an empty body and the id in the `X-Message-Id` header (the prefix
 * of `sg_message_id` in event webhooks). Errors carry `{"errors":[{"message","field","help"}]}`.
 * @see https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send
 * @see https://www.twilio.com/docs/sendgrid/api-reference/how-to-use-the-sendgrid-v3-api/errors
 */
import { ProviderError, type EmailProvider, type OutgoingEmail, type SendResult } from "../types";
import { isTransientStatus, providerPost, readBody, type HttpProviderOptions } from "./shared";

export const SENDGRID_DEFAULT_BASE_URL = "https://api.sendgrid.com";

export interface SendGridOptions extends HttpProviderOptions {
  apiKey: string;
  /** Default {@link SENDGRID_DEFAULT_BASE_URL}; e.g. `https://api.eu.sendgrid.com` for EU subusers. */
  baseUrl?: string;
}

/** The documented request body (only the members we use). */
export interface SendGridMailSendBody {
  personalizations: { to: { email: string }[] }[];
  from: { email: string; name?: string };
  reply_to?: { email: string };
  subject: string;
  /** text/plain must come first: the API refuses a body whose HTML precedes its plain text. */
  content: { type: "text/plain" | "text/html"; value: string }[];
  headers?: Record<string, string>;
}

export function sendgridBody(message: OutgoingEmail): SendGridMailSendBody {
  const body: SendGridMailSendBody = {
    personalizations: [{ to: message.to.map((email) => ({ email })) }],
    from: message.from.name ? { email: message.from.email, name: message.from.name } : { email: message.from.email },
    subject: message.subject,
    content: [{ type: "text/plain", value: message.text }],
  };
  if (message.html !== undefined) body.content.push({ type: "text/html", value: message.html });
  // Reply-To is a reserved header for SendGrid: it has its own member.
  if (message.replyTo) body.reply_to = { email: message.replyTo };
  if (message.headers && Object.keys(message.headers).length > 0) body.headers = { ...message.headers };
  return body;
}

/** The messages of a SendGrid error body, or the raw text when it is not one. */
function sendgridErrorMessage(text: string): string {
  try {
    const parsed = JSON.parse(text) as { errors?: { message?: unknown }[] };
    const messages = (parsed.errors ?? []).map((e) => e.message).filter((m): m is string => typeof m === "string" && m !== "");
    if (messages.length > 0) return messages.join("; ");
  } catch {
    // not JSON: fall through
  }
  return text || "no error body";
}

export function sendgridProvider(options: SendGridOptions): EmailProvider {
  const url = `${(options.baseUrl || SENDGRID_DEFAULT_BASE_URL).replace(/\/+$/, "")}/v3/mail/send`;
  return {
    name: "sendgrid",
    async send(message: OutgoingEmail, signal?: AbortSignal): Promise<SendResult> {
      const res = await providerPost(
        "sendgrid",
        options,
        url,
        {
          headers: { Authorization: `Bearer ${options.apiKey}`, "Content-Type": "application/json" },
          body: JSON.stringify(sendgridBody(message)),
        },
        signal,
      );
      if (!res.ok) {
        const detail = sendgridErrorMessage(await readBody(res));
        throw new ProviderError("sendgrid", `HTTP ${res.status}: ${detail}`, {
          transient: isTransientStatus(res.status),
          status: res.status,
        });
      }
      await res.body?.cancel();
      // X-Message-Id is SendGrid's own id, not the Message-ID header of the mail it builds.
      return { provider: "sendgrid", providerMessageId: res.headers.get("X-Message-Id") ?? "" };
    },
  };
}
