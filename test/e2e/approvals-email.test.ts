/**
 * Approval by email reply, end to end through `wrangler dev --local` (docs/email-and-approvals.md): create an
 * approval over HTTP, find the mail the local `send_email` binding captured, answer it by POSTing a
 * raw RFC 822 reply to `/cdn-cgi/local/email` (the local Email Routing entry point, which runs the
 * Worker's `email()` handler), and read the decision back over HTTP.
 *
 * Where local mail lands (observed with wrangler 4.164): the binding writes under the PROJECT's
 * `.wrangler/tmp/email/miniflare-<session>/`, whatever `--persist-to` says, and removes that session
 * folder when wrangler exits. This project sends with the builder form (`EMAIL.send({from, to,
 * subject, text, html, replyTo, headers})`), for which the binding stores the bodies only:
 * `email-text/<Message-ID>.txt` and `email-html/<Message-ID>.html`; there is no `.eml` for the
 * request itself (only raw `EmailMessage` sends get `email/<Message-ID>.eml`). Replies made by the
 * `email()` handler are stored whole as `reply/<Message-ID>.eml`. Other wrangler dev sessions may
 * share `.wrangler/tmp/email`, so files are found by Message-ID, never by recency. The envelope
 * headers (Reply-To, Message-ID) of the builder mail come from the Local Explorer API.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { client, eventually, mintJwt, type Client } from "./helpers/http";
import { PROJECT_ROOT, startLocalServer, type LocalServer } from "./helpers/local-server";

const APPROVER = "boss@example.com";
const EMAIL_ROOT = join(PROJECT_ROOT, ".wrangler/tmp/email");

interface SentRow {
  messageId: string;
  from: string;
  to: string[];
  replyTo?: string;
  subject: string;
  headers?: Record<string, string>;
}
interface Outcome {
  outcome: string;
  rejectReason?: string;
  forwards: unknown[];
  replies: { messageId: string; sender: string; raw: string }[];
}

let server: LocalServer | undefined;
let api: Client;

beforeAll(async () => {
  server = await startLocalServer();
  api = client(server.baseUrl, await mintJwt(server.jwtSecret, { sub: "approvals-e2e", role: "developer" }));
});

afterAll(async () => {
  await server?.dispose();
});

/** Every file called `<storageId>.<ext>` in `kind/` of any session folder (normally exactly one). */
function capturedFiles(kind: string, messageId: string, ext: string): string[] {
  if (!existsSync(EMAIL_ROOT)) return [];
  const name = `${messageId.replace(/^<|>$/g, "")}.${ext}`;
  return readdirSync(EMAIL_ROOT)
    .filter((d) => d.startsWith("miniflare-"))
    .map((d) => join(EMAIL_ROOT, d, kind, name))
    .filter((p) => existsSync(p));
}

/** The Local Explorer's row for the sent mail with this Message-ID. */
async function sentRow(messageId: string): Promise<SentRow | undefined> {
  const res = await fetch(`${server!.baseUrl}/cdn-cgi/local/explorer/api/local/email/sending?per_page=100`);
  expect(res.status).toBe(200);
  const rows = ((await res.json()) as { result: SentRow[] }).result;
  return rows.find((r) => r.messageId === messageId);
}

/** Creates an approval and returns what the approver received: the Reply-To and Message-ID. */
async function createAndFindMail(title: string) {
  const created = await api.post("/api/v2/email/approval", {
    agent_id: "e2e-approvals",
    title,
    description: "Ship the release?",
    approver_email: APPROVER,
  });
  expect(created.status, created.text).toBe(201);
  expect(created.body.email.status).toBe("sent");
  const id: string = created.body.approval_id;

  // The message log names the Message-ID the mail went out with (the one replies thread on).
  const logged = await api.get(`/api/v2/email/messages/${created.body.email.message_id}`);
  expect(logged.status, logged.text).toBe(200);
  const rfc: string = logged.body.rfc_message_id;
  const messageId = rfc.startsWith("<") ? rfc : `<${rfc}>`;

  // The captured body files, found by that Message-ID (written one after the other, after send()).
  const captured = async () =>
    capturedFiles("email-text", messageId, "txt").length > 0 && capturedFiles("email-html", messageId, "html").length > 0;
  expect(await eventually(captured, 10_000), `no email-text/${messageId}.txt and email-html/….html under ${EMAIL_ROOT}`).toBe(true);
  const files = capturedFiles("email-text", messageId, "txt");
  expect(files).toHaveLength(1);
  const text = readFileSync(files[0]!, "utf8");
  expect(text).toContain(`/approve/${id}?action=approve&token=`);
  expect(text).toMatch(/reply to this mail with APPROVE or REJECT/i);
  expect(capturedFiles("email-html", messageId, "html")).toHaveLength(1);

  // Headers of a builder mail: from the Local Explorer (cross-checked against the message log).
  const row = await sentRow(messageId);
  expect(row, `Local Explorer lists no sent mail ${messageId}`).toBeDefined();
  expect(row!.to).toEqual([APPROVER]);
  expect(row!.subject).toContain(`[${id}]`);
  expect(row!.headers?.["X-Approval-Id"]).toBe(id);
  const replyTo = row!.replyTo!;
  expect(replyTo).toMatch(new RegExp(`^approvals\\+${id}\\.[0-9a-f]{16}@localhost$`));
  return { id, messageId, replyTo, subject: row!.subject };
}

