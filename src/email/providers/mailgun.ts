/**
 * Mailgun Messages API: `POST {base}/v3/{domain}/messages`, HTTP Basic `api:<key>`,
 * `multipart/form-data` with `from`, `to` (one field per recipient), `subject`, `text`, `html`,
 * and `h:<Name>` for each extra MIME header (`h:Reply-To` included). Success is 200
 * `{"id":"<…@domain>","message":"Queued. Thank you."}`; the id is the Message-ID of the mail.
 * Errors are `{"message": "…"}` (or plain text such as `Forbidden` for a wrong key).
 * Base URL: `https://api.mailgun.net` (US) or `https://api.eu.mailgun.net` (EU domains).
 * @see https://documentation.mailgun.com/docs/mailgun/api-reference/send/mailgun/messages
 */
import { ProviderError, type EmailProvider, type OutgoingEmail, type SendResult } from "../types";
import { formatAddress, isTransientStatus, providerPost, readBody, type HttpProviderOptions } from "./shared";

export const MAILGUN_DEFAULT_BASE_URL = "https://api.mailgun.net";
export const MAILGUN_EU_BASE_URL = "https://api.eu.mailgun.net";

export interface MailgunOptions extends HttpProviderOptions {
  apiKey: string;
  /** The sending domain, e.g. `mg.example.com`. */
  domain: string;
  /** Default {@link MAILGUN_DEFAULT_BASE_URL}; {@link MAILGUN_EU_BASE_URL} for EU domains. */
  baseUrl?: string;
}

export function mailgunForm(message: OutgoingEmail): FormData {
  const form = new FormData();
  form.append("from", formatAddress(message.from));
  for (const to of message.to) form.append("to", to);
  form.append("subject", message.subject);
  form.append("text", message.text);
  if (message.html !== undefined) form.append("html", message.html);
  if (message.replyTo) form.append("h:Reply-To", message.replyTo);
  for (const [name, value] of Object.entries(message.headers ?? {})) form.append(`h:${name}`, value);
  return form;
}

function mailgunErrorMessage(text: string): string {
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed.message === "string" && parsed.message !== "") return parsed.message;
  } catch {
    // not JSON: fall through
  }
  return text.trim() || "no error body";
}

/** `<id>`: Mailgun's ids already carry the angle brackets of a Message-ID; add them if not. */
function asMessageId(id: string): string {
  return id.startsWith("<") ? id : `<${id}>`;
}

export function mailgunProvider(options: MailgunOptions): EmailProvider {
  const base = (options.baseUrl || MAILGUN_DEFAULT_BASE_URL).replace(/\/+$/, "");
  const url = `${base}/v3/${encodeURIComponent(options.domain)}/messages`;
  const authorization = `Basic ${btoa(`api:${options.apiKey}`)}`;
  return {
    name: "mailgun",
    async send(message: OutgoingEmail, signal?: AbortSignal): Promise<SendResult> {
      // FormData as the body: fetch sets `multipart/form-data; boundary=…` itself.
      const res = await providerPost(
        "mailgun",
        options,
        url,
        { headers: { Authorization: authorization }, body: mailgunForm(message) },
        signal,
      );
      const text = await readBody(res);
      if (!res.ok) {
        throw new ProviderError("mailgun", `HTTP ${res.status}: ${mailgunErrorMessage(text)}`, {
          transient: isTransientStatus(res.status),
          status: res.status,
        });
      }
      let id: unknown;
      try {
        id = (JSON.parse(text) as { id?: unknown }).id;
      } catch {
        id = undefined;
      }
      if (typeof id !== "string" || id === "") {
        // Accepted (2xx) but unreadable: do not fail over, which would send the mail twice.
        return { provider: "mailgun", providerMessageId: "" };
      }
      return { provider: "mailgun", providerMessageId: id, messageId: asMessageId(id) };
    },
  };
}
