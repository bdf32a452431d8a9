/**
 * Scaling inside AgentDO: explicit scale, measured metrics, and the autoscale policy
 * applied on the Durable Object's alarm. Lanes themselves live in lanes.ts; the figures and the
 * recommendation in metrics.ts.
 *
 * - Any explicit scale (or autoscale policy) writes the `autoscale` row, so an agent scaled to 0
 *   stays at 0: `ensureInstances` only gives instance 0 to an agent that was never scaled.
 * - With autoscale enabled, the agent applies its recommendation right away and then every
 *   AUTOSCALE_INTERVAL_MS (a named timer on the shared alarm), within min..max. A manual scale
 *   while autoscale is enabled is applied, and the next check may change it again.
 * - D1's `agents.instances` (shown by GET /api/v2/agents) follows the active count, best effort:
 *   the Durable Object stays the truth.
 */
import { log, warn } from "../../src/lib/log";
import type { Timers } from "../shared/timers";
import { listInstances, scaleInstances } from "./lanes";
import { WINDOW_MS, computeMetrics, type AgentMetrics, type MetricsTaskRow } from "./metrics";
import type { TaskEngine } from "./task-engine";
import { AUTOSCALE_INTERVAL_MS, type AutoscalePolicy } from "../../src/scaling/model";

export const AUTOSCALE_TIMER = "autoscale";

export interface ScaleSnapshot {
  /** Active instances: the ones that take new tasks. */
  current_instances: number;
  instances: string[];
  /** Instances finishing their tasks before they go away (they take no new task). */
  draining: string[];
}

export interface ScalingConfig {
  concurrency: number;
  maxInstances: number;
}

interface PolicyRow {
  enabled: number;
  min_instances: number;
  max_instances: number;
  updated_at: number;
  agent_id: string | null;
  [column: string]: SqlStorageValue;
}

function readPolicyRow(sql: SqlStorage): PolicyRow | null {
  return (
    sql.exec<PolicyRow>("SELECT enabled, min_instances, max_instances, updated_at, agent_id FROM autoscale WHERE id = 1").toArray()[0] ??
    null
  );
}

export function readPolicy(sql: SqlStorage, maxInstances: number): AutoscalePolicy {
  const row = readPolicyRow(sql);
  if (!row) return { enabled: false, min_instances: 0, max_instances: maxInstances, updated_at: null };
  return { enabled: row.enabled === 1, min_instances: row.min_instances, max_instances: row.max_instances, updated_at: row.updated_at };
}

export function snapshot(sql: SqlStorage): ScaleSnapshot {
  const all = listInstances(sql);
  const instances = all.filter((i) => i.status === "active").map((i) => i.instance_id);
  return { current_instances: instances.length, instances, draining: all.filter((i) => i.status === "draining").map((i) => i.instance_id) };
}

/**
 * The task rows the figures need: unfinished ones, and those finished in the last 5 minutes.
 * (A task started in the last minute is one or the other: every finished task has completed_at.)
 * Two index ranges, not a scan: the 30 s autoscale check must not read an agent's whole history.
 */
export const METRICS_ROWS_SQL = `SELECT instance_id, status, started_at, completed_at, approval_id, executor FROM tasks
    WHERE status IN ('pending', 'running')
  UNION ALL
  SELECT instance_id, status, started_at, completed_at, approval_id, executor FROM tasks
    WHERE completed_at >= ? AND status NOT IN ('pending', 'running')`;

export function metricsRows(sql: SqlStorage, nowMs: number): MetricsTaskRow[] {
  // RATE_WINDOW_MS (requests per minute) lies within WINDOW_MS, so its tasks are among these rows.
  return sql.exec<MetricsTaskRow & Record<string, SqlStorageValue>>(METRICS_ROWS_SQL, nowMs - WINDOW_MS).toArray();
}

export class Scaling {
  readonly #storage: DurableObjectStorage;
  readonly #timers: Timers;
  readonly #tasks: TaskEngine;
  readonly #db: D1Database;
  readonly #config: () => ScalingConfig;

