import { describe, expect, it } from "vitest";
import { computeMetrics, percentile, recommend, type MetricsTaskRow } from "../../durable-objects/agent/metrics";

const NOW = 1_800_000_000_000;
const I0 = "a_instance_0";
const I1 = "a_instance_1";

function row(p: Partial<MetricsTaskRow>): MetricsTaskRow {
  return { instance_id: I0, status: "pending", started_at: null, completed_at: null, approval_id: null, executor: "queue", ...p };
}
const done = (instance: string, startAgo: number, duration: number, status: "completed" | "failed" = "completed") =>
  row({ instance_id: instance, status, started_at: NOW - startAgo, completed_at: NOW - startAgo + duration });

const base = { agentId: "a", concurrency: 1, nowMs: NOW, bounds: { min: 0, max: 32 } };
const two = [
  { instance_id: I0, status: "active" as const },
  { instance_id: I1, status: "active" as const },
];

describe("metrics from task rows", () => {
  it("counts per instance, measures durations of completed tasks in the last 5 minutes", () => {
    const m = computeMetrics({
      ...base,
      instances: two,
      tasks: [
        done(I0, 10_000, 1000),
        done(I0, 20_000, 3000),
        done(I0, 30_000, 2000, "failed"), // failed: counted, no duration
        done(I0, 400_000, 9000), // finished 6+ minutes ago: outside the window
        row({ instance_id: I0, status: "cancelled", started_at: NOW - 5000, completed_at: NOW - 4000 }),
        row({ instance_id: I1, status: "running", started_at: NOW - 90_000 }),
        row({ instance_id: I1, status: "pending" }), // dispatched, holds a lane
        row({ instance_id: null, status: "pending" }), // backlog
        row({ instance_id: null, status: "pending", approval_id: "approval_x" }), // waits for a human, not a lane
        row({ instance_id: null, status: "pending", executor: "external" }),
      ],
    });
    expect(m.instances[0]).toEqual({
      instance_id: I0,
      status: "active",
      load: 0,
      pending: 0,
      running: 0,
      completed_5m: 2,
      failed_5m: 1,
      avg_duration_ms: 2000,
      p95_duration_ms: 3000,
      requests_per_minute: 4, // started in the last minute: two completed, the failed and the cancelled one
    });
    expect(m.instances[1]).toMatchObject({
      load: 1,
      pending: 1,
      running: 1,
      completed_5m: 0,
      avg_duration_ms: null,
      p95_duration_ms: null,
      requests_per_minute: 0,
    });
    expect(m).toMatchObject({ total_instances: 2, active_instances: 2, total_load: 1, average_load: 0.5, queue_depth: 1 });
    // A backlog: enough instances for the 2 in flight + 1 waiting.
    expect(m).toMatchObject({ scaling_recommendation: "scale_up", recommended_instances: 3 });
    expect(m.reason).toContain("1 task(s) wait for a lane");
  });

  it("load is running ÷ per-instance concurrency", () => {
    const tasks = [row({ status: "running" }), row({ status: "running" }), row({ status: "running" })];
    const m = computeMetrics({ ...base, concurrency: 4, instances: [two[0]!], tasks });
    expect(m.instances[0]!.load).toBe(0.75);
    expect(m.scaling_recommendation).toBe("maintain");
  });

  it("nearest-rank p95", () => {
    expect(percentile([], 95)).toBeNull();
    expect(percentile([5], 95)).toBe(5);
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(hundred, 95)).toBe(95);
    expect(percentile(hundred.slice(0, 10), 95)).toBe(10);
  });

  it("no instances and no tasks: zeros, maintain", () => {
    const m = computeMetrics({ ...base, instances: [], tasks: [] });
    expect(m).toMatchObject({
      total_instances: 0,
      total_load: 0,
      average_load: 0,
      queue_depth: 0,
      scaling_recommendation: "maintain",
      recommended_instances: 0,
    });
  });
});

describe("recommendation", () => {
  const f = { active: 2, averageLoad: 0.5, queueDepth: 0, inFlight: 1, needed: 1, bounds: { min: 0, max: 32 } };

  it("scales up above 0.8, with one instance of headroom", () => {
    expect(recommend({ ...f, averageLoad: 0.9, inFlight: 2, needed: 2 })).toMatchObject({ recommendation: "scale_up", instances: 3 });
  });

  it("scales up for a backlog, to what in-flight + waiting tasks need, capped", () => {
    expect(recommend({ ...f, queueDepth: 5, inFlight: 2, needed: 7 })).toMatchObject({ recommendation: "scale_up", instances: 7 });
    expect(recommend({ ...f, queueDepth: 50, needed: 52, bounds: { min: 0, max: 32 } })).toMatchObject({
      recommendation: "scale_up",
      instances: 32,
    });
    const capped = recommend({ ...f, active: 4, queueDepth: 3, needed: 7, bounds: { min: 1, max: 4 } });
    expect(capped).toMatchObject({ recommendation: "maintain", instances: 4 });
    expect(capped.reason).toContain("bounds 1–4");
  });

  it("scales down below 0.3, never below what the tasks in flight need, nor below one", () => {
    expect(recommend({ ...f, active: 8, averageLoad: 0.25, inFlight: 2, needed: 2 })).toMatchObject({
      recommendation: "scale_down",
      instances: 2,
    });
    expect(recommend({ ...f, active: 4, averageLoad: 0, inFlight: 0, needed: 0 })).toMatchObject({
      recommendation: "scale_down",
      instances: 1,
    });
    expect(recommend({ ...f, active: 1, averageLoad: 0, inFlight: 0, needed: 0 })).toMatchObject({
      recommendation: "maintain",
      instances: 1,
    });
  });

  it("maintains between 0.3 and 0.8", () => {
    const r = recommend(f);
    expect(r).toMatchObject({ recommendation: "maintain", instances: 2 });
    expect(r.reason).toContain("average load 0.5 over 2 active instance(s)");
  });

  it("brings the count back within an enabled policy's bounds", () => {
    expect(recommend({ ...f, active: 1, averageLoad: 0.5, bounds: { min: 3, max: 5 } })).toMatchObject({
      recommendation: "scale_up",
      instances: 3,
    });
    expect(recommend({ ...f, active: 9, averageLoad: 0.5, bounds: { min: 1, max: 5 } })).toMatchObject({
      recommendation: "scale_down",
      instances: 5,
    });
    expect(recommend({ ...f, active: 3, averageLoad: 0, needed: 0, bounds: { min: 2, max: 5 } })).toMatchObject({
      recommendation: "scale_down",
      instances: 2,
    });
  });
});
