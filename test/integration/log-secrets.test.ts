/**
 * The log lines (docs/monitoring.md#log-lines): every route family is driven with known secrets
 * (signing secrets, JWTs, API keys, link and join tokens, the metrics token, wrong credentials, a
 * mail body, a state body), every line written to the console is captured, Durable Objects'
 * lines included (they run in this isolate), and none may contain any of them. The events the
 * docs list appear, with the request id that caused them.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ADMIN_KEY, JWT_SECRET, call, callWith, json, mintToken } from "../helpers/api";
import { createApproval, sentMails, spyMail } from "../helpers/approvals";
import { signJwt, claims } from "../helpers/auth";
import { addParticipant, createCall, join } from "../helpers/calls";
import { createTask, getTask } from "../helpers/tasks";
import { joinToken, linkToken } from "../helpers/tokens";

const STATE_MARKER = "state-body-marker-7f3a91c2";
const MAIL_MARKER = "mail-body-marker-2b8e44d0";
const METADATA_SECRET = "metadata-header-secret-9d1c55aa";
const METRICS_TOKEN = "metrics-token-in-logs-test-51c0e7";
const MAILGUN_KEY = "mailgun-signing-key-3e6f0b19";

const lines: string[] = [];
/** Every secret the run used; no captured line may contain one. */
const secrets = new Map<string, string>([
  ["JWT_SECRET", JWT_SECRET],
  ["ADMIN_API_KEY", ADMIN_KEY],
  ["state body", STATE_MARKER],
  ["mail body", MAIL_MARKER],
  ["task metadata header", METADATA_SECRET],
  ["METRICS_TOKEN", METRICS_TOKEN],
  ["MAILGUN_WEBHOOK_SIGNING_KEY", MAILGUN_KEY],
]);
const events = () => lines.map((l) => JSON.parse(l) as Record<string, unknown> & { event: string });

async function expectStatus(res: Response | Promise<Response>, status: number): Promise<Response> {
  const r = await res;
  expect(r.status, `${r.url} ${await r.clone().text()}`).toBe(status);
  return r;
}

