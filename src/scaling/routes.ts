/** Routes for horizontal scaling and load: parse, call the scaling service, shape. */
import type { Hono } from "hono";
import type { AppEnv } from "../http/app-env";
import { defineRoute } from "../http/route";
import { AutoscaleBody, AutoscalePolicy, MetricsResponse, ScaleBody, ScaleResponse, adaptLegacyScaleBody } from "./schemas";
import * as scaling from "./service";
import { AgentParams } from "../state/schemas";

const TAGS = ["scaling"];

export function registerScalingRoutes(app: Hono<AppEnv>): void {
  defineRoute(
    app,
    {
      method: "post",
      path: "/api/v2/agents/:agent_id/scale",
      operationId: "scaleAgent",
      summary: "Set the number of active instances (task lanes)",
      description:
        "Growing adds lanes and dispatches waiting tasks to them at once; shrinking drains the highest instances (no new tasks; " +
        "running ones finish, waiting ones go back to the backlog). `instances` lists the active ids, `draining` the others. " +
        "An explicit count, 0 included, is kept (a new agent otherwise starts with one instance). " +
        "The prototype's form (`?target_instances=` without a body) is accepted too.",
      tags: TAGS,
      permission: "scaling:write",
      params: AgentParams,
      body: ScaleBody,
      bodyRequired: false,
      legacyBody: (raw, query) => adaptLegacyScaleBody(raw, query) ?? {},
      responses: {
        200: { description: "The instances after the change.", schema: ScaleResponse },
        422: { description: "target_instances is not an integer in 0–MAX_INSTANCES." },
      },
    },
    async (c, { params, body }) => c.json(await scaling.scale(c.env, params.agent_id, body.target_instances, c.var.requestId)),
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/v2/agents/:agent_id/metrics",
      operationId: "agentMetrics",
      summary: "Per-instance load and a scaling recommendation, measured from the task records",
      description:
        "load = running ÷ TASK_CONCURRENCY_PER_INSTANCE. A backlog or an average load above 0.8 recommends scale_up (enough " +
        "instances for the tasks in flight and waiting), below 0.3 with more than one instance scale_down (never below what the " +
        "tasks in flight need); an enabled autoscale policy bounds the recommendation.",
      tags: TAGS,
      permission: "tasks:read",
      params: AgentParams,
      responses: { 200: { description: "The figures.", schema: MetricsResponse } },
    },
    async (c, { params }) => c.json(await scaling.metrics(c.env, params.agent_id)),
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/v2/agents/:agent_id/autoscale",
      operationId: "getAutoscale",
      summary: "The autoscale policy",
      tags: TAGS,
      permission: "tasks:read",
      params: AgentParams,
      responses: { 200: { description: "The policy (disabled unless configured).", schema: AutoscalePolicy } },
    },
    async (c, { params }) => c.json(await scaling.getAutoscale(c.env, params.agent_id)),
  );

  defineRoute(
    app,
    {
      method: "put",
      path: "/api/v2/agents/:agent_id/autoscale",
      operationId: "setAutoscale",
      summary: "Let the agent apply its own scaling recommendation periodically",
      description:
        "When enabled, the recommendation is applied at once and then every `interval_seconds` (a Durable Object alarm), " +
        "within min_instances–max_instances. Disabling stops the checks and keeps the current instances.",
      tags: TAGS,
      permission: "scaling:write",
      params: AgentParams,
      body: AutoscaleBody,
      responses: {
        200: { description: "The stored policy.", schema: AutoscalePolicy },
        422: { description: "Not 0 ≤ min_instances ≤ max_instances ≤ MAX_INSTANCES." },
      },
    },
    async (c, { params, body }) => c.json(await scaling.setAutoscale(c.env, params.agent_id, body)),
  );
}
