/**
 * Mail belongs to agents: a credential limited to agent A sees and uses only A's messages and
 * templates (plus global templates), never B's; an unrestricted credential sees everything.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { listMessagesQuery } from "../../src/email/outbox";
import { call, json, mintToken, problem } from "../helpers/api";
import { base, createApproval, spyMail } from "../helpers/approvals";
import { messageCount } from "../helpers/email";
import { createTask, waitForStatus } from "../helpers/tasks";

interface Message {
  message_id: string;
  agent_id: string | null;
  subject: string;
  template_id: string | null;
}
interface Template {
  template_id: string;
  name: string;
  agent_id: string | null;
  subject: string;
  builtin: boolean;
}

let tokenA: string;
let tokenB: string;
/** Limited to two agents: it must say which one a mail is for. */
let tokenAC: string;

beforeAll(async () => {
  tokenA = await mintToken({ sub: "dev-a", role: "developer", agents: ["iso-a"] });
  tokenB = await mintToken({ sub: "dev-b", role: "developer", agents: ["iso-b"] });
  tokenAC = await mintToken({ sub: "dev-ac", role: "developer", agents: ["iso-a", "iso-c"] });
});

afterEach(() => {
  vi.restoreAllMocks();
});

async function send(token: string | undefined, body: Record<string, unknown>): Promise<Message> {
  const res = await call("/api/v2/email/send", { token, body: { to: ["x@example.com"], ...body } });
  if (res.status !== 201) throw new Error(`send: ${res.status} ${await res.text()}`);
  return json<Message>(res);
}

async function listed(token: string | undefined, query = ""): Promise<Message[]> {
  const res = await call(`/api/v2/email/messages?limit=100${query}`, { token });
  expect(res.status).toBe(200);
  return (await json<{ messages: Message[] }>(res)).messages;
}

async function createTemplate(token: string | undefined, body: Record<string, unknown>): Promise<Template> {
  const res = await call("/api/v2/email/templates", { token, body: { text: "Hi {who?}", ...body } });
  if (res.status !== 201) throw new Error(`template: ${res.status} ${await res.text()}`);
  return json<Template>(res);
}

/** Everything stored about templates and messages: what a refusal must leave as it was. */
async function mailTables(): Promise<string> {
  const templates = await env.DB.prepare("SELECT * FROM email_templates ORDER BY template_id").all();
  const messages = await env.DB.prepare("SELECT * FROM email_messages ORDER BY message_id").all();
  return JSON.stringify([templates.results, messages.results]);
}

describe("the message log by agent", () => {
  it("a credential limited to A lists and reads only A's messages; B's and global ones are 404; an unrestricted one sees all", async () => {
    const a = await send(tokenA, { subject: "for a", text: "t" });
    const b = await send(tokenB, { subject: "for b", text: "t" });
    const global = await send(undefined, { subject: "global", text: "t" });

    expect((await call(`/api/v2/email/messages/${a.message_id}`, { token: tokenA })).status).toBe(200);
    for (const other of [b.message_id, global.message_id]) {
      const doc = await problem(await call(`/api/v2/email/messages/${other}`, { token: tokenA }), 404);
      // The same answer as for an id that does not exist: nothing confirms B's ids.
      const unknown = await problem(await call("/api/v2/email/messages/msg_000000000000000000000000", { token: tokenA }), 404);
      expect(doc.detail.replace(other, "ID")).toBe(unknown.detail.replace("msg_000000000000000000000000", "ID"));
    }
    expect([a.agent_id, b.agent_id, global.agent_id]).toEqual(["iso-a", "iso-b", null]);

    for (const query of ["", "&status=sent"]) {
      const seen = await listed(tokenA, query);
      expect(seen.map((m) => m.message_id)).toContain(a.message_id);
      expect(seen.every((m) => m.agent_id === "iso-a")).toBe(true);
    }
    expect((await listed(tokenA, "&agent_id=iso-a")).map((m) => m.message_id)).toEqual([a.message_id]);
    await problem(await call("/api/v2/email/messages?agent_id=iso-b", { token: tokenA }), 403);

    const all = (await listed(undefined)).map((m) => m.message_id);
    expect(all).toEqual(expect.arrayContaining([a.message_id, b.message_id, global.message_id]));
    expect((await listed(undefined, "&agent_id=iso-b")).map((m) => m.message_id)).toEqual([b.message_id]);
    expect(await json<Message>(await call(`/api/v2/email/messages/${b.message_id}`))).toMatchObject({
      agent_id: "iso-b",
      subject: "for b",
    });
  });

  it("approval mail belongs to the approval's agent, send_email task mail to the task's agent", async () => {
    spyMail();
    const approval = await createApproval(base({ agent_id: "iso-b" }));
    const approvalMail = approval.email.message_id!;
    const taskId = await createTask("iso-b", {
      task_type: "send_email",
      metadata: { to: ["x@example.com"], subject: "from a task", text: "t" },
    });
    const task = await waitForStatus(taskId, ["completed", "failed"]);
    expect(task.status).toBe("completed");
    const taskMail = (task.result as { message_id: string }).message_id;

    for (const id of [approvalMail, taskMail]) {
      expect(await json<Message>(await call(`/api/v2/email/messages/${id}`, { token: tokenB }))).toMatchObject({ agent_id: "iso-b" });
      await problem(await call(`/api/v2/email/messages/${id}`, { token: tokenA }), 404);
    }
    const seenByA = (await listed(tokenA)).map((m) => m.message_id);
    expect(seenByA).not.toContain(approvalMail);
    expect(seenByA).not.toContain(taskMail);
  });

  it("a send_email task naming another agent is refused (422) and sends nothing", async () => {
    const spy = vi.spyOn(env.EMAIL, "send");
    const before = await messageCount();
    const res = await call("/api/v2/agents/iso-a/tasks", {
      body: { task_type: "send_email", metadata: { to: ["x@example.com"], subject: "s", text: "t", agent_id: "iso-b" } },
    });
    const doc = await problem(res, 422);
    expect(doc.errors).toEqual([expect.objectContaining({ path: "metadata.agent_id" })]);
    expect(spy).not.toHaveBeenCalled();
    expect(await messageCount()).toBe(before);
  });
});