/** Drives every route family once, with the secrets above (and the ones it makes) in play. */
async function driveEveryRouteFamily(): Promise<void> {
  const admin = await mintToken({ role: "super_admin" });
  secrets.set("super_admin JWT", admin);

  // State: save (a body with a marker), load, versions, restore, delete.
  const agent = "logs-agent";
  await expectStatus(
    call(`/api/v2/agents/${agent}/state`, { body: { state_data: { note: STATE_MARKER } }, headers: { "x-request-id": "req-save" } }),
    200,
  );
  await expectStatus(call(`/api/v2/agents/${agent}/state`, { body: { state_data: { note: `${STATE_MARKER}-2` } } }), 200);
  await expectStatus(call(`/api/v2/agents/${agent}/state`), 200);
  await expectStatus(call(`/api/v2/agents/${agent}/state/versions`), 200);
  await expectStatus(call(`/api/v2/agents/${agent}/state/restore`, { body: { version: 1 } }), 200);

  // Tasks: an external one reported on and cancelled, a queued one run by the consumer, one with a credential in its metadata.
  const external = await createTask(agent, { task_type: "logs_job" }, { "x-request-id": "req-create-external" });
  await expectStatus(call(`/api/v2/tasks/${external}/progress`, { method: "PUT", body: { progress: 10, message: "working" } }), 200);
  await expectStatus(call(`/api/v2/tasks/${external}/cancel`, { method: "POST", headers: { "x-request-id": "req-cancel" } }), 200);
  const queued = await createTask(agent, { task_type: "noop" }, { "x-request-id": "req-create-noop" });
  // A plain wait (expect.poll belongs to tests, and this runs before them).
  for (let i = 0; (await getTask(queued)).status !== "completed"; i++) {
    if (i > 200) throw new Error("the noop task did not complete");
    await new Promise((r) => setTimeout(r, 50));
  }
  // An external type: stored, never run here, so nothing is fetched.
  const withHeader = await createTask(agent, {
    task_type: "logs_job",
    metadata: { url: "https://example.com/hook", headers: { Authorization: `Bearer ${METADATA_SECRET}` } },
  });
  await expectStatus(call(`/api/v2/tasks/${withHeader}/cancel`, { method: "POST" }), 200);

  // Scaling.
  await expectStatus(
    call(`/api/v2/agents/${agent}/scale`, { body: { target_instances: 2 }, headers: { "x-request-id": "req-scale" } }),
    200,
  );
  await expectStatus(call(`/api/v2/agents/${agent}/metrics`), 200);

  // Email: a send whose body carries a marker, and one through a template's variables.
  await expectStatus(
    call("/api/v2/email/send", { body: { to: ["someone@example.com"], subject: "Hi", text: `Body ${MAIL_MARKER}` } }),
    201,
  );
  await expectStatus(
    call("/api/v2/email/send", { body: { to: ["someone@example.com"], subject: "Hi", html: `<p>${MAIL_MARKER}</p>` } }),
    201,
  );

  // Approvals: the mailed link tokens, a decision through one, a forged one.
  const mail = spyMail();
  const first = await createApproval({ agent_id: agent, title: "t", description: "d", approver_email: "boss@example.com" });
  const second = await createApproval({ agent_id: agent, title: "t", description: "d", approver_email: "boss@example.com" });
  const links = sentMails(mail);
  mail.mockRestore();
  for (const l of links) {
    secrets.set("approve link token", new URL(`http://x${l.links.approve}`).searchParams.get("token")!);
    secrets.set("reject link token", new URL(`http://x${l.links.reject}`).searchParams.get("token")!);
  }
  await expectStatus(call(links[0]!.links.approve, { token: null }), 200); // the confirmation page
  await expectStatus(call(links[0]!.links.approve, { method: "POST", token: null, headers: { "x-request-id": "req-approve-link" } }), 200);
  const forged = await linkToken({ approvalId: second.approval_id, action: "approve", secret: "not-the-signing-secret-000000000" });
  secrets.set("forged link token", forged);
  await expectStatus(
    call(`/api/v2/email/approval/${second.approval_id}/respond`, { token: null, body: { action: "approve", token: forged } }),
    403,
  );
  await expectStatus(call(`/api/v2/email/approval/${second.approval_id}/respond`, { body: { action: "reject", reason: "no" } }), 200);
  expect(first.approval_id).not.toBe(second.approval_id);

  // API keys: create, use, revoke, use again.
  const created = await json<{ key_id: string; key: string }>(
    await expectStatus(call("/api/v2/auth/api-keys", { body: { name: "logs", role: "developer" } }), 201),
  );
  secrets.set("API key", created.key);
  await expectStatus(call(`/api/v2/agents/${agent}/state`, { token: created.key }), 200);
  await expectStatus(call(`/api/v2/auth/api-keys/${created.key_id}`, { method: "DELETE" }), 200);
  await expectStatus(call(`/api/v2/agents/${agent}/state`, { token: created.key }), 401);

  // Calls: create, a participant's join token, signalling with it, a forged one, start and end.
  const session = await createCall({ agent_id: agent });
  const participant = await addParticipant(session.call_id, "Ada");
  secrets.set("join token", participant.join_token);
  const peer = await join(session.call_id, participant.join_token);
  await peer.next("roster");
  peer.ws.close(1000, "bye");
  const forgedJoin = await joinToken({
    callId: session.call_id,
    participantId: participant.participant.participant_id,
    secret: "wrong-secret-000000000000000000",
  });
  secrets.set("forged join token", forgedJoin);
  expect(
    (
      await call(`/api/v2/calls/${session.call_id}/ws?token=${encodeURIComponent(forgedJoin)}`, {
        token: null,
        headers: { Upgrade: "websocket" },
      })
    ).status,
  ).not.toBe(101);
  await expectStatus(
    call(`/api/v2/calls/${session.call_id}/start`, { method: "POST", headers: { "x-request-id": "req-call-start" } }),
    200,
  );
  await expectStatus(call(`/api/v2/calls/${session.call_id}/end`, { method: "POST", headers: { "x-request-id": "req-call-end" } }), 200);
  await expectStatus(
    call(`/api/v2/calls/${session.call_id}/transcript`, { method: "DELETE", headers: { "x-request-id": "req-clear" } }),
    200,
  );

  // Speech without a provider: 503, and the text goes nowhere.
  await expectStatus(call("/api/v2/speech", { body: { text: `say ${MAIL_MARKER}` } }), 503);

  // Webhooks: a Mailgun event signed with the wrong key.
  await expectStatus(
    callWith({ MAILGUN_WEBHOOK_SIGNING_KEY: MAILGUN_KEY }, "/api/v2/email/webhooks/mailgun", {
      token: null,
      body: {
        signature: { timestamp: String(Math.floor(Date.now() / 1000)), token: "t".repeat(50), signature: "0".repeat(64) },
        "event-data": {},
      },
    }),
    401,
  );

  // Refused credentials, each a secret of someone's: wrong secret, expired, unknown key, a purpose token, garbage.
  const wrongSecret = await signJwt(claims(), { key: "another-secret-that-is-long-enough-000" });
  const expired = await signJwt(claims({ exp: Math.floor(Date.now() / 1000) - 60 }));
  const unknownKey = "dmsa_unknown_key_c8d2e0f1a4b6";
  for (const [name, bad] of [
    ["JWT signed with another secret", wrongSecret],
    ["expired JWT", expired],
    ["unknown API key", unknownKey],
    ["link token as API credential", links[1]!.links.approve.split("token=")[1]!],
    ["garbage credential", "garbage-credential-5f9e"],
  ] as const) {
    secrets.set(name, decodeURIComponent(bad));
    await expectStatus(
      call(`/api/v2/agents/${agent}/state`, { token: decodeURIComponent(bad), headers: { "x-request-id": "req-refused" } }),
      401,
    );
  }
  await expectStatus(call(`/api/v2/agents/${agent}/state`, { token: null, headers: { "x-api-key": unknownKey } }), 401);

  // /metrics: the right token, a wrong one, an API credential in its place.
  await expectStatus(callWith({ METRICS_TOKEN }, "/metrics", { token: METRICS_TOKEN }), 200);
  secrets.set("wrong metrics token", `${METRICS_TOKEN}-wrong`);
  await expectStatus(callWith({ METRICS_TOKEN }, "/metrics", { token: `${METRICS_TOKEN}-wrong` }), 401);
  await expectStatus(callWith({ METRICS_TOKEN }, "/metrics", { token: admin }), 401);

  // Deleting the agent's state last.
  await expectStatus(call(`/api/v2/agents/${agent}/state`, { method: "DELETE" }), 200);
}

