/** Routes for long-running tasks: parse, call the task service, shape. */
import type { Hono } from "hono";
import type { AppEnv } from "../http/app-env";
import { defineRoute } from "../http/route";
import { AgentParams } from "../state/schemas";
import {
  CompleteBody,
  CreateTaskBody,
  CreateTaskResponse,
  LongRunningTask,
  ProgressBody,
  TaskList,
  TaskParams,
  TasksQuery,
  adaptLegacyCreateBody,
  adaptLegacyProgressBody,
} from "./schemas";
import * as tasks from "./service";
import { BUILT_IN_TASK_TYPES } from "./handlers/registry";
import { renderCreatedTask, renderTask, renderTaskPage } from "./wire";

const TAGS = ["tasks"];
/** Every route that finds a task by id alone reads its agent from D1 (once per agent and isolate). */
const lookupErrors = {
  404: { description: "Unknown task." },
  503: { description: "The task index (D1) could not be read." },
};
const transitionErrors = {
  ...lookupErrors,
  409: { description: "The task is in a state that forbids this (e.g. already terminal)." },
  422: { description: "The body does not match the schema." },
};
const reportErrors = {
  ...transitionErrors,
  409: {
    description:
      "The task is in a state that forbids this (e.g. already terminal), or it waits for its approval: then the problem names it in `approval_id` and the task is unchanged.",
  },
};

/** Each built-in type's metadata schema and extra permissions, from the task type registry. */
const BUILT_IN_TYPES_NOTE = Object.entries(BUILT_IN_TASK_TYPES)
  .map(
    ([type, d]) =>
      `\`${type}\` (\`TaskInput_${type}\`${d.permissions.length ? `; needs ${d.permissions.map((p) => `\`${p}\``).join(", ")}` : ""})`,
  )
  .join(", ");

/** Each built-in type's `metadata` schema, as checked when such a task is created. */
const TASK_INPUT_COMPONENTS = Object.fromEntries(
  Object.entries(BUILT_IN_TASK_TYPES).map(([type, d]) => [
    `TaskInput_${type}`,
    {
      schema: d.input,
      description: `\`metadata\` of a \`${type}\` task${d.permissions.length ? `; creating one needs ${d.permissions.join(", ")}` : ""}.`,
    },
  ]),
);

