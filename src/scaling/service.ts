/**
 * Scaling use cases: scale, metrics, autoscale policy. The agent's Durable Object
 * holds the instances and the task rows every figure is measured from.
 */
import { AUTOSCALE_INTERVAL_MS, type AutoscalePolicy } from "./model";
import { getConfig } from "../lib/config";
import { iso } from "../lib/time";
import { AppError } from "../lib/problem";
import type { AutoscaleBody } from "./schemas";

function stub(env: Env, agentId: string) {
  return env.AGENT.getByName(agentId);
}

function tooMany(path: string, value: number, max: number): AppError {
  return new AppError("validation_failed", `Invalid body: ${path}: at most MAX_INSTANCES (${max}), got ${value}`, {
    errors: [{ path, message: `must be at most ${max} (MAX_INSTANCES)` }],
  });
}

export async function scale(env: Env, agentId: string, target: number, requestId?: string) {
  const max = getConfig(env).maxInstances;
  if (target > max) throw tooMany("target_instances", target, max);
  const snap = await stub(env, agentId).scale(agentId, target, requestId);
  return { success: true as const, agent_id: agentId, target_instances: target, ...snap };
}

function renderPolicy(agentId: string, p: AutoscalePolicy) {
  return {
    agent_id: agentId,
    enabled: p.enabled,
    min_instances: p.min_instances,
    max_instances: p.max_instances,
    interval_seconds: AUTOSCALE_INTERVAL_MS / 1000,
    updated_at: p.updated_at === null ? null : iso(p.updated_at),
  };
}

export async function metrics(env: Env, agentId: string) {
  const { autoscale, ...m } = await stub(env, agentId).metrics(agentId);
  const { agent_id: _id, ...policy } = renderPolicy(agentId, autoscale);
  return { ...m, autoscale: policy, measured_at: new Date().toISOString() };
}

export async function getAutoscale(env: Env, agentId: string) {
  return renderPolicy(agentId, await stub(env, agentId).getAutoscale());
}

export async function setAutoscale(env: Env, agentId: string, body: AutoscaleBody) {
  const max = getConfig(env).maxInstances;
  if (body.max_instances > max) throw tooMany("max_instances", body.max_instances, max);
  return renderPolicy(agentId, await stub(env, agentId).setAutoscale(agentId, body));
}
