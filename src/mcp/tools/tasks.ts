/** Long-running tasks as MCP tools: the task routes' service and schemas (src/tasks/). */
import { z } from "zod";
import { AgentParams } from "../../state/schemas";
import { CreateTaskBody, CreateTaskResponse, LongRunningTask, ProgressBody, TaskList, TaskParams, TasksQuery } from "../../tasks/schemas";
import { BUILT_IN_TASK_TYPES } from "../../tasks/handlers/registry";
import { cancelTask, createTask, getTask, listTasks, reportProgress } from "../../tasks/service";
import { renderCreatedTask, renderTask, renderTaskPage } from "../../tasks/wire";
import { defineTool, READ_ONLY, WRITES, type McpTool } from "../tool";

/** The route's `Idempotency-Key` header, as an argument. */
const IdempotencyKey = z
  .string()
  .min(1)
  .max(200)
  .describe("Retrying a create with the same key (per agent, for 24 h) returns the first task instead of making another.");

/** Each built-in type with its metadata fields and extra permissions, from the task type registry. */
const BUILT_IN_TYPES = Object.entries(BUILT_IN_TASK_TYPES)
  .map(([type, d]) => {
    // The fields as sent; a schema that adapts its input first (send_email) shows them as parsed.
    const schema = (io: "input" | "output") =>
      z.toJSONSchema(d.input, { io, unrepresentable: "any" }) as { properties?: object; required?: string[] };
    const input = schema("input");
    const js = input.properties ? input : schema("output");
    const fields = Object.keys(js.properties ?? {}).map((f) => (js.required?.includes(f) ? `${f}*` : f));
    const needs = d.permissions.length > 0 ? `; needs ${d.permissions.join(", ")}` : "";
    return `\`${type}\` (${fields.join(", ") || "no fields"}${needs})`;
  })
  .join(", ");

export const TASK_TOOLS: readonly McpTool[] = [
  defineTool({
    name: "create_task",
    title: "Create a task",
    description:
      "Start a long-running task for an agent. The built-in `task_type`s run on the server's queue, and their `metadata` is checked at creation " +
      `(fields, * = required): ${BUILT_IN_TYPES}. Any other type waits for an external worker that reports with \`update_task_progress\`. ` +
      "`requires_approval` holds the task until a person approves it by email (needs `email:send`). The task starts `pending`; follow it with `get_task`. " +
      "Give an `idempotency_key` when you may retry, so a retry does not start a second task.",
    mirrors: "POST /api/v2/agents/{agent_id}/tasks",
    permission: "tasks:write",
    input: AgentParams.extend(CreateTaskBody.shape).extend({ idempotency_key: IdempotencyKey.optional() }).strict(),
    output: CreateTaskResponse,
    annotations: WRITES,
    async run(ctx, input) {
      const { agent_id: agentId, idempotency_key: idempotencyKey, ...body } = input;
      const { task } = await createTask(ctx.env, { agentId, principal: ctx.principal, body, idempotencyKey, requestId: ctx.requestId });
      return renderCreatedTask(task);
    },
  }),
  defineTool({
    name: "get_task",
    title: "Get a task",
    description:
      "Read one task: its status (pending, running, completed, failed, cancelled), progress 0–100 and message, result or error, attempts and timestamps. " +
      "`waiting_for_approval` is true while an approval holds it. An unknown id is an error with code `not_found`.",
    mirrors: "GET /api/v2/tasks/{task_id}",
    permission: "tasks:read",
    input: TaskParams.strict(),
    output: LongRunningTask,
    annotations: READ_ONLY,
    run: async (ctx, input) => renderTask(await getTask(ctx.env, input.task_id, ctx.principal)),
  }),
  defineTool({
    name: "update_task_progress",
    title: "Report task progress",
    description:
      "Report progress on a task you are running as its external worker: `progress` 0–100 (clamped) and an optional `message`; a pending task becomes running. " +
      "Refused with code `conflict` when the task is already finished, or while it waits for its approval (the error names `approval_id`).",
    mirrors: "PUT /api/v2/tasks/{task_id}/progress",
    permission: "tasks:write",
    input: TaskParams.extend(ProgressBody.shape).strict(),
    output: LongRunningTask,
    annotations: WRITES,
    run: async (ctx, { task_id: taskId, ...update }) =>
      renderTask(await reportProgress(ctx.env, taskId, ctx.principal, update, ctx.requestId)),
  }),
  defineTool({
    name: "cancel_task",
    title: "Cancel a task",
    description:
      "Cancel a task: a pending one never runs, a running handler stops at its next checkpoint, and a waiting approval no longer starts it. " +
      "A task that already finished is refused with code `conflict` and stays as it is.",
    mirrors: "POST /api/v2/tasks/{task_id}/cancel",
    permission: "tasks:write",
    input: TaskParams.strict(),
    output: LongRunningTask,
    annotations: { ...WRITES, destructiveHint: true },
    run: async (ctx, input) => renderTask(await cancelTask(ctx.env, input.task_id, ctx.principal, ctx.requestId)),
  }),
  defineTool({
    name: "list_tasks",
    title: "List an agent's tasks",
    description:
      "List an agent's tasks in creation order, optionally only those with one `status`. Pages of `limit` (default 20); pass `next_cursor` as `cursor` for the next page.",
    mirrors: "GET /api/v2/agents/{agent_id}/tasks",
    permission: "tasks:read",
    input: AgentParams.extend(TasksQuery.shape).strict(),
    output: TaskList,
    annotations: READ_ONLY,
    run: async (ctx, { agent_id: agentId, ...query }) => renderTaskPage(await listTasks(ctx.env, agentId, query)),
  }),
];