describe("the filtered log is an indexed read", () => {
  it("every scoped listing searches an owner index instead of scanning the table", async () => {
    const cursor = "1700000000000:msg_000000000000000000000000";
    const cases = [
      { scope: { agents: ["iso-a"] }, opts: {}, index: "email_messages_by_agent" },
      { scope: { agents: ["iso-a", "iso-c"] }, opts: {}, index: "email_messages_by_agent" },
      { scope: { agents: ["iso-a"] }, opts: { status: "sent" as const, cursor }, index: "email_messages_by_agent_status" },
      { scope: {}, opts: { agent_id: "iso-b", cursor }, index: "email_messages_by_agent" },
    ];
    for (const { scope, opts, index } of cases) {
      const { sql, binds } = listMessagesQuery(scope, { limit: 50, ...opts });
      const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
        .bind(...binds)
        .all<{ detail: string }>();
      const details = plan.results.map((r) => r.detail);
      expect(
        details.some((d) => d.startsWith("SEARCH email_messages") && d.includes(index)),
        details.join(" | "),
      ).toBe(true);
      expect(
        details.some((d) => d.startsWith("SCAN email_messages")),
        details.join(" | "),
      ).toBe(false);
    }
  });
});

describe("sending for an agent", () => {
  it("another agent's id is 403, no agent from a credential limited to several is 422; nothing is sent or logged", async () => {
    const spy = vi.spyOn(env.EMAIL, "send");
    const before = await mailTables();
    const foreign = await problem(
      await call("/api/v2/email/send", { token: tokenA, body: { to: ["x@example.com"], subject: "s", text: "t", agent_id: "iso-b" } }),
      403,
    );
    expect(foreign.detail).toContain("iso-b");
    const unnamed = await problem(
      await call("/api/v2/email/send", { token: tokenAC, body: { to: ["x@example.com"], subject: "s", text: "t" } }),
      422,
    );
    expect(unnamed.errors).toEqual([expect.objectContaining({ path: "agent_id" })]);
    expect(spy).not.toHaveBeenCalled();
    expect(await mailTables()).toBe(before);

    expect(await send(tokenAC, { subject: "s", text: "t", agent_id: "iso-c" })).toMatchObject({ agent_id: "iso-c" });
    expect(await send(tokenA, { subject: "s", text: "t", agent_id: "iso-a" })).toMatchObject({ agent_id: "iso-a" });
    expect(await send(undefined, { subject: "s", text: "t", agent_id: "iso-b" })).toMatchObject({ agent_id: "iso-b" });
  });
});

