/**
 * Load figures and the scaling recommendation, computed from task rows only: a pure
 * module, so every figure can be checked against synthetic rows. Times are epoch milliseconds.
 *
 * - `load` = running ÷ per-instance concurrency; `total_load` sums it over the listed instances
 *   (active and draining) and `average_load` = total_load ÷ total_instances (0 with none).
 * - `queue_depth` = queued tasks waiting for a lane: pending, no instance, not waiting for an
 *   approval, run by the queue (external tasks get an instance when created, for load figures, but never wait for a lane).
 * - Durations: started_at → completed_at of tasks *completed* (not failed or cancelled) in the
 *   last 5 minutes; `null` when there is none (no invented zero). p95 is the nearest-rank value.
 * - `requests_per_minute`: tasks whose first attempt started on that instance in the last minute.
 *
 * Recommendation, with `in_flight` = tasks holding a lane (pending or running on an instance) and
 * `needed` = ceil((in_flight + queue_depth) ÷ concurrency):
 * - a backlog, or average load > 0.8 → scale_up to max(needed, active + 1) (headroom when the
 *   load alone triggers it), capped at the upper bound;
 * - average load < 0.3 with more than one active instance → scale_down to max(needed, 1, lower
 *   bound), never below what the work in flight needs;
 * - otherwise, or when the bounds leave nothing to do, maintain.
 * The bounds are 0..MAX_INSTANCES, or the autoscale policy's min..max when it is enabled; an
 * instance count outside an enabled policy's bounds is brought back into them.
 */
import type { TaskStatus } from "../../src/tasks/model";

export const WINDOW_MS = 5 * 60 * 1000;
export const RATE_WINDOW_MS = 60 * 1000;
export const SCALE_UP_LOAD = 0.8;
export const SCALE_DOWN_LOAD = 0.3;

export interface MetricsTaskRow {
  instance_id: string | null;
  status: TaskStatus;
  started_at: number | null;
  completed_at: number | null;
  approval_id: string | null;
  executor: "queue" | "external";
}

export interface MetricsInstance {
  instance_id: string;
  status: "active" | "draining";
}

export interface InstanceMetrics {
  instance_id: string;
  status: "active" | "draining";
  load: number;
  pending: number;
  running: number;
  completed_5m: number;
  failed_5m: number;
  avg_duration_ms: number | null;
  p95_duration_ms: number | null;
  requests_per_minute: number;
}

export type Recommendation = "scale_up" | "scale_down" | "maintain";

export interface AgentMetrics {
  agent_id: string;
  instances: InstanceMetrics[];
  total_instances: number;
  active_instances: number;
  total_load: number;
  average_load: number;
  queue_depth: number;
  scaling_recommendation: Recommendation;
  recommended_instances: number;
  reason: string;
}

export interface MetricsInput {
  agentId: string;
  instances: MetricsInstance[];
  tasks: MetricsTaskRow[];
  concurrency: number;
  nowMs: number;
  /** Inclusive bounds for the recommendation. */
  bounds: { min: number; max: number };
}

const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Nearest-rank percentile of ascending values. */
export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function instanceMetrics(inst: MetricsInstance, tasks: MetricsTaskRow[], concurrency: number, nowMs: number): InstanceMetrics {
  const mine = tasks.filter((t) => t.instance_id === inst.instance_id);
  const recent = (t: MetricsTaskRow) => t.completed_at !== null && t.completed_at >= nowMs - WINDOW_MS;
  const running = mine.filter((t) => t.status === "running").length;
  const durations = mine
    .filter((t) => t.status === "completed" && recent(t) && t.started_at !== null)
    .map((t) => t.completed_at! - t.started_at!)
    .sort((a, b) => a - b);
  return {
    instance_id: inst.instance_id,
    status: inst.status,
    load: round(running / concurrency),
    pending: mine.filter((t) => t.status === "pending").length,
    running,
    completed_5m: mine.filter((t) => t.status === "completed" && recent(t)).length,
    failed_5m: mine.filter((t) => t.status === "failed" && recent(t)).length,
    avg_duration_ms: durations.length ? Math.round(durations.reduce((a, b) => a + b, 0) / durations.length) : null,
    p95_duration_ms: percentile(durations, 95),
    requests_per_minute: mine.filter((t) => t.started_at !== null && t.started_at >= nowMs - RATE_WINDOW_MS).length,
  };
}

export function computeMetrics(input: MetricsInput): AgentMetrics {
  const { tasks, concurrency, bounds } = input;
  const instances = input.instances.map((i) => instanceMetrics(i, tasks, concurrency, input.nowMs));
  const active = instances.filter((i) => i.status === "active").length;
  const totalLoad = round(instances.reduce((sum, i) => sum + i.load, 0));
  const averageLoad = instances.length ? round(totalLoad / instances.length) : 0;
  const queueDepth = tasks.filter(
    (t) => t.status === "pending" && t.instance_id === null && t.approval_id === null && t.executor === "queue",
  ).length;
  const inFlight = tasks.filter((t) => t.instance_id !== null && (t.status === "pending" || t.status === "running")).length;
  const needed = Math.ceil((inFlight + queueDepth) / concurrency);
  const decision = recommend({ active, averageLoad, queueDepth, inFlight, needed, bounds });
  return {
    agent_id: input.agentId,
    instances,
    total_instances: instances.length,
    active_instances: active,
    total_load: totalLoad,
    average_load: averageLoad,
    queue_depth: queueDepth,
    scaling_recommendation: decision.recommendation,
    recommended_instances: decision.instances,
    reason: decision.reason,
  };
}

export function recommend(f: {
  active: number;
  averageLoad: number;
  queueDepth: number;
  inFlight: number;
  needed: number;
  bounds: { min: number; max: number };
}): { recommendation: Recommendation; instances: number; reason: string } {
  const { active, averageLoad, queueDepth, needed, bounds } = f;
  const clamp = (n: number) => Math.min(bounds.max, Math.max(bounds.min, n));
  const figures = `average load ${averageLoad} over ${active} active instance(s), ${f.inFlight} task(s) in flight, queue depth ${queueDepth}`;
  const decide = (target: number, why: string) => {
    const instances = clamp(target);
    if (instances > active)
      return { recommendation: "scale_up" as const, instances, reason: `${why}: ${figures}; ${instances} instance(s) recommended` };
    if (instances < active)
      return { recommendation: "scale_down" as const, instances, reason: `${why}: ${figures}; ${instances} instance(s) recommended` };
    return {
      recommendation: "maintain" as const,
      instances,
      reason: `${why}, but the bounds ${bounds.min}–${bounds.max} leave nothing to change: ${figures}`,
    };
  };
  if (active < bounds.min) return decide(Math.max(bounds.min, needed), `Below the minimum of ${bounds.min} instance(s)`);
  if (active > bounds.max) return decide(bounds.max, `Above the maximum of ${bounds.max} instance(s)`);
  if (queueDepth > 0) return decide(Math.max(needed, active + 1), `${queueDepth} task(s) wait for a lane`);
  if (averageLoad > SCALE_UP_LOAD) return decide(Math.max(needed, active + 1), `Average load above ${SCALE_UP_LOAD}`);
  if (averageLoad < SCALE_DOWN_LOAD && active > 1) return decide(Math.max(needed, 1), `Average load below ${SCALE_DOWN_LOAD}`);
  return { recommendation: "maintain", instances: active, reason: `No change needed: ${figures}` };
}
