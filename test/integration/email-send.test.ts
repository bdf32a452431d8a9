/** POST /api/v2/email/send and the message log, through the real Worker and the local send_email binding. */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { call, json, mintToken, problem } from "../helpers/api";
import { callWith, fakeProviderApis, messageCount, messageRow } from "../helpers/email";

interface Message {
  success?: boolean;
  message_id: string;
  status: string;
  provider: string | null;
  to: string[];
  from: string;
  subject: string;
  text?: string;
  html?: string | null;
  attempts: { provider: string; ok: boolean; error?: string; skipped?: boolean }[];
  error: string | null;
  template_id: string | null;
  provider_message_id: string | null;
  rfc_message_id: string | null;
  related: string | null;
  sent_at: string | null;
}

type SendGridBody = { subject: string; content: { type: string; value: string }[] };

afterEach(() => {
  vi.restoreAllMocks();
});

describe("POST /api/v2/email/send", () => {
  it("sends through the cloudflare binding, logs the message as sent, and shows its bodies", async () => {
    const send = vi.spyOn(env.EMAIL, "send");
    const res = await call("/api/v2/email/send", {
      body: { to: ["boss@example.com"], subject: "Hello", text: "Plain body", html: "<p>HTML body</p>", related: "approval_x" },
    });
    expect(res.status).toBe(201);
    const sent = await json<Message>(res);
    expect(sent).toMatchObject({
      success: true,
      status: "sent",
      provider: "cloudflare",
      to: ["boss@example.com"],
      subject: "Hello",
      related: "approval_x",
      error: null,
    });
    expect(sent.message_id).toMatch(/^msg_[0-9a-f]{24}$/);
    expect(res.headers.get("location")).toBe(`/api/v2/email/messages/${sent.message_id}`);
    expect(sent.attempts).toEqual([expect.objectContaining({ provider: "cloudflare", ok: true })]);

    expect(send).toHaveBeenCalledTimes(1);
    const builder = send.mock.calls[0]?.[0] as EmailMessageBuilder;
    expect(builder).toMatchObject({ to: "boss@example.com", subject: "Hello", text: "Plain body", html: "<p>HTML body</p>" });
    const returned = (await send.mock.results[0]?.value) as EmailSendResult;
    expect(sent.provider_message_id).toBe(returned.messageId);
    expect(sent.rfc_message_id).toBe(returned.messageId);

    const row = await messageRow(sent.message_id);
    expect(row).toMatchObject({ status: "sent", provider: "cloudflare", provider_message_id: returned.messageId });

    const shown = await json<Message>(await call(`/api/v2/email/messages/${sent.message_id}`));
    expect(shown).toMatchObject({
      message_id: sent.message_id,
      status: "sent",
      text: "Plain body",
      html: "<p>HTML body</p>",
      from: '"DataMCPServerAgent" <agent@localhost>',
    });
    expect(shown.sent_at).toMatch(/Z$/);
  });

  it("accepts one address as a string and derives the text body from HTML", async () => {
    const send = vi.spyOn(env.EMAIL, "send");
    const res = await call("/api/v2/email/send", {
      body: { to: "dev@example.com", subject: "Link", html: '<p>Open <a href="https://x.test/a?b=1&amp;c=2">this</a></p>' },
    });
    expect(res.status).toBe(201);
    const builder = send.mock.calls[0]?.[0] as EmailMessageBuilder;
    expect(builder.text).toBe("Open this (https://x.test/a?b=1&c=2)");
  });

  it("renders a template: variables HTML-escaped in HTML, as they are in text", async () => {
    const send = vi.spyOn(env.EMAIL, "send");
    const variables = {
      task_id: "task_1",
      task_type: "data_analysis",
      status: "completed",
      result_summary: "<b>42</b> rows & done",
      agent_id: "a-1",
    };
    const res = await call("/api/v2/email/send", { body: { to: ["boss@example.com"], template_id: "task_completion", variables } });
    expect(res.status).toBe(201);
    const sent = await json<Message>(res);
    expect(sent).toMatchObject({ template_id: "task_completion", subject: "Task completed: data_analysis (task_1)" });
    const builder = send.mock.calls[0]?.[0] as EmailMessageBuilder;
    expect(builder.text).toContain("<b>42</b> rows & done");
    expect(builder.html).toContain("&lt;b&gt;42&lt;/b&gt; rows &amp; done");
    expect(builder.html).not.toContain("<b>42</b>");
    const shown = await json<Message>(await call(`/api/v2/email/messages/${sent.message_id}`));
    expect(shown.html).toContain("&lt;b&gt;42&lt;/b&gt;");
  });

  it("a missing template variable is 422 naming it; nothing is sent or logged", async () => {
    const send = vi.spyOn(env.EMAIL, "send");
    const before = await messageCount();
    const res = await call("/api/v2/email/send", {
      body: {
        to: ["boss@example.com"],
        template_id: "task_completion",
        variables: { task_id: "t", task_type: "x", status: "failed", agent_id: "a" },
      },
    });
    const doc = await problem(res, 422);
    expect(doc.detail).toContain("result_summary");
    expect(doc.errors).toEqual([expect.objectContaining({ path: "variables.result_summary" })]);
    expect(send).not.toHaveBeenCalled();
    expect(await messageCount()).toBe(before);
    await problem(await call("/api/v2/email/send", { body: { to: ["a@example.com"], template_id: "no_such_template" } }), 404);
  });

  it("refuses bad input and changes nothing", async () => {
    const send = vi.spyOn(env.EMAIL, "send");
    const before = await messageCount();
    const post = (body: unknown) => call("/api/v2/email/send", { body });
    await problem(await call("/api/v2/email/send", { rawBody: "{not json", headers: { "content-type": "application/json" } }), 400);
    await problem(await call("/api/v2/email/send", { method: "POST" }), 400);
    const noBody = await problem(await post({ to: ["a@example.com"], subject: "s" }), 422);
    expect(noBody.errors).toEqual([expect.objectContaining({ path: "text" })]);
    const noSubject = await problem(await post({ to: ["a@example.com"], text: "t" }), 422);
    expect(noSubject.errors).toEqual([expect.objectContaining({ path: "subject" })]);
    const many = await problem(await post({ to: Array.from({ length: 51 }, (_, i) => `r${i}@example.com`), subject: "s", text: "t" }), 422);
    expect(many.errors).toEqual([expect.objectContaining({ path: "to", message: "at most 50 recipients" })]);
    await problem(await post({ to: [], subject: "s", text: "t" }), 422);
    const crlf = await problem(await post({ to: ["a@example.com"], subject: "Hi\r\nBcc: victim@example.com", text: "t" }), 422);
    expect(crlf.errors).toEqual([expect.objectContaining({ path: "subject" })]);
    await problem(await post({ to: ["not an address"], subject: "s", text: "t" }), 422);
    await problem(await post({ to: ["a@example.com"], subject: "s", text: "t", template_id: "task_completion" }), 422);
    await problem(await post({ to: ["a@example.com"], subject: "s", text: "t", provider: "postmark" }), 422);
    await problem(await post({ to: ["a@example.com"], subject: "s", text: "t", bcc: ["x@example.com"] }), 422);
    await problem(await post({ to: ["a@example.com"], subject: "s", text: "é".repeat(400 * 1024), html: "y".repeat(300 * 1024) }), 413);
    expect(send).not.toHaveBeenCalled();
    expect(await messageCount()).toBe(before);
  });

  it("guests and users may not send or read the log (403); no credentials is 401", async () => {
    for (const role of ["guest", "user"] as const) {
      const token = await mintToken({ role });
      await problem(await call("/api/v2/email/send", { token, body: { to: ["a@example.com"], subject: "s", text: "t" } }), 403);
      await problem(await call("/api/v2/email/messages", { token }), 403);
      await problem(await call("/api/v2/email/templates", { token }), 403);
    }
    const developer = await mintToken({ role: "developer" });
    expect((await call("/api/v2/email/messages", { token: developer })).status).toBe(200);
    await problem(await call("/api/v2/email/send", { token: null, body: { to: ["a@example.com"], subject: "s", text: "t" } }), 401);
  });

  it("fails over to sendgrid when the binding fails, recording both attempts", async () => {
    vi.spyOn(env.EMAIL, "send").mockRejectedValue(new Error("internal error: try again later"));
    const seen = fakeProviderApis();
    const res = await callWith({ EMAIL_PROVIDERS: "cloudflare,sendgrid", SENDGRID_API_KEY: "SG.x" }, "/api/v2/email/send", {
      body: { to: ["boss@example.com"], subject: "Failover", text: "Body" },
    });
    expect(res.status).toBe(201);
    const sent = await json<Message>(res);
    expect(sent).toMatchObject({ status: "sent", provider: "sendgrid", provider_message_id: "sg-msg-1", rfc_message_id: null });
    expect(sent.attempts.map((a) => [a.provider, a.ok])).toEqual([
      ["cloudflare", false],
      ["sendgrid", true],
    ]);
    expect(sent.attempts[0]?.error).toContain("internal error");
    expect(seen.map((s) => s.host)).toEqual(["api.sendgrid.com"]);
    expect((JSON.parse(seen[0]!.body) as SendGridBody).subject).toBe("Failover");
  });

  it("sends only through the named provider when `provider` is given", async () => {
    const send = vi.spyOn(env.EMAIL, "send");
    fakeProviderApis();
    const res = await callWith({ SENDGRID_API_KEY: "SG.x" }, "/api/v2/email/send", {
      body: { to: ["a@example.com"], subject: "s", text: "t", provider: "sendgrid" },
    });
    expect(await json(res)).toMatchObject({ provider: "sendgrid", status: "sent" });
    expect(send).not.toHaveBeenCalled();
    // Named but not configured: nothing else is tried.
    const mg = await problem(
      await call("/api/v2/email/send", { body: { to: ["a@example.com"], subject: "s", text: "t", provider: "mailgun" } }),
      503,
    );
    expect(mg.detail).toContain("MAILGUN_API_KEY");
  });

  it("total failure is 503; the message stays logged as failed with every attempt", async () => {
    vi.spyOn(env.EMAIL, "send").mockRejectedValue(new Error("internal error"));
    fakeProviderApis({ sendgrid: 503 });
    const res = await callWith({ EMAIL_PROVIDERS: "sendgrid,cloudflare", SENDGRID_API_KEY: "SG.x" }, "/api/v2/email/send", {
      body: { to: ["boss@example.com"], subject: "Doomed", text: "Body" },
    });
    const doc = await problem(res, 503);
    const messageId = doc.message_id as string;
    expect(messageId).toMatch(/^msg_/);
    expect((doc.attempts as { provider: string }[]).map((a) => a.provider)).toEqual(["sendgrid", "cloudflare"]);
    const row = await messageRow(messageId);
    expect(row?.status).toBe("failed");
    expect(row?.error).toContain("sendgrid says 503");
    const shown = await json<Message>(await call(`/api/v2/email/messages/${messageId}`));
    expect(shown).toMatchObject({ status: "failed", sent_at: null, text: "Body" });
    expect(shown.attempts.map((a) => [a.provider, a.ok])).toEqual([
      ["sendgrid", false],
      ["cloudflare", false],
    ]);
    const unusable = await problem(
      await callWith({ EMAIL_PROVIDERS: "postmark" }, "/api/v2/email/send", { body: { to: ["a@example.com"], subject: "s", text: "t" } }),
      503,
    );
    expect(unusable.detail).toContain("postmark");
  });

  it("lists messages newest first without bodies, by status, with a cursor", async () => {
    for (const subject of ["one", "two", "three"]) {
      expect((await call("/api/v2/email/send", { body: { to: ["list@example.com"], subject, text: "t" } })).status).toBe(201);
    }
    const page1 = await json<{ messages: Message[]; next_cursor: string | null }>(await call("/api/v2/email/messages?limit=2"));
    expect(page1.messages.map((m) => m.subject)).toEqual(["three", "two"]);
    expect(page1.messages[0]).not.toHaveProperty("text");
    expect(page1.messages[0]).not.toHaveProperty("html");
    const page2 = await json<{ messages: Message[]; next_cursor: string | null }>(
      await call(`/api/v2/email/messages?limit=2&cursor=${page1.next_cursor}`),
    );
    expect(page2.messages[0]?.subject).toBe("one");
    const sentOnly = await json<{ messages: Message[] }>(await call("/api/v2/email/messages?status=sent&limit=100"));
    expect(sentOnly.messages.map((m) => m.subject)).toEqual(expect.arrayContaining(["one", "two", "three"]));
    expect(sentOnly.messages.every((m) => m.status === "sent")).toBe(true);
    await problem(await call("/api/v2/email/messages?status=lost"), 422);
    await problem(await call("/api/v2/email/messages?cursor=abc"), 422);
    await problem(await call("/api/v2/email/messages/msg_000000000000000000000000"), 404);
    await problem(await call("/api/v2/email/messages/nope"), 422);
  });

  it("health reports email from the configured providers", async () => {
    // The checks need a credential (call sends a super_admin JWT).
    const health = await json<{ features: { email_integration: boolean }; checks: { email: { ok: boolean; detail: string } } }>(
      await call("/health"),
    );
    expect(health.features.email_integration).toBe(true);
    expect(health.checks.email.detail).toContain("cloudflare");
    const none = await json<typeof health>(await callWith({ EMAIL_PROVIDERS: "sendgrid,mailgun" }, "/health"));
    expect(none.features.email_integration).toBe(false);
    expect(none.checks.email).toMatchObject({ ok: false });
    expect(none.checks.email.detail).toContain("SENDGRID_API_KEY is not set");
  });
});
