/**
 * Task metadata is not a secret store: credential headers inside a `headers` object are stored as
 * given (the http_request handler sends them) but shown as "[redacted]" by every read: GET, list,
 * the answers of progress/complete/cancel, SSE, and a gated task's approval data and mail.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { call, json } from "../helpers/api";
import { getApproval, sentMails, spyMail } from "../helpers/approvals";
import { SseReader } from "../helpers/sse";
import { createTask, listTasks, waitForStatus, type Task } from "../helpers/tasks";

afterEach(() => {
  vi.restoreAllMocks();
});

const SECRET = "Bearer s3cr3t-value";
const COOKIE = "session=c00kie-value";
const KEY = "k3y-value";
const SECRETS = [SECRET, COOKIE, KEY, "s3cr3t", "c00kie", "k3y-value"];

/** Metadata with credentials in a top-level and a nested `headers` object. */
const metadata = () => ({
  url: "https://api.example.test/report",
  headers: { Authorization: SECRET, Accept: "application/json", "x-api-key": KEY },
  upstream: { request: { headers: { Cookie: COOKIE, "User-Agent": "renderer/1" } } },
});
const redacted = {
  url: "https://api.example.test/report",
  headers: { Authorization: "[redacted]", Accept: "application/json", "x-api-key": "[redacted]" },
  upstream: { request: { headers: { Cookie: "[redacted]", "User-Agent": "renderer/1" } } },
};

function expectNoSecret(text: string): void {
  for (const s of SECRETS) expect(text).not.toContain(s);
}

describe("credential headers in task metadata", () => {
  it("are stored as given but redacted in GET, list, and the progress/complete answers", async () => {
    const agent = "redact-reads";
    const id = await createTask(agent, { task_type: "render_video", metadata: metadata() });
    const stored = await env.AGENT.getByName(agent).getTask(id);
    expect(JSON.parse(stored!.metadata_json)).toEqual(metadata());

    const got = await call(`/api/v2/tasks/${id}`);
    const gotText = await got.text();
    expectNoSecret(gotText);
    expect((JSON.parse(gotText) as Task).metadata).toEqual(redacted);

    const listed = await call(`/api/v2/agents/${agent}/tasks`);
    const listedText = await listed.text();
    expectNoSecret(listedText);
    expect((JSON.parse(listedText) as { tasks: Task[] }).tasks.find((t) => t.task_id === id)!.metadata).toEqual(redacted);

    const progressed = await call(`/api/v2/tasks/${id}/progress`, { method: "PUT", body: { progress: 10 } });
    expectNoSecret(await progressed.clone().text());
    expect((await json<Task>(progressed)).metadata).toEqual(redacted);
    // A worker's result that echoes its request is redacted too.
    const done = await call(`/api/v2/tasks/${id}/complete`, { body: { result: { sent: { headers: { Authorization: SECRET } } } } });
    const doneText = await done.text();
    expectNoSecret(doneText);
    expect(JSON.parse(doneText)).toMatchObject({ metadata: redacted, result: { sent: { headers: { Authorization: "[redacted]" } } } });
  });

  it("are redacted in the SSE stream's events", async () => {
    const id = await createTask("redact-sse", { task_type: "render_video", metadata: metadata() });
    const sse = new SseReader(await call(`/api/v2/tasks/${id}/events`));
    await sse.next();
    await call(`/api/v2/tasks/${id}/complete`, { body: { result: { sent: { headers: { Authorization: SECRET, "X-API-Key": KEY } } } } });
    const events = [...(await sse.rest())];
    const last = JSON.parse(events.at(-1)!.data) as { status: string; result: unknown };
    expect(last).toMatchObject({
      status: "completed",
      result: { sent: { headers: { Authorization: "[redacted]", "X-API-Key": "[redacted]" } } },
    });
    expectNoSecret(events.map((e) => e.data).join("\n"));
  });

  it("are redacted in a gated task's approval data and approval mail", async () => {
    const spy = spyMail();
    const agent = "redact-approval";
    const id = await createTask(agent, {
      task_type: "render_video",
      metadata: metadata(),
      requires_approval: { approver_email: "boss@example.com" },
    });
    const approvalId = (await env.AGENT.getByName(agent).getTask(id))!.approval_id!;
    const approval = await getApproval(approvalId);
    expectNoSecret(JSON.stringify(approval));
    expect(approval.data).toMatchObject({ task_id: id, metadata: redacted });
    const mail = sentMails(spy)[0]!;
    expect(mail.text).toContain("[redacted]");
    expectNoSecret(mail.text);
    expectNoSecret(JSON.stringify(spy.mock.calls));
  });

  it("reach the target of an http_request task as given", async () => {
    const seen: string[] = [];
    const realFetch = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const req = new Request(input as RequestInfo, init);
      if (req.url !== "https://api.example.test/report") return realFetch(input as RequestInfo, init);
      seen.push(req.headers.get("authorization") ?? "(none)");
      return Response.json({ ok: true });
    });
    const { url, headers } = metadata();
    const id = await createTask("redact-http", { task_type: "http_request", metadata: { url, headers } });
    const done = await waitForStatus(id, ["completed", "failed"]);
    expect(done).toMatchObject({ status: "completed", metadata: { headers: { Authorization: "[redacted]", Accept: "application/json" } } });
    expect(seen).toEqual([SECRET]);
    expect((await listTasks("redact-http")).tasks[0]!.metadata).toMatchObject({ headers: { "x-api-key": "[redacted]" } });
  });
});
