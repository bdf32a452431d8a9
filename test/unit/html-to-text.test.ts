/** The outbox's plain-text version of an HTML body: the same text as before for real mail, in linear time for any input. */
import { describe, expect, it } from "vitest";
import { decodeHtmlEntities } from "../../src/lib/html";
import { textFromHtml } from "../../src/email/html-to-text";
import { BUILTIN_TEMPLATES, renderTemplate } from "../../src/email/templates";

/**
 * The regular-expression chain the scanner replaced, kept as the reference for ordinary mail
 * (it backtracks quadratically on unclosed tags, so it only sees small, well-formed input here).
 */
function regexChain(html: string): string {
  return html
    .replace(/<(style|script|head|title)\b[^>]*>[\s\S]*?<\/\1>/gi, "")
    .replace(/<a\b[^>]*\bhref="([^"]*)"[^>]*>([\s\S]*?)<\/a>/gi, (_m, href: string, label: string) => `${label} (${href})`)
    .replace(/<br\s*\/?>/gi, "\n")
    .replace(/<\/(p|div|tr|h[1-6]|li|table)>/gi, "\n")
    .replace(/<[^>]+>/g, "")
    .replace(/&[#a-z0-9]+;/gi, decodeHtmlEntities)
    .replace(/[ \t]+\n/g, "\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}

const approvalMail = renderTemplate(BUILTIN_TEMPLATES.approval_request, {
  title: "Deploy <v2> & migrate",
  description: 'Ship it?\n\nData:\n{"version": 2}',
  approve_url: "https://agent.example.com/approve/approval_1?action=approve&token=eyJ.a-b_c.d",
  reject_url: "https://agent.example.com/approve/approval_1?action=reject&token=eyJ.e-f_g.h",
  expires_at: "2030-01-01T00:00:00.000Z",
  agent_id: "agent-7",
  reply_hint: "Or reply with APPROVE or REJECT.",
}).html as string;

const taskMail = renderTemplate(BUILTIN_TEMPLATES.task_completion, {
  task_id: "task_1",
  task_type: "data_analysis",
  status: "completed",
  result_summary: "<b>42</b> rows & done",
  agent_id: "a-1",
}).html as string;

const newsletter = `<!DOCTYPE html>
<HTML><HEAD><TITLE>Weekly</TITLE><meta charset="utf-8">
<style type="text/css">p { margin: 0 } a { color: #06c }</style></HEAD>
<body>
<h1>This week</h1>
<p>Caf&eacute; &amp; &quot;tea&quot; &mdash; &#8220;quoted&#8221; &#x1F600;&nbsp;end</p>
<ul><li>One <strong>bold</strong> item</li><li>Two: <a href="https://x.test/a?b=1&amp;c=2" class="l">read <em>more</em></a></li></ul>
<table><tr><td>Cell 1</td><td>Cell 2</td></tr><tr><td colspan="2">Wide</td></tr></table>
<div>Line one<br>Line two<BR/>Line three<br /></div>
<p>   trailing blanks   </p>



<p>after empty lines <A HREF="mailto:team@x.test">Mail us</A> or <a name="anchor">an anchor</a></p>
<script>if (a < b && c > d) { track(); }</script>
<!-- a comment --><img src="x.png" alt="logo">
<p>x &lt; y &gt; z, a &amp;lt; b, &unknown; stays</p>
</body></HTML>`;

const oddities = [
  "Plain text, no tags at all & <no tag",
  '<p>An <a href="https://x.test">unclosed link</p><p>then more',
  "<p>An unclosed <style>p { x: 1 } and text after</p>",
  '<a href="https://one.test">one <a href="https://two.test">two</a> three</a>',
  "<p>a <> b</p><p>c < d</p>",
  '<div data-href="https://data.test"><a data-href="https://x.test" href="https://y.test">both</a></div>',
  "<h2>Title</h2><h6>Small</h6>\n\n\n\n<p>\t tabs \t</p>",
];

describe("textFromHtml", () => {
  it("gives the text the regular-expression chain gave for real mail", () => {
    for (const html of [approvalMail, taskMail, newsletter, ...oddities]) {
      expect(textFromHtml(html), html.slice(0, 80)).toBe(regexChain(html));
    }
  });

  it("keeps link targets, drops style/script/head/title, breaks lines at <br> and block ends", () => {
    expect(textFromHtml(newsletter).split("\n")).toEqual([
      "This week",
      "",
      'Caf&eacute; & "tea" \u2014 \u201cquoted\u201d \u{1F600} end',
      "",
      "One bold item",
      "Two: read more (https://x.test/a?b=1&c=2)",
      "",
      "Cell 1Cell 2",
      "Wide",
      "",
      "Line one",
      "Line two",
      "Line three",
      "",
      "   trailing blanks",
      "",
      "after empty lines Mail us (mailto:team@x.test) or an anchor",
      "",
      "x < y > z, a &lt; b, &unknown; stays",
    ]);
    const approval = textFromHtml(approvalMail);
    expect(approval).toContain("Approve (https://agent.example.com/approve/approval_1?action=approve&token=eyJ.a-b_c.d)");
    expect(approval).toContain("Agent agent-7 is waiting for your decision.");
    expect(approval).toContain("Approval needed: Deploy <v2> & migrate");
    for (const markup of ["<td", "<a ", "style=", "<title>", "<!DOCTYPE"]) expect(approval).not.toContain(markup);
  });

  it("a '<' that cannot open a tag is text, as in HTML (the chain dropped everything up to the next '>')", () => {
    expect(textFromHtml("<p>if a < b then <b>bold</b> end</p>")).toBe("if a < b then bold end");
    expect(textFromHtml("a <3 b > c")).toBe("a <3 b > c");
  });

  /**
   * A bound only a super-linear pass reaches: each case takes well under 100 ms here, while the
   * regular-expression chain this replaced took 7.5 s for the <style> case and minutes for '<'.
   */
  const LINEAR_BOUND_MS = 4000;

  it("stays linear on 512 KiB of unclosed openers, stray '<' or blanks", () => {
    const size = 512 * 1024;
    const fill = (unit: string) => unit.repeat(Math.floor(size / unit.length));
    const cases: [string, string][] = [
      [fill('<a href="x">'), ""],
      [fill("<style>"), ""],
      [fill("<script>"), ""],
      [fill('<a href="x"><style>'), ""],
      [fill("<"), fill("<")],
      [fill("<a <b "), fill("<a <b ").trim()],
      [`${fill(" ")}x`, "x"],
      [fill("</a>"), ""],
      [fill("<br"), fill("<br")],
    ];
    for (const [html, expected] of cases) {
      const started = Date.now();
      const text = textFromHtml(html);
      const ms = Date.now() - started;
      expect(text).toBe(expected);
      expect(ms, html.slice(0, 20)).toBeLessThan(LINEAR_BOUND_MS);
    }
  }, 60_000);
});
