/**
 * The plain-text version of an HTML body, for a message sent without one: links keep their
 * target (`label (href)`), `<style>`, `<script>`, `<head>` and `<title>` elements go, `<br>` and
 * the end of a block (`</p>`, `</div>`, `</tr>`, `</li>`, `</table>`, `</h1>`…) start a new line,
 * every other tag goes, character references are decoded, trailing blanks and runs of empty
 * lines are trimmed. A `<` that cannot open a tag (`a < b`, `<>`) is text, as in HTML.
 *
 * One pass with forward-only searches whose answers are remembered, so the cost stays linear
 * in the input however it is built: thousands of unclosed `<a href>` or `<style>` openers, or
 * `<` without `>`, made the backtracking regular expressions this replaces take seconds of CPU
 * for half a megabyte.
 */
import { decodeHtmlEntities } from "../lib/html";

/** Elements dropped with their content, when they are closed. */
const DROPPED = new Set(["style", "script", "head", "title"]);
const LINE_BREAK = /^<br\s*\/?>$/i;
const BLOCK_END = /^<\/(?:p|div|tr|h[1-6]|li|table)>$/i;
const OPENING_NAME = /^<(\w+)/;
/** What may follow `<` for it to open a tag (an element, an end tag, a comment or declaration); anything else is text. */
const TAG_START = /^[A-Za-z/!?]$/;
const HREF = /\bhref="([^"]*)"/gi;

/**
 * The next match of a pattern at or after a position. Positions only move forward during a
 * scan, so an answer stays valid until the scan passes it: each stretch of the input is
 * searched at most once per pattern.
 */
class ForwardSearch {
  #from = Number.POSITIVE_INFINITY;
  #at = -1;
  readonly #text: string;
  readonly #pattern: RegExp;

  constructor(text: string, pattern: RegExp) {
    this.#text = text;
    this.#pattern = new RegExp(pattern.source, `${pattern.flags.replace("g", "")}g`);
  }

  /** The index of the next match at or after `from`, or -1. */
  next(from: number): number {
    if (from >= this.#from && (this.#at === -1 || this.#at >= from)) return this.#at;
    this.#pattern.lastIndex = from;
    this.#from = from;
    this.#at = this.#pattern.exec(this.#text)?.index ?? -1;
    return this.#at;
  }
}

/** The value of the last `href="…"` in an opening `<a …>` tag (what a greedy match picked). */
function lastHref(tag: string): string | undefined {
  let href: string | undefined;
  for (const m of tag.matchAll(HREF)) href = m[1];
  return href;
}

/** Removes the blanks and tabs that end a line. */
function trimLineEnd(line: string): string {
  let end = line.length;
  while (end > 0) {
    const c = line.charCodeAt(end - 1);
    if (c !== 0x20 && c !== 0x09) break;
    end--;
  }
  return end === line.length ? line : line.slice(0, end);
}

export function textFromHtml(html: string): string {
  const tagEnd = new ForwardSearch(html, />/);
  const linkEnd = new ForwardSearch(html, /<\/a>/i);
  const elementEnds = new Map<string, ForwardSearch>();
  const elementEnd = (name: string): ForwardSearch => {
    let search = elementEnds.get(name);
    if (!search) elementEnds.set(name, (search = new ForwardSearch(html, new RegExp(`</${name}>`, "i"))));
    return search;
  };

  let out = "";
  /** The link whose label is being read: where its `</a>` starts and its target. */
  let link: { end: number; href: string } | null = null;
  /** The input before `copied` is in `out` (or dropped); the next `<` is searched from `scan`. */
  let copied = 0;
  let scan = 0;
  for (;;) {
    if (link !== null && scan > link.end) {
      // A dropped element that ran past the `</a>` took it along.
      out += ` (${link.href})`;
      link = null;
    }
    const lt = html.indexOf("<", scan);
    if (lt === -1) break;
    if (!TAG_START.test(html.charAt(lt + 1))) {
      // `a < b`, `<>`: text, as in HTML.
      scan = lt + 1;
      continue;
    }
    out += html.slice(copied, lt);
    if (link !== null && lt === link.end) {
      out += ` (${link.href})`;
      link = null;
      copied = scan = lt + "</a>".length;
      continue;
    }
    const gt = tagEnd.next(lt + 1);
    if (gt === -1) {
      // No `>` anywhere after: no more tags (nor a pending `</a>`), the rest is text.
      copied = lt;
      break;
    }
    const tag = html.slice(lt, gt + 1);
    copied = scan = gt + 1;
    const name = OPENING_NAME.exec(tag)?.[1]?.toLowerCase();
    if (name !== undefined && DROPPED.has(name)) {
      const close = elementEnd(name).next(scan);
      // Unclosed, only the tag goes and its content stays.
      if (close !== -1) copied = scan = close + name.length + 3;
    } else if (name === "a") {
      const href: string | undefined = link === null ? lastHref(tag) : undefined;
      const close: number = href === undefined ? -1 : linkEnd.next(scan);
      if (href !== undefined && close !== -1) link = { end: close, href };
    } else if (name === "br" ? LINE_BREAK.test(tag) : BLOCK_END.test(tag)) {
      out += "\n";
    }
  }
  out += html.slice(copied);

  return out
    .replace(/&[#a-z0-9]+;/gi, decodeHtmlEntities)
    .split("\n")
    .map(trimLineEnd)
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}
