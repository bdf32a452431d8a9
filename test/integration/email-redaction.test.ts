/**
 * The message log never keeps a usable link: an approval mail goes out with its tokens, and is
 * stored (and shown) with them masked. The outbox masks whatever secrets a sender names.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { sendMessage } from "../../src/email/outbox";
import { call, json } from "../helpers/api";
import { base, createApproval, getApproval, spyMail } from "../helpers/approvals";
import { messageRow } from "../helpers/email";

afterEach(() => {
  vi.restoreAllMocks();
});

/** Every row of every table of D1, as one string. */
async function everythingStored(): Promise<string> {
  const { results } = await env.DB.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'",
  ).all<{ name: string }>();
  const dumps = await Promise.all(
    results.map(async ({ name }) => JSON.stringify((await env.DB.prepare(`SELECT * FROM "${name}"`).all()).results)),
  );
  expect(results.map((r) => r.name)).toContain("email_messages");
  return dumps.join("\n");
}

const tokenIn = (url: string) => new URL(url).searchParams.get("token") as string;

describe("approval mail in the message log", () => {
  it("is delivered with working links but stored and shown with both tokens masked", async () => {
    const spy = spyMail();
    const created = await createApproval(base({ agent_id: "redact-agent" }));
    const builder = spy.mock.calls[0]?.[0] as EmailMessageBuilder;
    const approveUrl = /https?:\/\/\S+\/approve\/\S+\?action=approve&token=[^\s"<]+/.exec(builder.text ?? "")![0];
    const rejectUrl = /https?:\/\/\S+\/approve\/\S+\?action=reject&token=[^\s"<]+/.exec(builder.text ?? "")![0];
    const tokens = [tokenIn(approveUrl), tokenIn(rejectUrl)];
    expect(tokens.every((t) => t.length > 20)).toBe(true);
    // The delivered mail carries them, in the text and in the HTML.
    for (const t of tokens) {
      expect(builder.text).toContain(t);
      expect(builder.html).toContain(t);
    }

    const forms = tokens.flatMap((t) => [t, encodeURIComponent(t)]);
    const stored = await everythingStored();
    for (const form of forms) expect(stored).not.toContain(form);

    const messageId = created.email.message_id!;
    const reads = [
      await call(`/api/v2/email/messages/${messageId}`),
      await call("/api/v2/email/messages?limit=100"),
      await call("/api/v2/email/messages?agent_id=redact-agent"),
      await call(`/api/v2/email/approval/${created.approval_id}`),
      await call("/api/v2/email/approvals?status=pending"),
    ];
    for (const res of reads) {
      expect(res.status).toBe(200);
      const body = await res.text();
      for (const form of forms) expect(body).not.toContain(form);
    }
    // The log still shows the mail as sent, links masked.
    const shown = await json<{ text: string; html: string; agent_id: string }>(await call(`/api/v2/email/messages/${messageId}`));
    expect(shown.agent_id).toBe("redact-agent");
    expect(shown.text).toContain("action=approve&token=[redacted]");
    expect(shown.text).toContain("action=reject&token=[redacted]");
    expect(shown.html).toContain("action=approve&amp;token=[redacted]");

    // The delivered link decides the approval.
    const path = (u: string) => new URL(u).pathname + new URL(u).search;
    expect((await call(path(rejectUrl), { token: null })).status).toBe(200);
    const decided = await call(path(approveUrl), { method: "POST", token: null });
    expect(decided.status).toBe(200);
    expect(await getApproval(created.approval_id)).toMatchObject({ status: "approved", decided_via: "link" });
  });
});

describe("the outbox's mask", () => {
  it("replaces each secret, raw, URL-encoded or HTML-escaped, in everything stored; the provider gets the real message", async () => {
    const spy = vi.spyOn(env.EMAIL, "send");
    const secret = `s3cr"t&/+=${crypto.randomUUID()}`;
    const html = `<p><a href="https://x.test/?k=${encodeURIComponent(secret)}">${secret.replace(/&/g, "&amp;").replace(/"/g, "&quot;")}</a></p>`;
    const record = await sendMessage(env, {
      agentId: "mask-agent",
      to: ["a@example.com"],
      subject: `About ${secret}`,
      text: `Key: ${secret}`,
      html,
      mask: [secret],
    });

    const sent = spy.mock.calls[0]?.[0] as EmailMessageBuilder;
    expect(sent.subject).toBe(`About ${secret}`);
    expect(sent.text).toBe(`Key: ${secret}`);
    expect(sent.html).toBe(html);

    const row = (await messageRow(record.message_id)) as unknown as Record<string, string>;
    expect(row.subject).toBe("About [redacted]");
    expect(row.text_body).toBe("Key: [redacted]");
    expect(row.html_body).toBe('<p><a href="https://x.test/?k=[redacted]">[redacted]</a></p>');
    expect(record).toMatchObject({ subject: "About [redacted]", text: "Key: [redacted]" });
  });
});
