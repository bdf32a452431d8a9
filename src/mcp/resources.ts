/**
 * MCP resources: an agent's current state and a task, by URI template. Like a tool, each names
 * the route it mirrors and that route's permission, parses its URI variables with the route's
 * path schema and reads through the route's service (src/mcp/server.ts applies the checks).
 */
import type { z } from "zod";
import type { Permission } from "../auth/principal";
import { AgentParams } from "../state/schemas";
import { loadState } from "../state/service";
import { TaskParams } from "../tasks/schemas";
import { getTask } from "../tasks/service";
import { renderTask } from "../tasks/wire";
import type { ObjectSchema, ToolContext } from "./tool";

export interface McpResource<P extends ObjectSchema = ObjectSchema> {
  name: string;
  title: string;
  description: string;
  /** RFC 6570 level 1: each `{variable}` is one path segment or host, percent-encoded. */
  uriTemplate: string;
  mirrors: string;
  permission: Permission;
  /** The variables, checked with the mirrored route's path schema. */
  params: P;
  /** The resource as JSON text. */
  read(ctx: ToolContext, params: z.output<P>): Promise<string>;
}

function defineResource<P extends ObjectSchema>(resource: McpResource<P>): McpResource {
  return resource as unknown as McpResource;
}

export const MCP_RESOURCES: readonly McpResource[] = [
  defineResource({
    name: "agent_state",
    title: "Agent state",
    description: "The agent's current state document (as `load_agent_state` returns it).",
    uriTemplate: "agent://{agent_id}/state",
    mirrors: "GET /api/v2/agents/{agent_id}/state",
    permission: "state:read",
    params: AgentParams,
    read: async (ctx, { agent_id: agentId }) => (await loadState(ctx.env, agentId, "strong")).json,
  }),
  defineResource({
    name: "task",
    title: "Task",
    description: "One task with its status, progress and result (as `get_task` returns it).",
    uriTemplate: "task://{task_id}",
    mirrors: "GET /api/v2/tasks/{task_id}",
    permission: "tasks:read",
    params: TaskParams,
    read: async (ctx, { task_id: taskId }) => JSON.stringify(renderTask(await getTask(ctx.env, taskId, ctx.principal))),
  }),
];
