/**
 * The self-hosted server (`npm start`, docs/self-hosting.md): the exact start command with every
 * store under a temporary DATA_DIR. Three runs of one server on one folder:
 * 1. fresh: migrations applied, /health says self-hosted; state, a task, an API key and two
 *    approvals are written; their mail reaches the test's SMTP server on loopback (opened with
 *    OUTBOUND_PRIVATE_NETWORKS); the inbound mail route refuses posts without its token, and a reply
 *    to one approval's mail posted with the token decides it; a task is queued and a request is
 *    still uploading when SIGTERM arrives: the request finishes, the server exits 0.
 * 2. after SIGTERM: everything reads back, the task accepted before the stop completes; more writes
 *    and a task accepted right before a SIGKILL of the whole process group.
 * 3. after SIGKILL: the acknowledged writes read back and that task completes too; a stop with an
 *    event stream still open ends after SHUTDOWN_GRACE_SECONDS, exit 0.
 */
import { request } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { simpleParser, type ParsedMail } from "mailparser";
import { SMTPServer } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { client, eventually, type Client } from "./helpers/http";
import { buildSelfHost, randomSecret, startSelfHost, type SelfHostServer } from "./helpers/selfhost-server";

const AGENT = "selfhost-agent";
const APPROVER = "boss@example.com";
const dataDir = mkdtempSync(join(tmpdir(), "selfhost-e2e-"));
const adminKey = `dmsa_${randomSecret()}`;
const inboundToken = randomSecret();
const jwtSecret = randomSecret() + randomSecret();
let smtpPort: number;
let smtp: SMTPServer;
/** Every mail the server sent, as the test's SMTP server on loopback received it. */
const inbox: ParsedMail[] = [];
let server: SelfHostServer | undefined;
let api: Client;

function settings(): Record<string, string> {
  return {
    JWT_SECRET: jwtSecret,
    ADMIN_API_KEY: adminKey,
    INBOUND_MAIL_TOKEN: inboundToken,
    EMAIL_PROVIDERS: "cloudflare,smtp",
    EMAIL_FROM: "agent@selfhost.test",
    SMTP_HOST: "127.0.0.1",
    SMTP_PORT: String(smtpPort),
    SMTP_SECURITY: "none",
    // The test's SMTP server is on loopback, which the runtime reaches only when opened.
    OUTBOUND_PRIVATE_NETWORKS: "127.0.0.1/32",
    LOG_LEVEL: "warn",
    SHUTDOWN_GRACE_SECONDS: "3",
  };
}

async function start(): Promise<SelfHostServer> {
  server = await startSelfHost({ dataDir, env: settings() });
  api = client(server.baseUrl, adminKey);
  return server;
}

async function taskStatus(taskId: string): Promise<string | undefined> {
  return (await api.get(`/api/v2/tasks/${taskId}`)).body?.status;
}

/** An approval, its mail sent over SMTP to the test's server; its id and that mail. */
async function createApproval(title: string): Promise<{ id: string; mail: ParsedMail }> {
  const created = await api.post("/api/v2/email/approval", { agent_id: AGENT, title, description: `${title}?`, approver_email: APPROVER });
  expect(created.status, created.text).toBe(201);
  expect(created.body.email.status, JSON.stringify(created.body.email)).toBe("sent");
  expect(await eventually(async () => inbox.some((m) => m.subject?.includes(title)), 15_000)).toBe(true);
  return { id: created.body.approval_id as string, mail: inbox.find((m) => m.subject?.includes(title))! };
}

function rawReply(to: string, inReplyTo: string, body: string): string {
  return [
    `From: Boss <${APPROVER}>`,
    `To: ${to}`,
    "Subject: Re: approval",
    `Message-ID: <${crypto.randomUUID()}@example.com>`,
    `In-Reply-To: ${inReplyTo}`,
    `References: ${inReplyTo}`,
    "Content-Type: text/plain; charset=utf-8",
    "",
    body,
  ].join("\r\n");
}