  constructor(storage: DurableObjectStorage, timers: Timers, tasks: TaskEngine, db: D1Database, config: () => ScalingConfig) {
    this.#storage = storage;
    this.#timers = timers;
    this.#tasks = tasks;
    this.#db = db;
    this.#config = config;
  }

  get #sql(): SqlStorage {
    return this.#storage.sql;
  }

  /** Sets the number of active instances (the caller validated 0..MAX_INSTANCES). */
  async scale(agentId: string, target: number, nowMs: number, reason = "requested", requestId?: string): Promise<ScaleSnapshot> {
    const sql = this.#sql;
    const { maxInstances } = this.#config();
    const before = snapshot(sql).current_instances;
    const after = this.#storage.transactionSync(() => {
      // The marker that keeps an explicit count (0 included) from being replaced by the default.
      sql.exec(
        `INSERT INTO autoscale (id, enabled, min_instances, max_instances, updated_at, agent_id) VALUES (1, 0, 0, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET agent_id = excluded.agent_id`,
        maxInstances,
        nowMs,
        agentId,
      );
      scaleInstances(sql, agentId, target, nowMs);
      return snapshot(sql);
    });
    // New lanes take the backlog at once; drained lanes hand their waiting tasks back to it.
    await this.#tasks.dispatch(nowMs);
    if (after.current_instances !== before) {
      log({
        event: "agent.scaled",
        request_id: requestId,
        agent_id: agentId,
        from_instances: before,
        to_instances: after.current_instances,
        reason,
      });
      await this.#indexInstances(agentId, after.current_instances);
    }
    return after;
  }

  metrics(agentId: string, nowMs: number): AgentMetrics & { autoscale: AutoscalePolicy } {
    const { concurrency, maxInstances } = this.#config();
    const policy = readPolicy(this.#sql, maxInstances);
    const bounds = policy.enabled
      ? { min: policy.min_instances, max: Math.min(policy.max_instances, maxInstances) }
      : { min: 0, max: maxInstances };
    const instances = listInstances(this.#sql).map((i) => ({ instance_id: i.instance_id, status: i.status }));
    return {
      ...computeMetrics({ agentId, instances, tasks: metricsRows(this.#sql, nowMs), concurrency, nowMs, bounds }),
      autoscale: policy,
    };
  }

  getAutoscale(): AutoscalePolicy {
    return readPolicy(this.#sql, this.#config().maxInstances);
  }

  /** Stores the policy; enabling applies the recommendation at once and arms the periodic check. */
  async setAutoscale(
    agentId: string,
    policy: { enabled: boolean; min_instances: number; max_instances: number },
    nowMs: number,
  ): Promise<AutoscalePolicy> {
    this.#sql.exec(
      `INSERT INTO autoscale (id, enabled, min_instances, max_instances, updated_at, agent_id) VALUES (1, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET enabled = excluded.enabled, min_instances = excluded.min_instances,
         max_instances = excluded.max_instances, updated_at = excluded.updated_at, agent_id = excluded.agent_id`,
      policy.enabled ? 1 : 0,
      policy.min_instances,
      policy.max_instances,
      nowMs,
      agentId,
    );
    if (policy.enabled) await this.tick(nowMs);
    else this.#timers.cancel(AUTOSCALE_TIMER);
    return this.getAutoscale();
  }

  /** One autoscale check (the alarm calls it when its timer is due): apply, then re-arm. */
  async tick(nowMs: number): Promise<void> {
    const row = readPolicyRow(this.#sql);
    if (!row || row.enabled !== 1 || !row.agent_id) return;
    const m = this.metrics(row.agent_id, nowMs);
    if (m.scaling_recommendation !== "maintain") await this.scale(row.agent_id, m.recommended_instances, nowMs, `autoscale: ${m.reason}`);
    await this.#timers.schedule(AUTOSCALE_TIMER, nowMs + AUTOSCALE_INTERVAL_MS);
  }

  async #indexInstances(agentId: string, count: number): Promise<void> {
    try {
      await this.#db.prepare("UPDATE agents SET instances = ? WHERE agent_id = ?").bind(count, agentId).run();
    } catch (err) {
      warn({ event: "scaling.index_failed", agent_id: agentId, instances: count, error: err instanceof Error ? err.message : String(err) });
    }
  }
}
