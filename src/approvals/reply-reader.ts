/**
 * Reading the answer in an approval reply, as pure text functions: whether a mail is an
 * auto-reply (RFC 3834), and the action and reason in its first non-quoted lines. The first
 * non-quoted line starts with approve/approved/yes or reject/rejected/no; the rest of that line
 * and the lines after it, up to the quoted original (`>` lines, an "On … wrote:" line, also
 * wrapped over two lines, Outlook's separators), are the reason. An HTML-only reply is read from
 * its HTML, cut where the quote (blockquote, Gmail's or Outlook's quote block) begins.
 */
import { decodeHtmlEntities } from "../lib/html";

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
