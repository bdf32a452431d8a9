/**
 * Cloudflare Email Service through the `send_email` binding, builder form:
 * `env.EMAIL.send({from, to, subject, text, html, replyTo, headers})` → `{messageId}`.
 * The platform writes its own Message-ID (any you set is replaced), so the returned `messageId`
 * is the one replies will reference in In-Reply-To/References: store it for threading.
 * @see https://developers.cloudflare.com/email-service/api/send-emails/workers-api/
 */
import { ProviderError, type EmailProvider, type OutgoingEmail, type SendResult } from "../types";
import { DEFAULT_TIMEOUT_MS, deadline, networkError, withDeadline } from "./shared";

export interface CloudflareEmailOptions {
  /** Per-send deadline, default 10 s (the binding takes no signal; the wait is abandoned). */
  timeoutMs?: number;
}

/**
 * Failures that will not go away by themselves: the binding's allow-lists
 * (`allowed_sender_addresses`, `allowed_destination_addresses`, `destination_address`), an
 * unverified sender or recipient, and a builder the service refuses (missing or malformed fields,
 * too many recipients, a header it does not accept, a message too large). Anything else (rate or
 * daily limits, internal errors, no answer) is treated as transient.
 */
const PERMANENT =
  /not allowed|not verified|unverified|invalid|validation|malformed|missing|required|too many recipients|too large|exceeds|header/i;
const TRANSIENT = /rate limit|daily limit|quota|temporar|internal|unavailable|timeout|try again/i;

export function classifyBindingError(err: unknown): { transient: boolean; message: string } {
  const message = err instanceof Error ? err.message : String(err);
  const code = typeof err === "object" && err !== null && "code" in err ? String((err as { code: unknown }).code) : "";
  const haystack = `${code} ${message}`;
  if (err instanceof TypeError) return { transient: false, message };
  if (TRANSIENT.test(haystack)) return { transient: true, message };
  return { transient: !PERMANENT.test(haystack), message };
}

export function cloudflareBuilder(message: OutgoingEmail): EmailMessageBuilder {
  return {
    from: message.from.name ? { email: message.from.email, name: message.from.name } : message.from.email,
    to: message.to.length === 1 ? (message.to[0] as string) : [...message.to],
    subject: message.subject,
    text: message.text,
    ...(message.html !== undefined ? { html: message.html } : {}),
    ...(message.replyTo ? { replyTo: message.replyTo } : {}),
    ...(message.headers && Object.keys(message.headers).length > 0 ? { headers: { ...message.headers } } : {}),
  };
}

export function cloudflareProvider(binding: SendEmail, options: CloudflareEmailOptions = {}): EmailProvider {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return {
    name: "cloudflare",
    async send(message: OutgoingEmail, signal?: AbortSignal): Promise<SendResult> {
      const limit = deadline(timeoutMs, signal);
      let result: EmailSendResult;
      try {
        result = await withDeadline(limit, () => binding.send(cloudflareBuilder(message)));
      } catch (err) {
        if (limit.aborted && err === limit.reason) throw networkError("cloudflare", err, timeoutMs);
        const { transient, message: detail } = classifyBindingError(err);
        throw new ProviderError("cloudflare", detail, { transient, cause: err });
      }
      return { provider: "cloudflare", providerMessageId: result.messageId, messageId: result.messageId };
    },
  };
}