describe("log lines", () => {
  beforeAll(async () => {
    const capture = (...args: unknown[]) => {
      lines.push(args.map(String).join(" "));
    };
    for (const method of ["log", "info", "warn", "error", "debug"] as const) vi.spyOn(console, method).mockImplementation(capture);
    await driveEveryRouteFamily();
  }, 120_000);

  afterAll(() => {
    vi.restoreAllMocks();
  });

  it("are captured from the Worker and from the Durable Objects, one JSON object each", () => {
    const seen = new Set(events().map((e) => e.event));
    // Written in the Worker: state.saved, email.sent, call.*, auth.*; in the agent's Durable Object: task.transition, agent.scaled, approval.decided.
    for (const event of [
      "state.saved",
      "state.restored",
      "state.deleted",
      "task.created",
      "task.transition",
      "agent.scaled",
      "email.sent",
      "approval.created",
      "approval.decided",
      "call.created",
      "call.started",
      "call.ended",
      "call.transcript_cleared",
      "auth.refused",
      "auth.api_key_created",
      "auth.api_key_revoked",
      "email.webhook_refused",
    ]) {
      expect(seen, event).toContain(event);
    }
    for (const e of events()) {
      expect(typeof e.level).toBe("string");
      expect(typeof e.time).toBe("string");
    }
  });

  it("carry no secret, token, key, mail body or state body", () => {
    expect(lines.length).toBeGreaterThan(30);
    for (const [name, secret] of secrets) {
      expect(secret.length, name).toBeGreaterThan(8);
      const leaking = lines.filter((l) => l.includes(secret));
      expect(leaking, `${name} appears in a log line`).toEqual([]);
    }
  });

  it("carry the id of the request that caused them, into the Durable Objects and the queue", () => {
    const all = events();
    expect(all.find((e) => e.event === "state.saved" && e.version === 1)?.request_id).toBe("req-save");
    const transitions = all.filter((e) => e.event === "task.transition");
    // A change made by a request carries that request's id…
    expect(transitions.find((e) => e.to === "cancelled" && e.task_type === "logs_job")?.request_id).toBe("req-cancel");
    expect(transitions.find((e) => e.from === "pending" && e.to === "running" && e.task_type === "logs_job")).toMatchObject({
      request_id: expect.any(String),
    });
    // …and one made by the queue consumer the id of the request that created the task.
    const ran = transitions.filter((e) => e.task_type === "noop");
    expect(ran.map((e) => `${e.from}->${e.to}`)).toEqual(["pending->running", "running->completed"]);
    for (const e of ran) expect(e.request_id).toBe("req-create-noop");
    expect(all.find((e) => e.event === "agent.scaled")).toMatchObject({ request_id: "req-scale", from_instances: 1, to_instances: 2 });
    expect(all.find((e) => e.event === "approval.decided" && e.via === "link")?.request_id).toBe("req-approve-link");
    expect(all.find((e) => e.event === "call.started")?.request_id).toBe("req-call-start");
    expect(all.find((e) => e.event === "call.ended")).toMatchObject({ request_id: "req-call-end", status: "ended" });
    expect(all.find((e) => e.event === "call.transcript_cleared")?.request_id).toBe("req-clear");
    expect(all.filter((e) => e.event === "auth.refused" && e.request_id === "req-refused").length).toBeGreaterThanOrEqual(5);
  });
});
