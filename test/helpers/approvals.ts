/** Approval helpers: create through the API, read the mail the `cloudflare` provider sent, age an approval. */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, vi, type MockInstance } from "vitest";
import { call, json } from "./api";

export function spyMail(): MockInstance {
  return vi.spyOn(env.EMAIL, "send");
}

export interface SentMail {
  to: string;
  subject: string;
  text: string;
  replyTo?: string;
  links: { approve: string; reject: string };
}

/** Every builder passed to env.EMAIL.send, with the approve/reject link paths read from the text. */
export function sentMails(spy: MockInstance): SentMail[] {
  return spy.mock.calls.map(([m]) => {
    const b = m as { to: string; subject: string; text: string; replyTo?: string };
    const link = (action: string) => new URL(new RegExp(`https?://\\S+/approve/\\S+\\?action=${action}&token=\\S+`).exec(b.text)![0]);
    const path = (u: URL) => u.pathname + u.search;
    return {
      to: b.to,
      subject: b.subject,
      text: b.text,
      replyTo: b.replyTo,
      links: { approve: path(link("approve")), reject: path(link("reject")) },
    };
  });
}

export async function createApproval(
  body: Record<string, unknown>,
): Promise<{ approval_id: string; expires_at: string; email: { message_id: string | null; status: string } }> {
  const res = await call("/api/v2/email/approval", { body });
  if (res.status !== 201) throw new Error(`create approval: ${res.status} ${await res.text()}`);
  return json(res);
}

export async function getApproval(id: string): Promise<Record<string, unknown> & { status: string; expires_at: string }> {
  const res = await call(`/api/v2/email/approval/${id}`);
  expect(res.status).toBe(200);
  return json(res);
}

/** Moves the approval's deadline (and every callback retry) into the past, as if time had passed. */
export async function makeDue(agentId: string, approvalId: string): Promise<void> {
  await runInDurableObject(env.AGENT.getByName(agentId), (_i, state) => {
    state.storage.sql.exec("UPDATE approvals SET expires_at = ? WHERE approval_id = ? AND status = 'pending'", Date.now() - 1, approvalId);
    state.storage.sql.exec("UPDATE approval_callbacks SET next_at = ? WHERE approval_id = ?", Date.now() - 1, approvalId);
  });
}

export const base = (extra: Record<string, unknown> = {}) => ({
  agent_id: "approver-agent",
  title: "Deploy v2",
  description: "Ship <b>it</b>?",
  approver_email: "Boss@Example.com",
  ...extra,
});

/**
 * The ForwardableEmailMessage the runtime hands to email(), built by hand from a raw mail's
 * headers and body (cloudflare:test has no inbound helper). `reply` and `setReject` are spies.
 */
export function inboundMessage(from: string, to: string, head: Record<string, string>, body: string) {
  const raw = `${Object.entries(head)
    .map(([k, v]) => `${k}: ${v}`)
    .join("\r\n")}\r\n\r\n${body}`;
  const setReject = vi.fn();
  const reply = vi.fn(async () => ({ messageId: "<reply@example.com>" }));
  const msg = {
    from,
    to,
    raw: new Response(raw).body!,
    rawSize: raw.length,
    headers: new Headers(head),
    canBeForwarded: true,
    setReject,
    forward: vi.fn(),
    reply,
  } as unknown as ForwardableEmailMessage;
  return { msg, setReject, reply };
}