describe("templates by agent", () => {
  it("A cannot read, change, delete or send with B's templates, nor change global ones; nothing changes", async () => {
    const global = await createTemplate(undefined, { name: "t-global", subject: "Global {who?}" });
    const ofB = await createTemplate(tokenB, { name: "t-b-1", subject: "B's {who?}" });
    const onlyB = await createTemplate(tokenB, { name: "t-b-only", subject: "B only" });

    const spy = vi.spyOn(env.EMAIL, "send");
    const before = await mailTables();
    const replacement = { name: "t-hijack", subject: "Hijacked", text: "owned" };
    for (const ref of [ofB.template_id, onlyB.template_id, "t-b-only"]) {
      await problem(await call(`/api/v2/email/templates/${ref}`, { token: tokenA }), 404);
      await problem(await call(`/api/v2/email/templates/${ref}`, { token: tokenA, method: "PUT", body: replacement }), 404);
      await problem(await call(`/api/v2/email/templates/${ref}`, { token: tokenA, method: "DELETE" }), 404);
      await problem(await call("/api/v2/email/send", { token: tokenA, body: { to: ["x@example.com"], template_id: ref } }), 404);
    }
    for (const ref of [global.template_id, "t-global"]) {
      await problem(await call(`/api/v2/email/templates/${ref}`, { token: tokenA, method: "PUT", body: replacement }), 403);
      await problem(await call(`/api/v2/email/templates/${ref}`, { token: tokenA, method: "DELETE" }), 403);
    }
    await problem(await call("/api/v2/email/templates", { token: tokenA, body: { ...replacement, agent_id: "iso-b" } }), 403);
    await problem(await call("/api/v2/email/templates?agent_id=iso-b", { token: tokenA }), 403);
    expect(spy).not.toHaveBeenCalled();
    expect(await mailTables()).toBe(before);

    // A reads global templates and its own, never B's.
    const { templates } = await json<{ templates: Template[] }>(await call("/api/v2/email/templates", { token: tokenA }));
    const ids = templates.map((t) => t.template_id);
    expect(ids).toContain(global.template_id);
    expect(ids).not.toContain(ofB.template_id);
    expect(ids).not.toContain(onlyB.template_id);
    expect(await json<Template>(await call("/api/v2/email/templates/t-global", { token: tokenA }))).toMatchObject({
      template_id: global.template_id,
    });
    // The unrestricted credential lists every one.
    const every = (await json<{ templates: Template[] }>(await call("/api/v2/email/templates"))).templates.map((t) => t.template_id);
    expect(every).toEqual(expect.arrayContaining([global.template_id, ofB.template_id, onlyB.template_id]));
    expect([global.agent_id, ofB.agent_id, onlyB.agent_id]).toEqual([null, "iso-b", "iso-b"]);
  });

  it("names are unique per owner; a name resolves to the agent's own template, then the global one", async () => {
    const global = await createTemplate(undefined, { name: "t-greet", subject: "Global hello" });
    const ofA = await createTemplate(tokenA, { name: "t-greet", subject: "A hello" });
    await problem(await call("/api/v2/email/templates", { token: tokenA, body: { name: "t-greet", subject: "again", text: "x" } }), 409);
    await problem(await call("/api/v2/email/templates", { body: { name: "t-greet", subject: "again", text: "x" } }), 409);

    expect(await send(tokenA, { template_id: "t-greet" })).toMatchObject({
      subject: "A hello",
      template_id: ofA.template_id,
      agent_id: "iso-a",
    });
    expect(await send(tokenB, { template_id: "t-greet" })).toMatchObject({
      subject: "Global hello",
      template_id: global.template_id,
      agent_id: "iso-b",
    });
    expect(await send(undefined, { template_id: "t-greet" })).toMatchObject({ subject: "Global hello", agent_id: null });
    expect(await send(undefined, { template_id: "t-greet", agent_id: "iso-a" })).toMatchObject({ subject: "A hello" });
    // A global message uses global templates only, also by id.
    await problem(await call("/api/v2/email/send", { body: { to: ["x@example.com"], template_id: ofA.template_id } }), 404);

    // A credential limited to several agents says which one a name is for.
    await problem(await call("/api/v2/email/templates/t-greet", { token: tokenAC }), 422);
    expect(await json<Template>(await call("/api/v2/email/templates/t-greet?agent_id=iso-a", { token: tokenAC }))).toMatchObject({
      template_id: ofA.template_id,
    });
    expect(await json<Template>(await call("/api/v2/email/templates/t-greet?agent_id=iso-c", { token: tokenAC }))).toMatchObject({
      template_id: global.template_id,
    });

    // A changes and deletes its own.
    const put = await call(`/api/v2/email/templates/t-greet`, {
      token: tokenA,
      method: "PUT",
      body: { name: "t-greet", subject: "A hello 2", text: "x" },
    });
    expect(await json<Template>(put)).toMatchObject({ template_id: ofA.template_id, agent_id: "iso-a", subject: "A hello 2" });
    expect((await call(`/api/v2/email/templates/${ofA.template_id}`, { token: tokenA, method: "DELETE" })).status).toBe(204);
    expect(await json<Template>(await call("/api/v2/email/templates/t-greet", { token: tokenA }))).toMatchObject({
      template_id: global.template_id,
    });
  });
});
