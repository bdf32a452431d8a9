/**
 * A logged mail's HTML body, shown as the reader would see its structure: parsed inert (a
 * template's content: nothing in it runs or loads) and rebuilt from a short list of text elements,
 * with no attribute kept but a link's http(s) address. Styles, images, scripts and forms are
 * dropped. The links arrive masked already: the mail log stores approval tokens masked, so the
 * address shown is never a usable link; it is shown as text, not made clickable.
 */
import { el } from "./dom";

const KEPT = new Set([
  "p",
  "div",
  "span",
  "br",
  "strong",
  "b",
  "em",
  "i",
  "ul",
  "ol",
  "li",
  "h1",
  "h2",
  "h3",
  "h4",
  "table",
  "tbody",
  "thead",
  "tr",
  "td",
  "th",
  "blockquote",
  "pre",
  "code",
  "hr",
]);
const DROPPED = new Set([
  "script",
  "style",
  "head",
  "title",
  "template",
  "iframe",
  "object",
  "embed",
  "form",
  "img",
  "svg",
  "math",
  "noscript",
]);

const STYLE_BLOCK = /<style\b[\s\S]*?<\/style\s*>/gi;
const STYLE_ATTRIBUTE = /\sstyle\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+)/gi;

function rebuild(node: Node, out: Node): void {
  for (const child of Array.from(node.childNodes)) {
    if (child.nodeType === Node.TEXT_NODE) {
      out.appendChild(document.createTextNode(child.textContent ?? ""));
      continue;
    }
    if (!(child instanceof Element)) continue;
    const tag = child.tagName.toLowerCase();
    if (DROPPED.has(tag)) continue;
    if (tag === "a") {
      const link = el("span", "mail-link");
      rebuild(child, link);
      const href = child.getAttribute("href") ?? "";
      if (/^https?:\/\//i.test(href) && href !== (child.textContent ?? "").trim()) link.append(` <${href}>`);
      out.appendChild(link);
      continue;
    }
    // Unknown elements keep their text, not their tag.
    const copy = KEPT.has(tag) ? document.createElement(tag) : document.createDocumentFragment();
    rebuild(child, copy);
    out.appendChild(copy);
  }
}

export function renderMailHtml(html: string): HTMLElement {
  // A template's content belongs to an inert document: nothing in it runs or loads. Chromium
  // still reports each inline style it parses as a CSP violation (blocked anyway, and dropped
  // below), so styles are cut from the text first; whatever this misses stays inert and dropped.
  const template = document.createElement("template");
  template.innerHTML = html.replace(STYLE_BLOCK, "").replace(STYLE_ATTRIBUTE, "");
  const box = el("div", "mail-body");
  rebuild(template.content, box);
  return box;
}
