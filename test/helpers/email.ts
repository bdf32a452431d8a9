/** Email test helpers: requests with env overrides (other providers, webhook keys), fake provider APIs, D1 rows. */
import { env } from "cloudflare:workers";
import { vi } from "vitest";

export { callWith } from "./api";

/**
 * Fakes SendGrid's Mail Send (and Mailgun's Messages API): `status` per host, 202 + X-Message-Id
 * (200 + id) by default. Returns the requests seen.
 */
export function fakeProviderApis(
  status: { sendgrid?: number; mailgun?: number } = {},
  ids = { sendgrid: "sg-msg-1", mailgun: "<mg-1@mg.example.com>" },
) {
  const seen: { host: string; body: string }[] = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const req = new Request(input, init);
    const url = new URL(req.url);
    seen.push({ host: url.host, body: await req.text() });
    if (url.host === "api.sendgrid.com") {
      const s = status.sendgrid ?? 202;
      return s === 202
        ? new Response(null, { status: 202, headers: { "X-Message-Id": ids.sendgrid } })
        : Response.json({ errors: [{ message: `sendgrid says ${s}` }] }, { status: s });
    }
    if (url.host === "api.mailgun.net") {
      const s = status.mailgun ?? 200;
      return s === 200
        ? Response.json({ id: ids.mailgun, message: "Queued. Thank you." })
        : Response.json({ message: `mailgun says ${s}` }, { status: s });
    }
    return new Response("unexpected host", { status: 599 });
  });
  return seen;
}

export interface MessageRowLike {
  message_id: string;
  status: string;
  provider: string | null;
  provider_message_id: string | null;
  rfc_message_id: string | null;
  attempts: string;
  error: string | null;
}

export async function messageRow(messageId: string): Promise<MessageRowLike | null> {
  return env.DB.prepare("SELECT * FROM email_messages WHERE message_id = ?").bind(messageId).first<MessageRowLike>();
}

export async function messageCount(): Promise<number> {
  return (await env.DB.prepare("SELECT COUNT(*) AS n FROM email_messages").first<{ n: number }>())?.n ?? 0;
}
