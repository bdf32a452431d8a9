/**
 * Who decided an approval is recorded as who really did: an API decision is the credential
 * (`jwt:alice`, `api_key:key_…`, `admin_key:admin`), whatever `approver_email` the caller sends;
 * a link decision is the address the link was mailed to. The approval view and the signed
 * callback both say so.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ADMIN_KEY, call, json, mintToken, problem } from "../helpers/api";
import { base, createApproval, getApproval, spyMail } from "../helpers/approvals";
import { createKey } from "../helpers/auth";
import { linkToken } from "../helpers/tokens";

afterEach(() => vi.restoreAllMocks());

const respond = (id: string) => `/api/v2/email/approval/${id}/respond`;

/** Captures callback POSTs to hooks.example.com (answered 204); any other outbound request fails the test. */
function captureCallbacks(): { body: string; signature: string | null }[] {
  const received: { body: string; signature: string | null }[] = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const req = new Request(input, init);
    if (!req.url.startsWith("https://hooks.example.com/")) throw new Error(`unexpected outbound request to ${req.url}`);
    received.push({ body: await req.text(), signature: req.headers.get("x-signature") });
    return new Response(null, { status: 204 });
  });
  return received;
}

describe("deciding through the API records the credential", () => {
  it("a JWT: decided_by jwt:<sub>, not the approver_email it claims, in the view and in the callback", async () => {
    spyMail();
    const callbacks = captureCallbacks();
    const { approval_id } = await createApproval(base({ agent_id: "decider-agent", callback_url: "https://hooks.example.com/decided" }));
    const token = await mintToken({ sub: "alice", role: "developer" });
    const res = await call(respond(approval_id), { token, body: { action: "approve", approver_email: "boss@example.com" } });
    expect(res.status).toBe(200);
    const expected = {
      status: "approved",
      decided_via: "api",
      decided_by: "jwt:alice",
      approved_by: "jwt:alice",
      decider: { kind: "jwt", id: "alice" },
    };
    expect(await json(res)).toMatchObject(expected);
    expect(await getApproval(approval_id)).toMatchObject({ ...expected, approver_email: "Boss@Example.com" });
    await vi.waitFor(() => expect(callbacks.length).toBe(1), { timeout: 10_000 });
    expect(JSON.parse(callbacks[0]!.body)).toMatchObject({
      approval_id,
      status: "approved",
      decided_via: "api",
      decided_by: "jwt:alice",
      approved_by: "jwt:alice",
      decider: { kind: "jwt", id: "alice" },
    });
    expect(callbacks[0]!.signature).toMatch(/^sha256=[0-9a-f]{64}$/);
  });

  it("the approver_email a bearer caller sends is not what gets recorded", async () => {
    spyMail();
    const { approval_id } = await createApproval(base({ agent_id: "decider-agent" }));
    const token = await mintToken({ sub: "mallory", role: "developer" });
    const res = await call(respond(approval_id), {
      token,
      body: { action: "reject", approver_email: "boss@example.com", reason: "pretending" },
    });
    expect(await json(res)).toMatchObject({
      status: "rejected",
      decided_by: "jwt:mallory",
      approved_by: null,
      decider: { kind: "jwt", id: "mallory" },
    });
    // Without approver_email at all, a bearer decision works the same.
    const other = await createApproval(base({ agent_id: "decider-agent" }));
    expect(await json(await call(respond(other.approval_id), { token, body: { action: "approve" } }))).toMatchObject({
      decided_by: "jwt:mallory",
    });
  });

  it("an API key: api_key:<key_id>; the admin key: admin_key:admin", async () => {
    spyMail();
    const key = await createKey({ name: "approver bot", role: "developer" });
    const one = await createApproval(base({ agent_id: "decider-agent" }));
    const byKey = await call(respond(one.approval_id), { token: null, headers: { "X-API-Key": key.key }, body: { action: "approve" } });
    expect(await json(byKey)).toMatchObject({ decided_by: `api_key:${key.key_id}`, decider: { kind: "api_key", id: key.key_id } });
    const two = await createApproval(base({ agent_id: "decider-agent" }));
    const byAdmin = await call(respond(two.approval_id), { token: ADMIN_KEY, body: { action: "approve" } });
    expect(await json(byAdmin)).toMatchObject({ decided_by: "admin_key:admin", decider: { kind: "admin_key", id: "admin" } });
  });
});

describe("deciding with a link token through respond", () => {
  it("is recorded as the address the link was mailed to; approver_email, if given, must be that address", async () => {
    spyMail();
    const { approval_id } = await createApproval(base({ agent_id: "decider-agent" }));
    const token = await linkToken({ approvalId: approval_id, action: "approve", to: "Boss@Example.com" });
    const before = await getApproval(approval_id);
    await problem(
      await call(`${respond(approval_id)}?token=${token}`, {
        token: null,
        body: { action: "approve", approver_email: "intern@example.com" },
      }),
      403,
    );
    expect(await getApproval(approval_id)).toEqual(before);
    const res = await call(`${respond(approval_id)}?token=${token}`, {
      token: null,
      body: { action: "approve", approver_email: "boss@EXAMPLE.com" },
    });
    expect(await json(res)).toMatchObject({
      status: "approved",
      decided_via: "link",
      decided_by: "Boss@Example.com",
      approved_by: "Boss@Example.com",
      decider: { kind: "email", id: "Boss@Example.com" },
    });
  });

  it("a link mailed to an address that may not decide is refused (403), nothing changes", async () => {
    spyMail();
    const { approval_id } = await createApproval(base({ agent_id: "decider-agent" }));
    // Validly signed for this approval, but for someone who is not a responder.
    const token = await linkToken({ approvalId: approval_id, action: "approve", to: "intern@example.com" });
    const before = await getApproval(approval_id);
    // Naming the approver does not make the link the approver's.
    await problem(
      await call(`${respond(approval_id)}?token=${token}`, {
        token: null,
        body: { action: "approve", approver_email: "boss@example.com" },
      }),
      403,
    );
    await problem(await call(`${respond(approval_id)}?token=${token}`, { token: null, body: { action: "approve" } }), 403);
    expect(await getApproval(approval_id)).toEqual(before);
    expect(
      (await env.DB.prepare("SELECT status FROM approval_index WHERE approval_id = ?").bind(approval_id).first<{ status: string }>())!
        .status,
    ).toBe("pending");
  });
});
