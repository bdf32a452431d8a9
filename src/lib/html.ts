/**
 * HTML text, both ways: escaping what goes into markup (pages, mail), and decoding the character
 * references in text taken out of markup (mail bodies, replies).
 */

/** Escapes the five characters that matter in text and attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);
}

/** HTML character references in text taken out of markup: numeric ones and the common names. */
const NAMED: Record<string, string> = {
  nbsp: " ",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  amp: "&",
  ndash: "\u2013",
  mdash: "\u2014",
  hellip: "\u2026",
  lsquo: "\u2018",
  rsquo: "\u2019",
  ldquo: "\u201c",
  rdquo: "\u201d",
};

const REPLACEMENT = "\uFFFD";

/**
 * The character a numeric reference stands for. As in HTML, NUL, surrogates and anything past
 * U+10FFFF become U+FFFD (String.fromCodePoint would throw on the last two).
 */
function fromCodePoint(code: number): string {
  if (!Number.isFinite(code) || code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return REPLACEMENT;
  return String.fromCodePoint(code);
}

/** Decodes `&#39;`, `&#x27;` and named references; an unknown name stays as written. */
export function decodeHtmlEntities(text: string): string {
  return text.replace(/&(?:#(\d+)|#x([0-9a-f]+)|([a-z]+));/gi, (m, dec: string, hex: string, name: string) =>
    dec ? fromCodePoint(Number(dec)) : hex ? fromCodePoint(parseInt(hex, 16)) : (NAMED[name.toLowerCase()] ?? m),
  );
}
