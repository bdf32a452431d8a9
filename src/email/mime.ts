/**
 * The MIME message every provider that takes raw mail sends (SMTP, the send_email binding):
 * multipart/alternative text + HTML (or text alone), bodies base64-encoded so any UTF-8 and any
 * line length survive 7-bit transports, built with mimetext's browser entry (CRLF line endings).
 */
import { createMimeMessage, Mailbox } from "mimetext/browser";
import { base64Utf8, base64Utf8Wrapped } from "../lib/base64";
import type { OutgoingEmail } from "./types";

/** Headers `buildMime` writes itself; `OutgoingEmail.headers` may not set them. */
const RESERVED_HEADERS = new Set([
  "from",
  "sender",
  "to",
  "cc",
  "bcc",
  "reply-to",
  "subject",
  "date",
  "message-id",
  "mime-version",
  "content-type",
  "content-transfer-encoding",
]);
const HEADER_NAME = /^[!-9;-~]+$/;
const CRLF_OR_NUL = /[\r\n\0]/;

/** A new RFC 5322 Message-ID in the sender's domain: `<uuid@example.com>`. */
export function newMessageId(fromEmail: string): string {
  const domain = fromEmail.slice(fromEmail.lastIndexOf("@") + 1).toLowerCase();
  return `<${crypto.randomUUID()}@${/^[a-z0-9.-]+$/.test(domain) ? domain : "localhost"}>`;
}

/**
 * The complete message (headers and body, CRLF line endings) for `message`, sent with
 * `messageId` (angle brackets included, e.g. from `newMessageId`). Throws a TypeError for a
 * header that would break the message (CR/LF in an address or header, a reserved header name).
 */
export function buildMime(message: OutgoingEmail, messageId: string): string {
  const check = (what: string, value: string) => {
    if (CRLF_OR_NUL.test(value)) throw new TypeError(`${what} must not contain CR, LF or NUL`);
    return value;
  };
  if (!/^<[^<>\s]+@[^<>\s]+>$/.test(messageId)) throw new TypeError(`invalid Message-ID ${JSON.stringify(messageId)}`);
  if (message.to.length === 0) throw new TypeError("no recipients");

  const msg = createMimeMessage();
  check("from", message.from.email);
  msg.setSender(message.from.name ? { addr: message.from.email, name: check("from name", message.from.name) } : message.from.email);
  msg.setTo(message.to.map((to) => check("to", to)));
  if (message.replyTo) msg.setHeader("Reply-To", new Mailbox(check("reply-to", message.replyTo)));
  msg.setSubject(message.subject); // always written as a UTF-8 encoded-word, so CR/LF cannot escape it
  msg.setHeader("Message-ID", messageId);
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    if (!HEADER_NAME.test(name)) throw new TypeError(`invalid header name ${JSON.stringify(name)}`);
    if (RESERVED_HEADERS.has(name.toLowerCase())) throw new TypeError(`header ${name} cannot be set through headers`);
    check(`header ${name}`, value);
    msg.setHeader(name, /^[\x20-\x7e\t]*$/.test(value) ? value : `=?utf-8?B?${base64Utf8(value)}?=`);
  }
  msg.addMessage({ contentType: "text/plain", encoding: "base64", data: base64Utf8Wrapped(message.text) });
  if (message.html !== undefined) msg.addMessage({ contentType: "text/html", encoding: "base64", data: base64Utf8Wrapped(message.html) });
  return msg.asRaw();
}