/** A raw RFC 822 reply as a mail client would write it (CRLF, own Message-ID, threaded). */
function rawReply(o: { from: string; to: string; subject: string; inReplyTo: string; body: string }): string {
  const head = [
    `From: Someone <${o.from}>`,
    `To: ${o.to}`,
    `Subject: Re: ${o.subject}`,
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: <${crypto.randomUUID()}@example.com>`,
    `In-Reply-To: ${o.inReplyTo}`,
    `References: ${o.inReplyTo}`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
  ];
  return `${head.join("\r\n")}\r\n\r\n${o.body.replace(/\r?\n/g, "\r\n")}`;
}

/** Delivers `raw` to the Worker's email() handler the way Email Routing would, locally. */
async function deliver(from: string, to: string, raw: string): Promise<Outcome> {
  const url = `${server!.baseUrl}/cdn-cgi/local/email?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&format=json`;
  const res = await fetch(url, { method: "POST", body: raw, signal: AbortSignal.timeout(15_000) });
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return JSON.parse(text) as Outcome;
}

const approval = async (id: string) => {
  const res = await api.get(`/api/v2/email/approval/${id}`);
  expect(res.status, res.text).toBe(200);
  return res.body;
};

describe("approving by email reply through wrangler dev", () => {
  it("a reply from a stranger is rejected and changes nothing", async () => {
    const mail = await createAndFindMail("Deploy v2 (stranger)");
    const stranger = "intern@example.com";
    const out = await deliver(
      stranger,
      mail.replyTo,
      rawReply({ from: stranger, to: mail.replyTo, subject: mail.subject, inReplyTo: mail.messageId, body: "Approved\n" }),
    );
    expect(out.rejectReason).toBe("Only the approver may answer this approval request");
    expect(out.replies).toEqual([]);
    expect(out.forwards).toEqual([]);
    expect(await approval(mail.id)).toMatchObject({ status: "pending", decided_via: null, approved_by: null });
  });

  it("the approver's reply decides the approval and is confirmed; a second reply changes nothing", async () => {
    const mail = await createAndFindMail("Deploy v2");
    const body = `Approved\n\nlooks good\n\nOn ${new Date().toUTCString()}, DataMCPServerAgent <agent@localhost> wrote:\n> Approval needed: Deploy v2\n> Ship the release?\n`;
    const out = await deliver(
      APPROVER,
      mail.replyTo,
      rawReply({ from: APPROVER, to: mail.replyTo, subject: mail.subject, inReplyTo: mail.messageId, body }),
    );
    expect(out.outcome).toBe("ok");
    expect(out.rejectReason).toBeUndefined();
    expect(out.replies).toHaveLength(1);
    const confirmation = out.replies[0]!;
    expect(confirmation.sender).toBe("agent@localhost");
    expect(confirmation.raw).toMatch(/^To: boss@example\.com\r?$/m);
    expect(confirmation.raw).toMatch(/^Subject: Re: Approval needed: Deploy v2 \[approval_[0-9a-f]{24}\]\r?$/m);
    expect(confirmation.raw).toContain(`References: ${mail.messageId}`);
    expect(confirmation.raw).toContain('Recorded: "Deploy v2" is approved.');
    // The confirmation is also captured whole, as reply/<Message-ID>.eml.
    expect(await eventually(async () => capturedFiles("reply", confirmation.messageId, "eml").length === 1, 10_000)).toBe(true);
    expect(readFileSync(capturedFiles("reply", confirmation.messageId, "eml")[0]!, "utf8")).toContain("is approved");

    expect(await approval(mail.id)).toMatchObject({ status: "approved", decided_via: "email", approved_by: APPROVER });

    const late = await deliver(
      APPROVER,
      mail.replyTo,
      rawReply({ from: APPROVER, to: mail.replyTo, subject: mail.subject, inReplyTo: mail.messageId, body: "Rejected: changed my mind\n" }),
    );
    expect(late.rejectReason).toBeUndefined();
    expect(late.replies).toHaveLength(1);
    expect(late.replies[0]!.raw).toContain("already decided");
    expect(await approval(mail.id)).toMatchObject({ status: "approved", decided_via: "email", rejection_reason: null });
  });
});
