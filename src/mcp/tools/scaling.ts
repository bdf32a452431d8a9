/** Horizontal scaling as MCP tools: the scaling routes' service and schemas (src/scaling/). */
import { MetricsResponse, ScaleBody, ScaleResponse } from "../../scaling/schemas";
import { metrics, scale } from "../../scaling/service";
import { AgentParams } from "../../state/schemas";
import { defineTool, READ_ONLY, WRITES, type McpTool } from "../tool";

export const SCALING_TOOLS: readonly McpTool[] = [
  defineTool({
    name: "scale_agent",
    title: "Scale an agent",
    description:
      "Set how many instances (parallel task lanes) an agent runs, 0 to the server's MAX_INSTANCES (32 unless configured; more is refused with code `validation_failed`). " +
      "Growing dispatches waiting tasks at once; shrinking drains the highest instances (running tasks finish, waiting ones return to the backlog); 0 pauses the agent's tasks. " +
      "Check `get_agent_metrics` first: its `recommended_instances` is a good target.",
    mirrors: "POST /api/v2/agents/{agent_id}/scale",
    permission: "scaling:write",
    input: AgentParams.extend(ScaleBody.shape).strict(),
    output: ScaleResponse,
    annotations: { ...WRITES, idempotentHint: true },
    run: (ctx, input) => scale(ctx.env, input.agent_id, input.target_instances, ctx.requestId),
  }),
  defineTool({
    name: "get_agent_metrics",
    title: "Get agent load metrics",
    description:
      "Measure an agent's load from its task records: per instance the running and waiting tasks, completions, failures and durations of the last 5 minutes; " +
      "the backlog (`queue_depth`); and a `scaling_recommendation` (scale_up, scale_down or maintain) with `recommended_instances` and the `reason`.",
    mirrors: "GET /api/v2/agents/{agent_id}/metrics",
    permission: "tasks:read",
    input: AgentParams.strict(),
    output: MetricsResponse,
    annotations: READ_ONLY,
    run: (ctx, input) => metrics(ctx.env, input.agent_id),
  }),
];
