/** Template rendering: placeholders, escaping, missing variables, literal braces, built-ins. */
import { describe, expect, it } from "vitest";
import { escapeHtml } from "../../src/lib/html";
import { BUILTIN_TEMPLATES, isBuiltinTemplateId, renderTemplate, templatePlaceholders } from "../../src/email/templates";
import { AppError } from "../../src/lib/problem";

function renderError(...args: Parameters<typeof renderTemplate>): AppError {
  try {
    renderTemplate(...args);
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error("expected renderTemplate to throw");
}

describe("renderTemplate", () => {
  it("fills placeholders in subject, text and html", () => {
    const out = renderTemplate(
      { subject: "Hi {name}", text: "Dear {name}, {count} new", html: "<p>{name}: {count}</p>" },
      { name: "Ada", count: 3 },
    );
    expect(out).toEqual({ subject: "Hi Ada", text: "Dear Ada, 3 new", html: "<p>Ada: 3</p>" });
  });

  it("escapes values in HTML only: <script>, quotes, ampersands", () => {
    const value = `<script>alert("x")</script> & 'y'`;
    const out = renderTemplate({ subject: "S {v}", text: "T {v}", html: `<a title="{v}">{v}</a>` }, { v: value });
    expect(out.text).toBe(`T ${value}`);
    expect(out.subject).toBe(`S ${value}`);
    expect(out.html).toBe(
      `<a title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;</a>`,
    );
    expect(out.html).not.toContain("<script>");
    // The template's own markup is not escaped.
    expect(escapeHtml(`<>&"'`)).toBe("&lt;&gt;&amp;&quot;&#39;");
  });

  it("a missing variable is a 422 naming every missing one, once, with where it is used", () => {
    const err = renderError({ subject: "{title}", text: "{title} {body} {who.name}", html: "<p>{body}</p>{ok}" }, { ok: 1, who: {} });
    expect(err.code).toBe("validation_failed");
    expect(err.status).toBe(422);
    expect(err.message).toBe("Missing template variables: title, body, who.name");
    expect(err.errors).toEqual([
      { path: "variables.title", message: "missing; the template uses it in subject, text" },
      { path: "variables.body", message: "missing; the template uses it in text, html" },
      { path: "variables.who.name", message: "missing; the template uses it in text" },
    ]);
  });

  it("{{ and }} are literal braces; other braces are left alone", () => {
    const out = renderTemplate(
      {
        subject: "{{not_a_var}}",
        text: "{{{name}}} costs {{5}}",
        html: "<style>p { margin: 0 }</style><p>{name}</p>{ not a placeholder } {1x}",
      },
      { name: "Ada" },
    );
    expect(out.subject).toBe("{not_a_var}");
    expect(out.text).toBe("{Ada} costs {5}");
    expect(out.html).toBe("<style>p { margin: 0 }</style><p>Ada</p>{ not a placeholder } {1x}");
  });

  it("dotted names read nested objects (own properties only); a literal dotted key wins", () => {
    const out = renderTemplate(
      { subject: "{task.title}", text: "{task.meta.n} {a.b}" },
      { task: { title: "Deploy", meta: { n: 2 } }, "a.b": "flat", a: { b: "nested" } },
    );
    expect(out).toEqual({ subject: "Deploy", text: "2 flat" });
    const err = renderError({ subject: "{task.constructor}", text: "{toString}" }, { task: {} });
    expect(err.errors?.map((e) => e.path)).toEqual(["variables.task.constructor", "variables.toString"]);
  });

  it("{name?} is optional: missing renders as nothing", () => {
    expect(renderTemplate({ subject: "a{x?}b", text: "{x?}" }, {})).toEqual({ subject: "ab", text: "" });
    expect(renderTemplate({ subject: "a{x?}b", text: "{x?}" }, { x: "-" })).toEqual({ subject: "a-b", text: "-" });
  });

  it("formats values: null, booleans, dates, arrays, objects; subject stays one line", () => {
    const out = renderTemplate(
      { subject: "{multi}", text: "{n}|{b}|{d}|{list}|{obj}", html: "{obj}" },
      { multi: "line 1\r\nline 2", n: null, b: false, d: new Date("2026-11-20T12:00:00Z"), list: ["a", 1], obj: { k: "<v>" } },
    );
    expect(out.subject).toBe("line 1 line 2");
    expect(out.text).toBe(`|false|2026-11-20T12:00:00.000Z|a, 1|{"k":"<v>"}`);
    expect(out.html).toBe("{&quot;k&quot;:&quot;&lt;v&gt;&quot;}");
  });

  it("no html in, no html out", () => {
    expect(renderTemplate({ subject: "s", text: "t" }, {})).toEqual({ subject: "s", text: "t" });
  });

  it("lists placeholders with whether they are required", () => {
    expect(templatePlaceholders({ subject: "{a} {{b}}", text: "{c?} {a}", html: "{c} {d?}" })).toEqual([
      { name: "a", required: true },
      { name: "c", required: true },
      { name: "d", required: false },
    ]);
  });
});

describe("built-in templates", () => {
  const approvalVars = {
    title: "Deploy v2 to production",
    description: "Rolls out build #42.\nDowntime: none expected.",
    approve_url: "https://agent.example.com/approve/ap_1?action=approve&token=abc",
    reject_url: "https://agent.example.com/approve/ap_1?action=reject&token=abc",
    expires_at: "2026-11-21T12:00:00Z",
    agent_id: "agent-7",
  };

  it("declare exactly the variables their bodies use", () => {
    for (const t of Object.values(BUILTIN_TEMPLATES)) {
      const used = templatePlaceholders(t);
      expect(used.map((u) => u.name).sort()).toEqual(t.variables.map((v) => v.name).sort());
      for (const v of t.variables) expect(used.find((u) => u.name === v.name)?.required).toBe(v.required);
    }
    expect(isBuiltinTemplateId("approval_request")).toBe(true);
    expect(isBuiltinTemplateId("toString")).toBe(false);
  });

  it("approval_request renders text and HTML with both links", () => {
    const out = renderTemplate(BUILTIN_TEMPLATES.approval_request, { ...approvalVars, reply_hint: "Or reply APPROVE or REJECT." });
    expect(out.subject).toBe("Approval needed: Deploy v2 to production");
    expect(out.text).toContain("Agent agent-7 is waiting for your decision.");
    expect(out.text).toContain("Rolls out build #42.\nDowntime: none expected.");
    expect(out.text).toContain(`Approve: ${approvalVars.approve_url}`);
    expect(out.text).toContain(`Reject:  ${approvalVars.reject_url}`);
    expect(out.text).toContain("Or reply APPROVE or REJECT.");
    expect(out.text).toContain("expires at 2026-11-21T12:00:00Z");
    expect(out.html).toContain(`href="https://agent.example.com/approve/ap_1?action=approve&amp;token=abc"`);
    expect(out.html).toContain(`href="https://agent.example.com/approve/ap_1?action=reject&amp;token=abc"`);
    expect(out.html).toContain("<title>Approval needed: Deploy v2 to production</title>");
    expect(out.html).not.toMatch(/\{[a-z_]+\??\}/);
    expect(out.html).not.toMatch(/<img|<link|src=|url\(/i);
  });

  it("approval_request: reply_hint is optional, the others are not", () => {
    const out = renderTemplate(BUILTIN_TEMPLATES.approval_request, approvalVars);
    expect(out.text).not.toContain("{reply_hint");
    const err = renderError(BUILTIN_TEMPLATES.approval_request, { title: "x" });
    expect(err.errors?.map((e) => e.path)).toEqual([
      "variables.agent_id",
      "variables.description",
      "variables.approve_url",
      "variables.reject_url",
      "variables.expires_at",
    ]);
  });

  it("approval_request escapes a hostile title and description in HTML", () => {
    const out = renderTemplate(BUILTIN_TEMPLATES.approval_request, {
      ...approvalVars,
      title: `<img src=x onerror="alert(1)">`,
      description: "<script>steal()</script>",
    });
    expect(out.subject).toBe(`Approval needed: <img src=x onerror="alert(1)">`);
    expect(out.html).toContain("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;");
    expect(out.html).toContain("&lt;script&gt;steal()&lt;/script&gt;");
    expect(out.html).not.toContain("<script>");
  });

  it("task_completion renders its variables", () => {
    const out = renderTemplate(BUILTIN_TEMPLATES.task_completion, {
      task_id: "task_123",
      task_type: "data_analysis",
      status: "completed",
      result_summary: "3 anomalies found\nmean = 4.2",
      agent_id: "agent-7",
    });
    expect(out.subject).toBe("Task completed: data_analysis (task_123)");
    expect(out.text).toBe(
      "Task task_123 (data_analysis) of agent agent-7 has finished.\n\nStatus: completed\n\nSummary:\n3 anomalies found\nmean = 4.2\n",
    );
    expect(out.html).toContain("<strong>completed</strong>");
    expect(out.html).toContain("3 anomalies found\nmean = 4.2");
  });
});
