/** Templates CRUD at /api/v2/email/templates, and sending with a user template. */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { call, json, problem } from "../helpers/api";

interface Template {
  template_id: string;
  name: string;
  builtin: boolean;
  subject: string;
  text: string;
  html: string | null;
  description: string | null;
  variables: { name: string; required: boolean }[];
  created_at: string | null;
  updated_at: string | null;
}

const welcome = {
  name: "welcome",
  subject: "Welcome, {user.name}",
  text: "Hi {user.name}, your plan is {plan?}.",
  html: "<style>p { margin: 0 }</style><p>Hi {user.name}</p>",
};

afterEach(() => {
  vi.restoreAllMocks();
});

describe("email templates", () => {
  it("lists the built-ins, marked builtin, and reads them by name", async () => {
    const { templates } = await json<{ templates: Template[] }>(await call("/api/v2/email/templates"));
    const builtins = templates.filter((t) => t.builtin);
    expect(builtins.map((t) => t.template_id)).toEqual(["approval_request", "task_completion"]);
    expect(builtins[0]?.variables).toContainEqual(expect.objectContaining({ name: "approve_url", required: true }));
    const one = await json<Template>(await call("/api/v2/email/templates/task_completion"));
    expect(one).toMatchObject({ builtin: true, name: "task_completion", created_at: null });
  });

  it("creates, reads, updates, sends with and deletes a template", async () => {
    const created = await call("/api/v2/email/templates", { body: welcome });
    expect(created.status).toBe(201);
    const t = await json<Template>(created);
    expect(t.template_id).toMatch(/^tmpl_[0-9a-f]{24}$/);
    expect(created.headers.get("location")).toBe(`/api/v2/email/templates/${t.template_id}`);
    expect(t).toMatchObject({ name: "welcome", builtin: false, html: welcome.html });
    expect(t.variables).toEqual([
      { name: "user.name", required: true },
      { name: "plan", required: false },
    ]);
    expect(await json<Template>(await call(`/api/v2/email/templates/${t.template_id}`))).toEqual(t);
    expect(await json<Template>(await call("/api/v2/email/templates/welcome"))).toEqual(t);
    const { templates } = await json<{ templates: Template[] }>(await call("/api/v2/email/templates"));
    expect(templates.map((x) => x.name)).toContain("welcome");

    const send = vi.spyOn(env.EMAIL, "send");
    const res = await call("/api/v2/email/send", {
      body: { to: ["new@example.com"], template_id: t.template_id, variables: { user: { name: "Ann <Admin>" } } },
    });
    expect(res.status).toBe(201);
    expect(await json(res)).toMatchObject({ template_id: t.template_id, subject: "Welcome, Ann <Admin>" });
    const builder = send.mock.calls[0]?.[0] as EmailMessageBuilder;
    expect(builder.text).toBe("Hi Ann <Admin>, your plan is .");
    expect(builder.html).toBe("<style>p { margin: 0 }</style><p>Hi Ann &lt;Admin&gt;</p>");
    // By name too.
    expect(
      (await call("/api/v2/email/send", { body: { to: ["new@example.com"], template_id: "welcome", variables: { user: { name: "B" } } } }))
        .status,
    ).toBe(201);

    const updated = await call(`/api/v2/email/templates/${t.template_id}`, {
      method: "PUT",
      body: { ...welcome, name: "welcome2", subject: "Hello {who}" },
    });
    expect(updated.status).toBe(200);
    const u = await json<Template>(updated);
    expect(u).toMatchObject({ template_id: t.template_id, name: "welcome2", subject: "Hello {who}", created_at: t.created_at });
    await problem(await call("/api/v2/email/templates/welcome"), 404);

    const del = await call(`/api/v2/email/templates/${t.template_id}`, { method: "DELETE" });
    expect(del.status).toBe(204);
    await problem(await call(`/api/v2/email/templates/${t.template_id}`), 404);
    await problem(await call(`/api/v2/email/templates/${t.template_id}`, { method: "DELETE" }), 404);
    await problem(await call(`/api/v2/email/templates/${t.template_id}`, { method: "PUT", body: welcome }), 404);
  });

  it("built-ins cannot be modified, deleted or shadowed (409); names are unique (409)", async () => {
    await problem(
      await call("/api/v2/email/templates/approval_request", { method: "PUT", body: { ...welcome, name: "approval_request" } }),
      409,
    );
    await problem(await call("/api/v2/email/templates/task_completion", { method: "DELETE" }), 409);
    await problem(await call("/api/v2/email/templates", { body: { ...welcome, name: "task_completion" } }), 409);
    const a = await json<Template>(await call("/api/v2/email/templates", { body: { ...welcome, name: "dup-a" } }));
    await call("/api/v2/email/templates", { body: { ...welcome, name: "dup-b" } });
    const again = await problem(await call("/api/v2/email/templates", { body: { ...welcome, name: "dup-a" } }), 409);
    expect(again.detail).toContain("dup-a");
    await problem(await call(`/api/v2/email/templates/${a.template_id}`, { method: "PUT", body: { ...welcome, name: "dup-b" } }), 409);
    await problem(
      await call(`/api/v2/email/templates/${a.template_id}`, { method: "PUT", body: { ...welcome, name: "approval_request" } }),
      409,
    );
    expect(await json<Template>(await call(`/api/v2/email/templates/${a.template_id}`))).toMatchObject({ name: "dup-a" });
  });

  it("refuses bad templates with 422 and stores nothing", async () => {
    const post = (body: unknown) => call("/api/v2/email/templates", { body });
    const bad = await problem(await post({ ...welcome, name: "bad1", text: "Hi { name } and {a..b} and {ok}" }), 422);
    expect(bad.errors).toEqual([
      expect.objectContaining({ path: "text", message: expect.stringContaining("{ name }") }),
      expect.objectContaining({ path: "text", message: expect.stringContaining("{a..b}") }),
    ]);
    await problem(await post({ ...welcome, name: "bad2", subject: "two\nlines" }), 422);
    await problem(await post({ name: "bad3", subject: "s" }), 422);
    await problem(await post({ ...welcome, name: "tmpl_x" }), 422);
    await problem(await post({ ...welcome, name: "has space" }), 422);
    await problem(await post({ ...welcome, name: "bad4", extra: 1 }), 422);
    // Literal braces ({{ }}) and CSS blocks are fine.
    expect(
      (await post({ ...welcome, name: "braces", text: "{{literal}} and {name}", html: "<style>a { color: red }</style>" })).status,
    ).toBe(201);
    const { templates } = await json<{ templates: Template[] }>(await call("/api/v2/email/templates"));
    expect(templates.map((t) => t.name).filter((n) => n.startsWith("bad") || n.startsWith("tmpl_"))).toEqual([]);
  });
});
