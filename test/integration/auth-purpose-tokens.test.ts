/**
 * Tokens the server mints for one purpose (approval links, call join tokens) are never API
 * credentials: as `Authorization: Bearer` or `X-API-Key` they are refused with 401 on every API
 * route family, and nothing changes. API JWTs follow an explicit audience rule.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { signLinkToken, signingSecret } from "../../src/approvals/signing";
import { call, mintToken, problem } from "../helpers/api";
import { base, createApproval, getApproval, spyMail } from "../helpers/approvals";
import { callWithEnv, claims, seedState, signJwt, statePath, storedVersion } from "../helpers/auth";
import { addParticipant, createCall } from "../helpers/calls";

afterEach(() => vi.restoreAllMocks());

const AGENT = "purpose-victim";
const TASK = "task_0123456789ab0123456789abcdef0123";
let approvalId: string;
let callId: string;
const tokens: Record<"link" | "join", string> = { link: "", join: "" };

beforeAll(async () => {
  await seedState(AGENT, { secret: "agent data" });
  spyMail();
  const approval = await createApproval(base({ agent_id: AGENT }));
  approvalId = approval.approval_id;
  // Minted as the approval mail's approve link is (the mail itself is tested in approvals-links).
  tokens.link = await signLinkToken(signingSecret(env)!, {
    approvalId,
    action: "approve",
    to: "Boss@Example.com",
    expiresAtMs: Date.parse(approval.expires_at),
  });
  const c = await createCall({ agent_id: AGENT });
  callId = c.call_id;
  tokens.join = (await addParticipant(callId, "alice")).join_token;
});

/** One route per API family (and more than one where a family has several kinds of access). */
function routes(): { family: string; method: string; path: string; body?: unknown }[] {
  return [
    { family: "agents", method: "GET", path: "/api/v2/agents" },
    { family: "state", method: "GET", path: statePath(AGENT) },
    { family: "state", method: "POST", path: statePath(AGENT), body: { state_data: { hacked: true } } },
    { family: "tasks", method: "GET", path: `/api/v2/agents/${AGENT}/tasks` },
    { family: "tasks", method: "GET", path: `/api/v2/tasks/${TASK}` },
    { family: "task events", method: "GET", path: `/api/v2/tasks/${TASK}/events` },
    { family: "scaling", method: "GET", path: `/api/v2/agents/${AGENT}/metrics` },
    { family: "scaling", method: "POST", path: `/api/v2/agents/${AGENT}/scale`, body: { target_instances: 2 } },
    { family: "email", method: "GET", path: "/api/v2/email/messages" },
    { family: "email", method: "POST", path: "/api/v2/email/send", body: { to: ["x@example.com"], subject: "s", text: "t" } },
    { family: "approvals", method: "GET", path: "/api/v2/email/approvals" },
    { family: "approvals", method: "GET", path: `/api/v2/email/approval/${approvalId}` },
    {
      family: "approvals",
      method: "POST",
      path: `/api/v2/email/approval/${approvalId}/respond`,
      body: { action: "approve", approver_email: "boss@example.com" },
    },
    { family: "calls", method: "GET", path: `/api/v2/calls/${callId}` },
    {
      family: "calls",
      method: "POST",
      path: `/api/v2/calls/${callId}/participants`,
      body: { user_id: "u-mallory", display_name: "mallory" },
    },
    { family: "api keys", method: "GET", path: "/api/v2/auth/api-keys" },
    { family: "speech", method: "POST", path: "/api/v2/speech", body: { text: "hello" } },
  ];
}

const AS = {
  "Authorization: Bearer": (token: string) => ({ Authorization: `Bearer ${token}` }),
  "X-API-Key": (token: string) => ({ "X-API-Key": token }),
};

describe("purpose tokens are not API credentials", () => {
  it.each([
    ["link", "Authorization: Bearer"],
    ["link", "X-API-Key"],
    ["join", "Authorization: Bearer"],
    ["join", "X-API-Key"],
  ] as const)("a %s token as %s is 401 on every route family, and nothing changes", async (kind, header) => {
    const messagesBefore = (await env.DB.prepare("SELECT count(*) AS n FROM email_messages").first<{ n: number }>())!.n;
    for (const r of routes()) {
      const res = await call(r.path, { method: r.method, body: r.body, token: null, headers: AS[header](tokens[kind]) });
      const doc = await problem(res, 401).catch((err: Error) => {
        throw new Error(`${r.family}: ${r.method} ${r.path}: ${err.message}`);
      });
      expect(doc.code, r.path).toBe("unauthenticated");
      expect(res.headers.get("www-authenticate"), r.path).toMatch(/^Bearer realm=/);
    }
    expect(await storedVersion(AGENT)).toBe(1);
    expect((await getApproval(approvalId)).status).toBe("pending");
    expect((await env.DB.prepare("SELECT count(*) AS n FROM email_messages").first<{ n: number }>())!.n).toBe(messagesBefore);
  });

  it("the same read routes answer a real credential (so the 401s above are about the token)", async () => {
    const admin = await mintToken({ role: "super_admin" });
    for (const r of routes().filter((x) => x.method === "GET")) {
      expect((await call(r.path, { token: admin })).status, r.path).not.toBe(401);
    }
  });

  it("an HS256 JWT signed with JWT_SECRET is refused when its aud names a purpose, whatever JWT_AUDIENCE says", async () => {
    const forged = [
      await signJwt(claims({ role: "super_admin", aud: "approval-link" })),
      await signJwt(claims({ role: "super_admin", aud: "call-join" })),
      await signJwt(claims({ role: "super_admin", aud: ["datamcpserveragent-api", "approval-link"] })),
    ];
    for (const token of forged) {
      await problem(await call("/api/v2/agents", { token }), 401);
      await problem(await call(statePath(AGENT), { token, body: { state_data: { hacked: true } } }), 401);
      // Even a configuration that names the purpose as the API audience does not make it one.
      await problem(await callWithEnv({ JWT_AUDIENCE: "approval-link" }, "/api/v2/agents", { token }), 401);
      await problem(await callWithEnv({ JWT_AUDIENCE: "call-join" }, "/api/v2/agents", { token }), 401);
    }
    expect(await storedVersion(AGENT)).toBe(1);
  });
});

describe("the API audience rule (JWT_AUDIENCE)", () => {
  const AUD = { JWT_AUDIENCE: "datamcpserveragent-api" };

  it("when set, aud is required and must match", async () => {
    const agent = "purpose-aud";
    await seedState(agent, { v: 1 });
    for (const extra of [{}, { aud: "some-other-api" }, { aud: [] }]) {
      const token = await signJwt(claims({ role: "super_admin", ...extra }));
      await problem(await callWithEnv(AUD, statePath(agent), { token, body: { state_data: { v: 2 } } }), 401);
    }
    expect(await storedVersion(agent)).toBe(1);
    for (const aud of ["datamcpserveragent-api", ["another-api", "datamcpserveragent-api"]]) {
      const token = await signJwt(claims({ role: "user", aud }));
      expect((await callWithEnv(AUD, statePath(agent), { token })).status).toBe(200);
    }
  });

  it("when unset, aud is not checked (other than the purpose audiences)", async () => {
    const token = await signJwt(claims({ role: "guest", aud: "anything-else" }));
    expect((await call("/api/v2/agents", { token })).status).toBe(200);
  });
});