function postMail(raw: string, token?: string): Promise<Response> {
  return fetch(`${server!.baseUrl}/api/v2/email/inbound`, {
    method: "POST",
    headers: { "Content-Type": "message/rfc822", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: raw,
  });
}

/** A state save whose body is sent in two halves; `between` runs after the first half reached the server. */
function slowSave(body: string, between: () => Promise<void>): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${server!.baseUrl}/api/v2/agents/${AGENT}/state`, {
      method: "POST",
      headers: { Authorization: `Bearer ${adminKey}`, "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) },
    });
    req.on("response", (res) => {
      let text = "";
      res.on("data", (c) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", reject);
    const half = Math.floor(body.length / 2);
    req.write(body.slice(0, half));
    between().then(() => req.end(body.slice(half)), reject);
  });
}

/**
 * Two tasks of the agent's one lane: `holder` runs (a long delay that reports progress every
 * 250 ms, with a 3 s watchdog), so `queued` waits in the agent's backlog, accepted but not started.
 */
async function holderAndQueued(): Promise<{ holder: string; queued: string }> {
  const holder = await api.post(`/api/v2/agents/${AGENT}/tasks`, { task_type: "delay", metadata: { seconds: 120 }, timeout_seconds: 3 });
  expect(holder.status, holder.text).toBe(202);
  expect(await eventually(async () => (await taskStatus(holder.body.task_id)) === "running", 30_000)).toBe(true);
  const queued = await api.post(`/api/v2/agents/${AGENT}/tasks`, { task_type: "noop" });
  expect(queued.status).toBe(202);
  expect(await taskStatus(queued.body.task_id)).toBe("pending");
  return { holder: holder.body.task_id, queued: queued.body.task_id };
}

/**
 * After the restart: the task that was running when the process stopped is failed by its watchdog
 * (no progress for its timeout; it is not re-run), which frees the lane, and the queued task runs.
 */
async function expectHolderTimedOutAndQueuedCompleted(holder: string, queued: string): Promise<void> {
  expect(await eventually(async () => (await taskStatus(queued)) === "completed", 60_000)).toBe(true);
  expect((await api.get(`/api/v2/tasks/${queued}`)).body).toMatchObject({ status: "completed", result: { ok: true } });
  expect((await api.get(`/api/v2/tasks/${holder}`)).body).toMatchObject({
    status: "failed",
    error_message: expect.stringContaining("Timed out"),
  });
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  buildSelfHost();
  smtp = new SMTPServer({
    logger: false,
    authOptional: true,
    disableReverseLookup: true,
    onData(stream, _session, callback) {
      simpleParser(stream).then((mail) => (inbox.push(mail), callback()), callback);
    },
  });
  smtpPort = await new Promise<number>((done) => smtp.listen(0, "127.0.0.1", () => done((smtp.server.address() as AddressInfo).port)));
}, 240_000);

afterAll(async () => {
  await server?.dispose();
  await new Promise((done) => smtp.close(() => done(undefined)));
  rmSync(dataDir, { recursive: true, force: true });
});

describe("the self-hosted server keeps everything across restarts", () => {
  const ids = { pending: "", decided: "", noop: "", holder: "", beforeTerm: "", key: "" };

  it("refuses to start, before any port opens, with an OUTBOUND_PRIVATE_NETWORKS entry it cannot read", async () => {
    const bad = { ...settings(), OUTBOUND_PRIVATE_NETWORKS: "127.0.0.1/32,mailpit" };
    await expect(startSelfHost({ dataDir, env: bad })).rejects.toThrow(
      /"selfhost.start_failed".*OUTBOUND_PRIVATE_NETWORKS: .*mailpit.* is not .*private.*local.* or a CIDR range/,
    );
  });

  it("starts on all interfaces with its migrations applied and says it is self-hosted", async () => {
    const s = await start();
    expect(s.ready).toMatchObject({ event: "selfhost.ready", host: "0.0.0.0", port: s.port });
    expect(s.output()).toContain('"selfhost.migrated"');
    const health = await api.get("/health");
    expect(health.status).toBe(200);
    expect(health.body.features).toMatchObject({ persistent_state: true, long_running_tasks: true, self_hosting: true });
    expect(health.body.checks.runtime.detail).toContain("self-hosted");
    // The test's SMTP server on loopback is reachable because OUTBOUND_PRIVATE_NETWORKS opens it.
    expect(health.body.features.email_integration).toBe(true);
    expect(health.body.checks.email.detail).toContain("sends through smtp");
    expect(health.body.checks.runtime.detail).toContain("public addresses and to 127.0.0.1/32");
    expect(health.body.checks.email.detail).toContain("cloudflare not configured (the EMAIL send_email binding is missing)");
    expect(health.body.checks.rate_limit.ok).toBe(true);
    // The static assets (dist/client/) are served, and only /assets/* is looked up among them.
    const asset = await fetch(`${s.baseUrl}/assets/call-page.js`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("content-type")).toContain("javascript");
    // The one-time migration route of the start-up pass does not exist on the public port.
    expect((await fetch(`${s.baseUrl}/__selfhost/migrate`, { method: "POST" })).status).toBe(404);
  });

  it("writes state, a task, an API key and approvals whose mail leaves over SMTP; a reply posted to the inbound route decides one, a post without its token is refused", async () => {
    expect((await api.post(`/api/v2/agents/${AGENT}/state`, { state_data: { step: 1 }, agent_type: "analytics" })).status).toBe(200);
    const noop = await api.post(`/api/v2/agents/${AGENT}/tasks`, { task_type: "noop" });
    expect(noop.status).toBe(202);
    ids.noop = noop.body.task_id;
    expect(await eventually(async () => (await taskStatus(ids.noop)) === "completed", 30_000)).toBe(true);
    const key = await api.post("/api/v2/auth/api-keys", { name: "selfhost", role: "guest" });
    expect(key.status, key.text).toBe(201);
    ids.key = key.body.key_id;

    ids.pending = (await createApproval("Deploy v2")).id;
    const { id: decided, mail } = await createApproval("Rotate keys");
    ids.decided = decided;
    const replyTo = mail.replyTo!.value[0]!.address!;

    const forgedAddress = `approvals+${ids.pending}.0000000000000000@selfhost.test`;
    const reply = rawReply(forgedAddress, "<approval@selfhost.test>", "APPROVE\r\nfine by me");
    expect((await postMail(reply)).status).toBe(401);
    expect((await postMail(reply, "wrong-token")).status).toBe(401);
    expect((await postMail(reply, jwtSecret)).status).toBe(401);
    // With the token, the reply reader runs and refuses an address it did not sign.
    const read = await postMail(reply, inboundToken);
    expect(read.status).toBe(422);
    expect(await read.json()).toMatchObject({ reason: "Unknown recipient" });
    expect((await api.get(`/api/v2/email/approval/${ids.pending}`)).body.status).toBe("pending");

    // The approver's reply to the mail they received, as an MTA would hand it over.
    const real = rawReply(replyTo, mail.messageId!, "APPROVE\r\nfine by me");
    expect((await postMail(real)).status).toBe(401);
    expect((await api.get(`/api/v2/email/approval/${ids.decided}`)).body.status).toBe("pending");
    const answered = await postMail(real, inboundToken);
    expect(answered.status).toBe(200);
    expect(await answered.json()).toMatchObject({ outcome: "answered", reply: { sent: true, provider: "smtp" } });
    expect((await api.get(`/api/v2/email/approval/${ids.decided}`)).body).toMatchObject({
      status: "approved",
      decided_via: "email",
      decided_by: APPROVER,
    });
  });

  it("on SIGTERM finishes the request in flight and exits 0; a task queued just before runs to completed after the restart", async () => {
    const { holder, queued } = await holderAndQueued();
    ids.holder = holder;
    ids.beforeTerm = queued;
    let exit: Promise<number | null> | undefined;
    const saved = await slowSave(JSON.stringify({ state_data: { step: 2, note: "x".repeat(20_000) } }), async () => {
      await pause(500);
      exit = server!.terminate("SIGTERM");
      await pause(500);
    });
    expect(saved.status, saved.text).toBe(200);
    expect(JSON.parse(saved.text)).toMatchObject({ version: 2 });
    expect(await exit).toBe(0);
    expect(server!.output()).toContain('"selfhost.stopped","exit_code":0');

    await start();
    const state = await api.get(`/api/v2/agents/${AGENT}/state`);
    expect(state.body).toMatchObject({ version: 2, state_data: { step: 2 } });
    expect((await api.get(`/api/v2/agents/${AGENT}/state?consistency=eventual`)).status).toBe(200);
    expect((await api.get(`/api/v2/agents/${AGENT}/state/versions`)).body.versions).toHaveLength(2);
    expect((await api.get(`/api/v2/tasks/${ids.noop}`)).body).toMatchObject({ status: "completed", result: { ok: true } });
    await expectHolderTimedOutAndQueuedCompleted(ids.holder, ids.beforeTerm);
    expect((await api.get(`/api/v2/email/approval/${ids.pending}`)).body).toMatchObject({ status: "pending" });
    expect((await api.get(`/api/v2/email/approval/${ids.decided}`)).body).toMatchObject({ status: "approved" });
    expect(JSON.stringify((await api.get("/api/v2/auth/api-keys")).body)).toContain(ids.key);
    const agents = await api.get("/api/v2/agents");
    expect(JSON.stringify(agents.body)).toContain(AGENT);
  });

  it("after a SIGKILL of the whole process group keeps every acknowledged write and still runs the task accepted before it", async () => {
    const { holder, queued } = await holderAndQueued();
    expect((await api.post(`/api/v2/agents/${AGENT}/state`, { state_data: { step: 3 } })).body).toMatchObject({ version: 3 });
    await server!.kill();

    await start();
    expect((await api.get(`/api/v2/agents/${AGENT}/state`)).body).toMatchObject({ version: 3, state_data: { step: 3 } });
    await expectHolderTimedOutAndQueuedCompleted(holder, queued);
    expect((await api.get(`/api/v2/tasks/${ids.beforeTerm}`)).body.status).toBe("completed");
    expect((await api.get(`/api/v2/email/approval/${ids.pending}`)).body.status).toBe("pending");
  });

  it("a stop does not wait for an open event stream longer than SHUTDOWN_GRACE_SECONDS", async () => {
    // An external task (run by a worker outside the server) stays pending: its stream stays open.
    const external = await api.post(`/api/v2/agents/${AGENT}/tasks`, { task_type: "render_video" });
    expect(external.status, external.text).toBe(202);
    const stream = await fetch(`${server!.baseUrl}/api/v2/tasks/${external.body.task_id}/events`, {
      headers: { Authorization: `Bearer ${adminKey}` },
    });
    expect(stream.headers.get("content-type")).toContain("text/event-stream");
    const reader = stream.body!.getReader();
    await reader.read();
    expect(await server!.terminate()).toBe(0);
    expect(server!.output()).toContain('"selfhost.stop_forced"');
    await reader.cancel().catch(() => undefined);
    server = undefined;
  });
});
