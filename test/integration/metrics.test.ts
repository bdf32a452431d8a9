/**
 * GET /metrics (docs/monitoring.md): who may scrape, the format as a Prometheus parser reads it,
 * per-isolate counters that move with requests, and store figures that equal what the stores hold.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ADMIN_KEY, call, callWith, fetchWithEnv, json, mintToken, problem } from "../helpers/api";
import { createApproval } from "../helpers/approvals";
import { publishTaskRollup, publishedCounts, scrape } from "../helpers/metrics";
import { families, valueOf, type Sample } from "../helpers/prometheus";
import { createTask, listTasks, waitForStatus } from "../helpers/tasks";
import { COUNTS_SQL, HISTOGRAMS_SQL } from "../../src/metrics/store-figures";
import { EXPOSITION_CONTENT_TYPE } from "../../src/metrics/exposition";
import { MAX_INDEX_BYTES } from "../../src/metrics/request-point";

const TOKEN = "metrics-token-for-tests-0123456789";
const STATE_ROUTE = "/api/v2/agents/:agent_id/state";

const v = (all: Sample[], name: string, labels: Record<string, string> = {}) => valueOf(all, name, labels) ?? 0;

describe("who may scrape /metrics", () => {
  it("with METRICS_TOKEN set: only that bearer token; none, a wrong one or an API credential is 401 with a challenge", async () => {
    const refused: { why: string; headers: Record<string, string> }[] = [
      { why: "no credential", headers: {} },
      { why: "a wrong token", headers: { authorization: "Bearer not-the-token" } },
      { why: "an API JWT", headers: { authorization: `Bearer ${await mintToken({ role: "super_admin" })}` } },
      { why: "the admin API key", headers: { authorization: `Bearer ${ADMIN_KEY}` } },
      { why: "the token as X-API-Key", headers: { "x-api-key": TOKEN } },
    ];
    for (const r of refused) {
      const res = await callWith({ METRICS_TOKEN: TOKEN }, "/metrics", { token: null, headers: r.headers });
      expect(res.headers.get("www-authenticate"), r.why).toMatch(/^Bearer realm=/);
      const doc = await problem(res, 401);
      expect(doc.code, r.why).toBe("unauthenticated");
    }
    const ok = await callWith({ METRICS_TOKEN: TOKEN }, "/metrics", { token: TOKEN });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toBe(EXPOSITION_CONTENT_TYPE);
  });

  it("the metrics token is no API credential", async () => {
    const res = await callWith({ METRICS_TOKEN: TOKEN }, "/api/v2/agents", { token: TOKEN });
    expect((await problem(res, 401)).code).toBe("unauthenticated");
  });

  it("without METRICS_TOKEN: an admin credential not limited to agents; anything less is refused", async () => {
    const unset = { METRICS_TOKEN: "" };
    expect((await problem(await callWith(unset, "/metrics", { token: null }), 401)).code).toBe("unauthenticated");
    expect((await problem(await callWith(unset, "/metrics", { token: "garbage.jwt.here" }), 401)).code).toBe("unauthenticated");
    for (const role of ["guest", "user", "developer"] as const) {
      expect((await problem(await callWith(unset, "/metrics", { token: await mintToken({ role }) }), 403)).code, role).toBe("forbidden");
    }
    const limited = await mintToken({ role: "admin", agents: ["only-this"] });
    expect((await problem(await callWith(unset, "/metrics", { token: limited }), 403)).code).toBe("forbidden");
    expect((await callWith(unset, "/metrics", { token: await mintToken({ role: "admin" }) })).status).toBe(200);
    expect((await callWith(unset, "/metrics", { token: ADMIN_KEY })).status).toBe(200);
  });
});

describe("the OpenAPI document", () => {
  it("declares /metrics with its own token scheme (or an admin credential) and the exposition content type", async () => {
    const doc = await json<{
      paths: Record<string, Record<string, { security: unknown; responses: Record<string, { content?: Record<string, unknown> }> }>>;
      components: { securitySchemes: Record<string, { type: string; scheme?: string }> };
    }>(await call("/openapi.json", { token: null }));
    const op = doc.paths["/metrics"]!.get!;
    expect(op.security).toEqual([{ metricsToken: [] }, { bearer: [] }, { apiKey: [] }]);
    expect(doc.components.securitySchemes.metricsToken).toMatchObject({ type: "http", scheme: "bearer" });
    expect(Object.keys(op.responses["200"]!.content!)).toEqual([EXPOSITION_CONTENT_TYPE]);
    expect(Object.keys(op.responses).sort()).toEqual(["200", "401", "403", "429", "503"]);
  });
});

describe("the exposition", () => {
  it("has HELP and TYPE for every family the docs list, as the parser reads them", async () => {
    const { text } = await scrape();
    const parsed = new Map(families(text).map((f) => [f.name, f]));
    const expected: Record<string, string> = {
      agent_requests_total: "COUNTER",
      agent_response_time_seconds: "HISTOGRAM",
      agent_errors_total: "COUNTER",
      agent_state_saves_total: "COUNTER",
      agent_isolate_start_time_seconds: "GAUGE",
      tasks: "GAUGE",
      task_duration_seconds: "HISTOGRAM",
      approvals: "GAUGE",
      email_messages_total: "COUNTER",
      calls_active: "GAUGE",
      call_duration_seconds: "HISTOGRAM",
    };
    expect([...parsed.keys()].sort()).toEqual(Object.keys(expected).sort());
    for (const [name, type] of Object.entries(expected)) {
      expect(parsed.get(name)!.type, name).toBe(type);
      expect(parsed.get(name)!.help.length, name).toBeGreaterThan(10);
    }
    for (const line of text.split("\n").filter((l) => l.startsWith("# TYPE "))) {
      expect(text, line).toContain(`# HELP ${line.split(" ")[2]} `);
    }
  });
});

describe("per-isolate counters", () => {
  it("count requests by route template, never by raw path, with response times, errors and saves", async () => {
    const before = (await scrape()).samples;
    for (const agent of ["metrics-counted-1", "metrics-counted-2"]) {
      expect((await call(`/api/v2/agents/${agent}/state`, { body: { state_data: { n: 1 } } })).status).toBe(200);
    }
    expect((await call("/no/such/route")).status).toBe(404);
    expect((await call("/api/v2/agents/metrics-counted-1/state", { token: null })).status).toBe(401);
    const { text, samples: after } = await scrape();

    const saved = { method: "POST", route: STATE_ROUTE, status: "200" };
    expect(v(after, "agent_requests_total", saved) - v(before, "agent_requests_total", saved)).toBe(2);
    const refused = { method: "GET", route: STATE_ROUTE, status: "401" };
    expect(v(after, "agent_requests_total", refused) - v(before, "agent_requests_total", refused)).toBe(1);
    const unmatched = { method: "GET", route: "unmatched", status: "404" };
    expect(v(after, "agent_requests_total", unmatched) - v(before, "agent_requests_total", unmatched)).toBe(1);
    const timed = { method: "POST", route: STATE_ROUTE };
    expect(v(after, "agent_response_time_seconds_count", timed) - v(before, "agent_response_time_seconds_count", timed)).toBe(2);
    expect(v(after, "agent_response_time_seconds_bucket", { ...timed, le: "+Inf" })).toBe(
      v(after, "agent_response_time_seconds_count", timed),
    );
    expect(v(after, "agent_errors_total", { code: "not_found" }) - v(before, "agent_errors_total", { code: "not_found" })).toBe(1);
    expect(v(after, "agent_errors_total", { code: "unauthenticated" }) - v(before, "agent_errors_total", { code: "unauthenticated" })).toBe(
      1,
    );
    expect(v(after, "agent_state_saves_total") - v(before, "agent_state_saves_total")).toBe(2);
    // No label value carries an id from a path.
    expect(text).not.toContain("metrics-counted-");
    expect(text).not.toContain("/no/such/route");
  });

  it("write one Analytics Engine data point per request when METRICS_EVENTS is bound, within its documented limits", async () => {
    const points: AnalyticsEngineDataPoint[] = [];
    const dataset = {
      writeDataPoint(point: AnalyticsEngineDataPoint) {
        // The documented limits: at most 20 blobs, 20 doubles, one index of at most 96 bytes.
        const size = (s: unknown) => (typeof s === "string" ? new TextEncoder().encode(s).byteLength : (s as ArrayBuffer).byteLength);
        if ((point.blobs?.length ?? 0) > 20) throw new Error("more than 20 blobs");
        if ((point.doubles?.length ?? 0) > 20) throw new Error("more than 20 doubles");
        if ((point.indexes?.length ?? 0) > 1) throw new Error("more than one index");
        if (point.indexes?.some((i) => i !== null && size(i) > MAX_INDEX_BYTES)) throw new Error("index over 96 bytes");
        if ((point.blobs ?? []).reduce<number>((n, b) => n + (b === null ? 0 : size(b)), 0) > 16 * 1024)
          throw new Error("blobs over 16 KB");
        if (point.doubles?.some((d) => typeof d !== "number")) throw new Error("a double that is no number");
        points.push(point);
      },
    };
    const res = await fetchWithEnv(
      { METRICS_EVENTS: dataset },
      new Request("http://local.test/api/v2/agents/ae-agent/state", { headers: { authorization: `Bearer ${ADMIN_KEY}` } }),
    );
    expect(res.status).toBe(404);
    expect(points).toHaveLength(1);
    const [point] = points;
    expect(point!.indexes).toEqual([STATE_ROUTE]);
    expect(point!.blobs).toEqual(["GET", STATE_ROUTE, "404", "not_found", ""]);
    expect(point!.doubles![1]).toBe(404);
    expect(point!.doubles![0]).toBeGreaterThanOrEqual(0);
  });
});

describe("store figures", () => {
  it("tasks by status and their durations equal what the agents' Durable Objects hold, across two agents", async () => {
    const [a, b] = ["metrics-tasks-a", "metrics-tasks-b"];
    const external = { task_type: "metrics_job" };
    const aTasks = [await createTask(a, external), await createTask(a, external), await createTask(a, external)];
    const bTasks = [await createTask(b, external), await createTask(b, external)];
    expect((await call(`/api/v2/tasks/${aTasks[0]}/complete`, { body: { result: { ok: true } } })).status).toBe(200);
    expect((await call(`/api/v2/tasks/${aTasks[1]}/cancel`, { method: "POST" })).status).toBe(200);
    expect((await call(`/api/v2/tasks/${bTasks[0]}/cancel`, { method: "POST" })).status).toBe(200);
    const noop = await createTask(b, { task_type: "noop" });
    await waitForStatus(noop, ["completed"]);
    await publishTaskRollup(a);
    await publishTaskRollup(b);

    const { samples: all } = await scrape();
    for (const status of ["pending", "running", "completed", "failed", "cancelled"]) {
      let stored = 0;
      for (const agent of [a, b]) stored += (await listTasks(agent, `?status=${status}&limit=100`)).tasks.length;
      expect(v(all, "tasks", { status }), status).toBe(stored);
    }
    expect(v(all, "tasks", { status: "pending" })).toBe(2);
    expect(v(all, "tasks", { status: "cancelled" })).toBe(2);
    expect(v(all, "task_duration_seconds_count", { task_type: "external", status: "completed" })).toBe(1);
    expect(v(all, "task_duration_seconds_count", { task_type: "external", status: "cancelled" })).toBe(2);
    expect(v(all, "task_duration_seconds_count", { task_type: "noop", status: "completed" })).toBe(1);
    expect(v(all, "task_duration_seconds_bucket", { task_type: "noop", status: "completed", le: "+Inf" })).toBe(1);
    // The free-form type is not a label value.
    expect(all.some((s) => Object.values(s.labels).includes("metrics_job"))).toBe(false);
  });

  it("a task change writes nothing to D1: the figures are published at most once per interval, from the alarm", async () => {
    const agent = "metrics-throttle";
    await createTask(agent, { task_type: "metrics_job" });
    // The first change after a quiet interval is published at once (the alarm, right after the answer).
    await expect.poll(() => publishedCounts(agent)).toEqual({ pending: 1 });
    const more = [await createTask(agent, { task_type: "metrics_job" }), await createTask(agent, { task_type: "metrics_job" })];
    for (const id of more) expect((await call(`/api/v2/tasks/${id}/cancel`, { method: "POST" })).status).toBe(200);
    expect(await publishedCounts(agent)).toEqual({ pending: 1 });
    const timer = await runInDurableObject(env.AGENT.getByName(agent), (_i, state) => ({
      dueAt: state.storage.sql.exec<{ due_at: number }>("SELECT due_at FROM timers WHERE name = 'task-rollup'").one().due_at,
      attemptedAt: state.storage.sql.exec<{ attempted_at: number }>("SELECT attempted_at FROM task_rollup").one().attempted_at,
    }));
    // METRICS_ROLLUP_INTERVAL_SECONDS is 60 in wrangler.toml.
    expect(timer.dueAt).toBe(timer.attemptedAt + 60_000);
    await publishTaskRollup(agent);
    expect(await publishedCounts(agent)).toEqual({ pending: 1, cancelled: 2 });
  });

  it("approvals by status equal the approval index", async () => {
    const body = { agent_id: "metrics-approvals", title: "t", description: "d", approver_email: "boss@example.com" };
    const first = await createApproval(body);
    await createApproval(body);
    const res = await call(`/api/v2/email/approval/${first.approval_id}/respond`, { body: { action: "approve" } });
    expect(res.status).toBe(200);
    const { samples: all } = await scrape();
    for (const status of ["pending", "approved", "rejected", "expired"]) {
      const listed = await json<{ approvals: unknown[] }>(await call(`/api/v2/email/approvals?status=${status}&limit=100`));
      expect(v(all, "approvals", { status }), status).toBe(listed.approvals.length);
    }
    expect(v(all, "approvals", { status: "pending" })).toBe(1);
    expect(v(all, "approvals", { status: "approved" })).toBe(1);
  });

  it("calls_active follows calls that started and have not ended; an ended call's duration is observed", async () => {
    const created = await json<{ call_id: string }>(await call("/api/v2/calls", { body: { agent_id: "metrics-calls" } }));
    const before = (await scrape()).samples;
    expect((await call(`/api/v2/calls/${created.call_id}/start`, { method: "POST" })).status).toBe(200);
    expect(v((await scrape()).samples, "calls_active") - v(before, "calls_active")).toBe(1);
    expect((await call(`/api/v2/calls/${created.call_id}/end`, { method: "POST" })).status).toBe(200);
    const after = (await scrape()).samples;
    expect(v(after, "calls_active")).toBe(v(before, "calls_active"));
    expect(v(after, "call_duration_seconds_count") - v(before, "call_duration_seconds_count")).toBe(1);
    const listed = await json<{ calls: unknown[] }>(await call("/api/v2/calls?status=active&limit=100"));
    const onHold = await json<{ calls: unknown[] }>(await call("/api/v2/calls?status=on_hold&limit=100"));
    expect(v(after, "calls_active")).toBe(listed.calls.length + onHold.calls.length);
  });

  it("email_messages_total counts messages entering each status, by provider", async () => {
    const before = (await scrape()).samples;
    const res = await call("/api/v2/email/send", { body: { to: ["someone@example.com"], subject: "Hi", text: "Hello" } });
    expect(res.status, await res.clone().text()).toBe(201);
    const after = (await scrape()).samples;
    const sent = { provider: "cloudflare", status: "sent" };
    expect(v(after, "email_messages_total", sent) - v(before, "email_messages_total", sent)).toBe(1);
    const queued = { provider: "none", status: "queued" };
    expect(v(after, "email_messages_total", queued) - v(before, "email_messages_total", queued)).toBe(1);
  });

  it("a scrape reads the totals by primary key: no scan of tasks, approvals, calls or messages", async () => {
    for (const sql of [COUNTS_SQL, HISTOGRAMS_SQL]) {
      const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`).all<{ detail: string }>();
      expect(plan.results.length).toBeGreaterThan(0);
      for (const { detail } of plan.results) expect(detail).toMatch(/^SEARCH metric_(counts|histograms) USING PRIMARY KEY \(metric=\?\)$/);
    }
  });
});
