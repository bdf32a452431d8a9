/**
 * The outbound policy through the Worker: a refused `http_request` URL or approval `callback_url`
 * is a 422 naming the rule with nothing stored, and a callback is never sent to a URL the policy
 * refuses at delivery time (allow-list changed, or a redirect). fetch is replaced in the callback
 * tests and answers everything itself: no request leaves the process.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { call, callWith, json, problem } from "../helpers/api";
import { base, getApproval, spyMail } from "../helpers/approvals";
import { listTasks } from "../helpers/tasks";

afterEach(() => {
  vi.restoreAllMocks();
});

/** The loopback address as clients spell it; the URL parser makes 127.0.0.1 or ::1 of each. */
const LOOPBACK_SPELLINGS = [
  "http://127.1:8787/",
  "http://2130706433:8787/",
  "http://[::1]:8787/",
  "http://[::ffff:127.0.0.1]:8787/",
  "http://localhost:8787/",
];

async function approvalRows(agentId: string): Promise<number> {
  const row = await env.DB.prepare("SELECT count(*) AS n FROM approval_index WHERE agent_id = ?").bind(agentId).first<{ n: number }>();
  return row!.n;
}

describe("http_request task creation", () => {
  it.each(LOOPBACK_SPELLINGS)("%s → 422 naming the rule, nothing stored", async (url) => {
    const agent = "ssrf-task";
    const res = await call(`/api/v2/agents/${agent}/tasks`, {
      body: { task_type: "http_request", metadata: { url: `${url}api/v2/agents` } },
    });
    const doc = await problem(res, 422);
    expect(doc.code).toBe("validation_failed");
    expect(doc.errors).toEqual([
      { path: "metadata.url", message: expect.stringMatching(/^refused by the outbound policy \(loopback\): /) },
    ]);
    expect((await listTasks(agent)).tasks).toEqual([]);
  });

  it("the cloud metadata address and a private network are refused by name", async () => {
    for (const [url, rule] of [
      ["http://169.254.169.254/latest/meta-data/", "link_local"],
      ["http://192.168.1.1/admin", "private"],
    ]) {
      const doc = await problem(
        await call("/api/v2/agents/ssrf-task-2/tasks", { body: { task_type: "http_request", metadata: { url } } }),
        422,
      );
      expect(JSON.stringify(doc.errors)).toContain(`refused by the outbound policy (${rule})`);
    }
    expect((await listTasks("ssrf-task-2")).tasks).toEqual([]);
  });

  it("an allow-listed host is accepted (OUTBOUND_ALLOW_HOSTS)", async () => {
    vi.spyOn(globalThis, "fetch").mockImplementation(async () => new Response("ok"));
    const res = await callWith({ OUTBOUND_ALLOW_HOSTS: "localhost:8787" }, "/api/v2/agents/ssrf-task-3/tasks", {
      body: { task_type: "http_request", metadata: { url: "http://localhost:8787/health" } },
    });
    expect(res.status).toBe(202);
  });
});

describe("approval callback_url", () => {
  it.each(LOOPBACK_SPELLINGS)("%s → 422 naming the rule, nothing stored, no mail", async (url) => {
    const mail = spyMail();
    const agent = "ssrf-approval";
    const res = await call("/api/v2/email/approval", { body: base({ agent_id: agent, callback_url: `${url}hook` }) });
    const doc = await problem(res, 422);
    expect(doc.code).toBe("validation_failed");
    expect(doc.errors).toEqual([
      { path: "callback_url", message: expect.stringMatching(/^refused by the outbound policy \(loopback\): /) },
    ]);
    expect(await approvalRows(agent)).toBe(0);
    expect(mail).not.toHaveBeenCalled();
  });

  it("credentials in the URL are refused (userinfo)", async () => {
    spyMail();
    const doc = await problem(
      await call("/api/v2/email/approval", {
        body: base({ agent_id: "ssrf-approval-2", callback_url: "https://user:secret@hooks.example.com/cb" }),
      }),
      422,
    );
    expect(JSON.stringify(doc.errors)).toContain("refused by the outbound policy (userinfo)");
    expect(await approvalRows("ssrf-approval-2")).toBe(0);
  });
});

describe("callback delivery", () => {
  /** Answers every request here and records its URL: nothing reaches a network. */
  function fakeNetwork(answer: (url: string) => Response): string[] {
    const urls: string[] = [];
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const url = new Request(input as RequestInfo, init).url;
      urls.push(url);
      return answer(url);
    });
    return urls;
  }

  async function approve(approvalId: string): Promise<void> {
    const res = await call(`/api/v2/email/approval/${approvalId}/respond`, {
      body: { action: "approve", approver_email: "boss@example.com" },
    });
    expect(res.status).toBe(200);
  }

  it("is not sent to a URL the allow-list no longer covers: refused once, never retried", async () => {
    spyMail();
    const agent = "ssrf-cb-allow";
    // Created while the allow-list covered it; the Durable Object delivers under the deployment's (empty) list.
    const created = await callWith({ OUTBOUND_ALLOW_HOSTS: "127.0.0.1:8787" }, "/api/v2/email/approval", {
      body: base({ agent_id: agent, callback_url: "http://127.0.0.1:8787/hook" }),
    });
    expect(created.status).toBe(201);
    const { approval_id } = await json<{ approval_id: string }>(created);
    const urls = fakeNetwork(() => new Response(null, { status: 204 }));
    await approve(approval_id);
    await vi.waitFor(
      async () =>
        expect((await getApproval(approval_id)).callback).toEqual({ url: "http://127.0.0.1:8787/hook", status: "refused", attempts: 1 }),
      {
        timeout: 10_000,
      },
    );
    expect(urls.filter((u) => u.startsWith("http://127.0.0.1"))).toEqual([]);
  });

  it("does not follow a redirect to a refused address", async () => {
    spyMail();
    const agent = "ssrf-cb-redirect";
    const urls = fakeNetwork((url) =>
      url.startsWith("https://hooks.example.com/")
        ? new Response(null, { status: 307, headers: { location: "http://169.254.169.254/latest/meta-data/" } })
        : new Response("secret"),
    );
    const created = await call("/api/v2/email/approval", { body: base({ agent_id: agent, callback_url: "https://hooks.example.com/cb" }) });
    expect(created.status).toBe(201);
    const { approval_id } = await json<{ approval_id: string }>(created);
    await approve(approval_id);
    await vi.waitFor(async () => expect((await getApproval(approval_id)).callback).toMatchObject({ status: "refused", attempts: 1 }), {
      timeout: 10_000,
    });
    expect(urls.filter((u) => !u.startsWith("https://hooks.example.com/"))).toEqual([]);
    expect(urls).toEqual(["https://hooks.example.com/cb"]);
  });
});