export function registerTaskRoutes(app: Hono<AppEnv>): void {
  defineRoute(
    app,
    {
      method: "post",
      path: "/api/v2/agents/:agent_id/tasks",
      operationId: "createTask",
      summary: "Create a long-running task",
      description:
        "Built-in task types run on the queue; others wait for an external worker. `Idempotency-Key` returns the first task for 24 h. " +
        "The prototype's form (`?task_type=` with the metadata itself as body) is accepted too. " +
        `Built-in types, with the schema their \`metadata\` is checked against at creation (under #/components/schemas) and the permissions they need besides \`tasks:write\`: ${BUILT_IN_TYPES_NOTE}. ` +
        "`requires_approval` needs `email:send`.",
      tags: TAGS,
      permission: "tasks:write",
      params: AgentParams,
      headers: { "Idempotency-Key": "Retrying a create with the same key (per agent, 24 h) returns the first task." },
      body: CreateTaskBody,
      bodyRequired: false,
      components: TASK_INPUT_COMPONENTS,
      legacyBody: (raw, query) => adaptLegacyCreateBody(raw ?? (query.task_type ? {} : undefined), query),
      responses: {
        202: { description: "Accepted.", schema: CreateTaskResponse, headers: { Location: "The task's URL." } },
        200: { description: "An earlier create with the same Idempotency-Key.", schema: CreateTaskResponse },
        403: {
          description:
            "The role lacks `tasks:write`, or a permission the task type or `requires_approval` needs (named in `permission`); nothing is stored.",
        },
        413: { description: "metadata exceeds 1 MiB." },
        422: {
          description:
            "The body does not match the schema, or a built-in type's metadata does not match its input schema (`errors` name `metadata.<field>`); nothing is stored.",
        },
        503: {
          description:
            "requires_approval, but no signing secret (APPROVAL_SIGNING_SECRET / JWT_SECRET) is configured; or, on an agent's first create, its task id prefix could not be registered in D1 (nothing was stored).",
        },
      },
    },
    async (c, { params, body }) => {
      const key = c.req.header("idempotency-key");
      const { task, created } = await tasks.createTask(c.env, {
        agentId: params.agent_id,
        principal: c.var.principal,
        body,
        idempotencyKey: key ? key.slice(0, 200) : undefined,
        requestId: c.var.requestId,
      });
      c.header("Location", `/api/v2/tasks/${task.task_id}`);
      return c.json(renderCreatedTask(task), created ? 202 : 200);
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/v2/agents/:agent_id/tasks",
      operationId: "listTasks",
      summary: "An agent's tasks, in creation order",
      tags: TAGS,
      permission: "tasks:read",
      params: AgentParams,
      query: TasksQuery,
      responses: {
        200: { description: "A page of tasks.", schema: TaskList },
      },
    },
    async (c, { params, query }) => c.json(renderTaskPage(await tasks.listTasks(c.env, params.agent_id, query))),
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/v2/tasks/:task_id",
      operationId: "getTask",
      summary: "One task",
      tags: TAGS,
      permission: "tasks:read",
      params: TaskParams,
      responses: { 200: { description: "The task.", schema: LongRunningTask }, ...lookupErrors },
    },
    async (c, { params }) => c.json(renderTask(await tasks.getTask(c.env, params.task_id, c.var.principal))),
  );

  defineRoute(
    app,
    {
      method: "put",
      path: "/api/v2/tasks/:task_id/progress",
      operationId: "reportTaskProgress",
      summary: "Report progress (external workers)",
      description:
        "Progress is clamped to 0–100; a pending task becomes running (started_at set once). The prototype's query form is accepted. " +
        "A task waiting for its approval (`waiting_for_approval`) is refused with 409 naming `approval_id`.",
      tags: TAGS,
      permission: "tasks:write",
      params: TaskParams,
      body: ProgressBody,
      bodyRequired: false,
      legacyBody: adaptLegacyProgressBody,
      responses: { 200: { description: "The task as stored.", schema: LongRunningTask }, ...reportErrors },
    },
    async (c, { params, body }) =>
      c.json(renderTask(await tasks.reportProgress(c.env, params.task_id, c.var.principal, body, c.var.requestId))),
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/api/v2/tasks/:task_id/complete",
      operationId: "completeTask",
      summary: "Finish a task: completed with result, or failed with error_message",
      description:
        "A task waiting for its approval (`waiting_for_approval`) is refused with 409 naming `approval_id`; it can still be cancelled.",
      tags: TAGS,
      permission: "tasks:write",
      params: TaskParams,
      body: CompleteBody,
      bodyRequired: false,
      // No body at all is `{}`: completed, with a null result.
      legacyBody: (raw) => raw ?? {},
      responses: { 200: { description: "The task as stored.", schema: LongRunningTask }, ...reportErrors },
    },
    async (c, { params, body }) =>
      c.json(renderTask(await tasks.completeTask(c.env, params.task_id, c.var.principal, body, c.var.requestId))),
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/api/v2/tasks/:task_id/cancel",
      operationId: "cancelTask",
      summary: "Cancel a task; a running handler stops at its next checkpoint",
      tags: TAGS,
      permission: "tasks:write",
      params: TaskParams,
      responses: { 200: { description: "The task as stored.", schema: LongRunningTask }, ...transitionErrors },
    },
    async (c, { params }) => c.json(renderTask(await tasks.cancelTask(c.env, params.task_id, c.var.principal, c.var.requestId))),
  );
}
