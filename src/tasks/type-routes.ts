/**
 * `GET /api/v2/task-types`: the built-in task types, each with the JSON Schema its `metadata` is
 * checked against at creation and the permissions it needs besides `tasks:write`, so a client
 * (the dashboard's create form) can build its input from the same schema the server validates.
 */
import type { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../http/app-env";
import { jsonSchema } from "../http/openapi";
import { defineRoute } from "../http/route";
import { BUILT_IN_TASK_TYPES } from "./handlers/registry";

export const TaskTypeList = z.object({
  task_types: z.array(
    z.object({
      task_type: z.string(),
      permissions: z.array(z.string()).describe("What creating one needs besides tasks:write."),
      input_schema: z
        .record(z.string(), z.unknown())
        .describe("JSON Schema of `metadata` (the same as #/components/schemas/TaskInput_<type>)."),
    }),
  ),
});

/** Computed once: the registry is fixed at build time. */
let cached: z.infer<typeof TaskTypeList> | undefined;

function taskTypes(): z.infer<typeof TaskTypeList> {
  cached ??= {
    task_types: Object.entries(BUILT_IN_TASK_TYPES).map(([taskType, d]) => ({
      task_type: taskType,
      permissions: [...d.permissions],
      input_schema: jsonSchema(d.input, "input"),
    })),
  };
  return cached;
}

export function registerTaskTypeRoutes(app: Hono<AppEnv>): void {
  defineRoute(
    app,
    {
      method: "get",
      path: "/api/v2/task-types",
      operationId: "listTaskTypes",
      summary: "The built-in task types with their metadata schemas",
      description: "Any other `task_type` is an external task, run by a worker that reports through /progress and /complete.",
      tags: ["tasks"],
      permission: "tasks:read",
      responses: { 200: { description: "The built-in types, in registry order.", schema: TaskTypeList } },
    },
    (c) => c.json(taskTypes()),
  );
}
