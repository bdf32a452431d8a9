/**
 * The outbound policy under `wrangler dev`, where a Worker's fetch reaches the machine's loopback
 * and private networks: the server allows one loopback fixture (`OUTBOUND_ALLOW_HOSTS=localhost:PORT`,
 * a Node HTTP server this test starts on 127.0.0.1), and a redirect from it to another spelling of
 * the same address (`http://127.0.0.1:PORT/…`) is refused at the hop, for `http_request` tasks and
 * for approval callbacks. Nothing here talks to anything but that fixture and the server.
 */
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { client, eventually, mintJwt, type Client } from "./helpers/http";
import { freePort, startLocalServer, type LocalServer } from "./helpers/local-server";

const AGENT = "outbound-e2e";

let fixture: Server;
let port: number;
/** Every request the fixture got: "METHOD /path". */
const seen: string[] = [];
let server: LocalServer | undefined;
let api: Client;

/** The fixture: a page, redirects to it (relative) and to its 127.0.0.1 spelling, and two hooks. */
function startFixture(listenPort: number): Promise<Server> {
  const s = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    req.resume();
    const go = (status: number, location: string) => res.writeHead(status, { location }).end();
    switch (req.url) {
      case "/hello":
        res.writeHead(200, { "content-type": "text/plain" }).end("hello from the fixture");
        return;
      case "/to-hello":
        return go(302, "/hello");
      case "/to-loopback":
        return go(302, `http://127.0.0.1:${listenPort}/secret`);
      case "/hook":
        res.writeHead(204).end();
        return;
      case "/hook-redirect":
        return go(307, `http://127.0.0.1:${listenPort}/hook-secret`);
      default:
        res.writeHead(200).end("secret");
    }
  });
  return new Promise((done, fail) => {
    s.once("error", fail);
    s.listen(listenPort, "127.0.0.1", () => done(s));
  });
}

beforeAll(async () => {
  port = await freePort();
  fixture = await startFixture(port);
  server = await startLocalServer({ vars: { OUTBOUND_ALLOW_HOSTS: `localhost:${port}` } });
  api = client(server.baseUrl, await mintJwt(server.jwtSecret, { sub: "outbound-e2e", role: "admin" }));
});

afterAll(async () => {
  await server?.dispose();
  await new Promise((done) => fixture?.close(done));
});

async function finishedTask(taskId: string): Promise<Record<string, unknown>> {
  let task: Record<string, unknown> = {};
  const ok = await eventually(async () => {
    task = (await api.get(`/api/v2/tasks/${taskId}`)).body;
    return task.status === "completed" || task.status === "failed";
  }, 30_000);
  if (!ok) throw new Error(`task ${taskId} did not finish: ${JSON.stringify(task)}\n${server?.log().slice(-3000)}`);
  return task;
}

async function runTask(url: string): Promise<Record<string, unknown>> {
  const created = await api.post(`/api/v2/agents/${AGENT}/tasks`, { task_type: "http_request", metadata: { url }, max_attempts: 3 });
  expect(created.status, created.text).toBe(202);
  return finishedTask(created.body.task_id as string);
}

describe("http_request under wrangler dev", () => {
  it("reaches the allow-listed fixture, following a relative redirect", async () => {
    expect(await runTask(`http://localhost:${port}/to-hello`)).toMatchObject({
      status: "completed",
      result: { status: 200, body_excerpt: "hello from the fixture" },
    });
    expect(seen).toContain("GET /hello");
  });

  it("refuses the redirect to 127.0.0.1 at the hop: the task fails once, nothing is fetched there", async () => {
    const task = await runTask(`http://localhost:${port}/to-loopback`);
    expect(task).toMatchObject({ status: "failed", attempts: 1, result: null });
    expect(task.error_message).toContain(`redirect 1 to http://127.0.0.1:${port} is refused by the outbound policy (loopback)`);
    expect(seen).toContain("GET /to-loopback");
    expect(seen).not.toContain("GET /secret");
  });

  it("refuses other spellings of the fixture's address at creation (the allow-list is exact): 422, nothing stored", async () => {
    const before = (await api.get(`/api/v2/agents/${AGENT}/tasks?limit=100`)).body.tasks.length as number;
    for (const url of [`http://127.1:${port}/secret`, `http://[::ffff:127.0.0.1]:${port}/secret`, `http://localhost:${port + 1}/secret`]) {
      const res = await api.post(`/api/v2/agents/${AGENT}/tasks`, { task_type: "http_request", metadata: { url } });
      expect(res.status, url).toBe(422);
      expect(res.body.errors).toEqual([
        { path: "metadata.url", message: expect.stringContaining("refused by the outbound policy (loopback)") },
      ]);
    }
    expect((await api.get(`/api/v2/agents/${AGENT}/tasks?limit=100`)).body.tasks).toHaveLength(before);
    expect(seen).not.toContain("GET /secret");
  });
});

describe("approval callbacks under wrangler dev", () => {
  async function decidedCallback(callbackUrl: string): Promise<Record<string, unknown>> {
    const created = await api.post("/api/v2/email/approval", {
      agent_id: AGENT,
      title: "Outbound check",
      description: "callback target",
      approver_email: "boss@example.com",
      callback_url: callbackUrl,
    });
    expect(created.status, created.text).toBe(201);
    const id = created.body.approval_id as string;
    const decided = await api.post(`/api/v2/email/approval/${id}/respond`, { action: "approve", approver_email: "boss@example.com" });
    expect(decided.status, decided.text).toBe(200);
    let callback: Record<string, unknown> = {};
    const ok = await eventually(async () => {
      callback = (await api.get(`/api/v2/email/approval/${id}`)).body.callback;
      return callback.status !== "pending";
    }, 30_000);
    if (!ok) throw new Error(`callback still pending: ${JSON.stringify(callback)}`);
    return callback;
  }

  it("delivers to the allow-listed fixture", async () => {
    expect(await decidedCallback(`http://localhost:${port}/hook`)).toMatchObject({ status: "delivered", attempts: 1 });
    expect(seen).toContain("POST /hook");
  });

  it("does not follow the fixture's redirect to 127.0.0.1: refused, never retried, never delivered", async () => {
    expect(await decidedCallback(`http://localhost:${port}/hook-redirect`)).toMatchObject({ status: "refused", attempts: 1 });
    expect(seen).toContain("POST /hook-redirect");
    expect(seen.filter((s) => s.endsWith("/hook-secret"))).toEqual([]);
  });

  it("refuses a callback_url of another spelling at creation: 422", async () => {
    const res = await api.post("/api/v2/email/approval", {
      agent_id: AGENT,
      title: "Outbound check",
      description: "refused target",
      approver_email: "boss@example.com",
      callback_url: `http://2130706433:${port}/hook`,
    });
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual([
      { path: "callback_url", message: expect.stringContaining("refused by the outbound policy (loopback)") },
    ]);
  });
});
