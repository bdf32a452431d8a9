/** One decoder of HTML character references for both directions of mail (outbox text, inbound replies). */
import { describe, expect, it } from "vitest";
import { decodeHtmlEntities } from "../../src/lib/html";
import { textFromHtml } from "../../src/email/html-to-text";

describe("HTML character references", () => {
  it("decodes numeric, hex and named references and leaves unknown names as written", () => {
    expect(decodeHtmlEntities("&#39;a&#x27; &amp; &lt;b&gt; &rsquo;&nbsp;&bogus;")).toBe("'a' & <b> \u2019 &bogus;");
  });

  it("out-of-range, surrogate and NUL code points decode to U+FFFD, as in HTML (String.fromCodePoint threw)", () => {
    expect(decodeHtmlEntities("a&#99999999;b")).toBe("a\uFFFDb");
    expect(decodeHtmlEntities("&#x110000;|&#xD800;|&#55296;|&#xDFFF;|&#0;|&#x0;")).toBe(
      ["\uFFFD", "\uFFFD", "\uFFFD", "\uFFFD", "\uFFFD", "\uFFFD"].join("|"),
    );
    expect(decodeHtmlEntities("&#99999999999999999999999999;&#xffffffffffffffffffffffff;")).toBe("\uFFFD\uFFFD");
    // The edges that are characters stay characters.
    expect(decodeHtmlEntities("&#x10FFFF;&#xD7FF;&#xE000;&#1;")).toBe("\u{10FFFF}\uD7FF\uE000\u0001");
  });

  it("the outbox's plain-text version of an HTML body decodes them too", () => {
    expect(textFromHtml('<p>Caf&#233; &amp; &quot;tea&quot;</p><a href="https://x.test/a?b=1&amp;c=2">go</a>')).toBe(
      'Café & "tea"\ngo (https://x.test/a?b=1&c=2)',
    );
  });
});
