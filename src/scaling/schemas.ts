/** zod schemas for scaling: validation, types and OpenAPI in one place. */
import { z } from "zod";
import { AgentId } from "../state/schemas";

/** The static ceiling; the configured MAX_INSTANCES (default 32) is checked by the service. */
const HARD_MAX = 1000;
const InstanceCount = z.number().int().min(0).max(HARD_MAX);

export const ScaleBody = z
  .object({
    target_instances: InstanceCount.describe(
      "Active instances wanted, 0–MAX_INSTANCES (default 32). 0 stops taking tasks; they wait in the backlog.",
    ),
  })
  .strict();
export type ScaleBody = z.infer<typeof ScaleBody>;

/** The prototype sent `?target_instances=` with no body. */
export function adaptLegacyScaleBody(raw: unknown, query: Record<string, string>): unknown {
  if (query.target_instances === undefined) return raw;
  const documented = typeof raw === "object" && raw !== null && "target_instances" in raw;
  if (documented) return raw;
  const text = query.target_instances.trim();
  const n = Number(text);
  return { target_instances: text !== "" && Number.isFinite(n) ? n : query.target_instances };
}

export const ScaleResponse = z.object({
  success: z.literal(true),
  agent_id: AgentId,
  target_instances: z.number().int(),
  current_instances: z.number().int().describe("Active instances (taking new tasks) after the change."),
  instances: z.array(z.string()).describe("The active instances' ids, `{agent_id}_instance_{i}`."),
  draining: z.array(z.string()).describe("Instances finishing their running tasks; they take no new task and then go away."),
});

export const AutoscaleBody = z
  .object({
    enabled: z.boolean(),
    min_instances: InstanceCount.describe("Lower bound, 0–max_instances."),
    max_instances: InstanceCount.min(1).describe("Upper bound, 1–MAX_INSTANCES."),
  })
  .strict()
  .refine((b) => b.min_instances <= b.max_instances, { message: "min_instances must not exceed max_instances", path: ["min_instances"] });
export type AutoscaleBody = z.infer<typeof AutoscaleBody>;

export const AutoscalePolicy = z.object({
  agent_id: AgentId,
  enabled: z.boolean(),
  min_instances: z.number().int(),
  max_instances: z.number().int(),
  interval_seconds: z.number().int().describe("How often an enabled policy is applied (Durable Object alarm)."),
  updated_at: z.string().nullable().describe("Last change; null when never configured."),
});

const InstanceMetrics = z.object({
  instance_id: z.string(),
  status: z.enum(["active", "draining"]),
  load: z.number().describe("running ÷ TASK_CONCURRENCY_PER_INSTANCE."),
  pending: z.number().int().describe("Tasks holding a lane here, not running yet."),
  running: z.number().int(),
  completed_5m: z.number().int(),
  failed_5m: z.number().int(),
  avg_duration_ms: z
    .number()
    .nullable()
    .describe("started_at → completed_at of tasks completed here in the last 5 minutes; null with none."),
  p95_duration_ms: z.number().nullable().describe("Nearest-rank 95th percentile of the same durations."),
  requests_per_minute: z.number().int().describe("Tasks started here in the last minute."),
});

export const MetricsResponse = z.object({
  agent_id: AgentId,
  instances: z.array(InstanceMetrics),
  total_instances: z.number().int().describe("Listed instances, active and draining."),
  active_instances: z.number().int(),
  total_load: z.number(),
  average_load: z.number().describe("total_load ÷ total_instances (0 with no instance)."),
  queue_depth: z.number().int().describe("Queued tasks waiting for a free lane."),
  scaling_recommendation: z.enum(["scale_up", "scale_down", "maintain"]),
  recommended_instances: z.number().int(),
  reason: z.string(),
  autoscale: AutoscalePolicy.omit({ agent_id: true }),
  measured_at: z.string(),
});
