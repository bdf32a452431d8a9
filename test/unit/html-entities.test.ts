/** One decoder of HTML character references for both directions of mail (outbox text, inbound replies). */
import { describe, expect, it } from "vitest";
import { decodeHtmlEntities } from "../../src/email/html-entities";
import { textFromHtml } from "../../src/email/outbox";

describe("HTML character references", () => {
  it("decodes numeric, hex and named references and leaves unknown names as written", () => {
    expect(decodeHtmlEntities("&#39;a&#x27; &amp; &lt;b&gt; &rsquo;&nbsp;&bogus;")).toBe("'a' & <b> \u2019 &bogus;");
  });

  it("the outbox's plain-text version of an HTML body decodes them too", () => {
    expect(textFromHtml("<p>Caf&#233; &amp; &quot;tea&quot;</p><a href=\"https://x.test/a?b=1&amp;c=2\">go</a>")).toBe('Café & "tea"\ngo (https://x.test/a?b=1&c=2)');
  });
});
