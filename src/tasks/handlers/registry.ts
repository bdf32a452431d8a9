/**
 * The built-in task types, each a declaration: its handler, the zod schema of its `metadata`
 * (checked when a task is created, and again by the handler when it runs, for tasks stored
 * before a rule existed), the permissions a caller needs beyond `tasks:write` to create one, and
 * checks that need the environment (an outbound URL policy). A task type not listed here has no
 * built-in handler: it is an external task, executed by a worker that reports through the API.
 */
import { z } from "zod";
import type { Permission } from "../../auth/principal";
import { adaptSendBody, SendBody } from "../../email/schemas";
import type { FieldError } from "../../lib/problem";
import type { TaskHandler } from "../handler";
import { dataAnalysis, DataAnalysisInput } from "./data-analysis";
import { delay, DelayInput } from "./delay";
import { checkHttpRequestTarget, httpRequest, HttpRequestInput } from "./http-request";
import { noop, NoopInput } from "./noop";
import { sendEmail } from "./send-email";

export interface TaskTypeDeclaration<S extends z.ZodType = z.ZodType> {
  handler: TaskHandler;
  /** The schema of `metadata`; its JSON Schema is published as `TaskInput_<type>`. */
  input: S;
  /** What the caller needs besides `tasks:write`: whatever the task does on the caller's behalf. */
  permissions: readonly Permission[];
  /** Rules beyond the schema that need the environment or the task's agent; paths are relative to `metadata`. */
  check?: (input: z.output<S>, env: Env, task: { agentId: string }) => FieldError[] | Promise<FieldError[]>;
}

/** Ties `check` to the schema's output type, then stores the declaration under the common type. */
function declare<S extends z.ZodType>(declaration: TaskTypeDeclaration<S>): TaskTypeDeclaration {
  return declaration as unknown as TaskTypeDeclaration;
}

export const BUILT_IN_TASK_TYPES: Record<string, TaskTypeDeclaration> = {
  data_analysis: declare({ handler: dataAnalysis, input: DataAnalysisInput, permissions: [] }),
  // Its target must pass the outbound policy (src/lib/outbound-policy.ts) already at creation.
  http_request: declare({ handler: httpRequest, input: HttpRequestInput, permissions: [], check: checkHttpRequestTarget }),
  noop: declare({ handler: noop, input: NoopInput, permissions: [] }),
  delay: declare({ handler: delay, input: DelayInput, permissions: [] }),
  // It sends mail, so it needs what POST /api/v2/email/send needs. The same SendBody (with the
  // older one-string `to`) validates the send route and this task's metadata.
  send_email: declare({
    handler: sendEmail,
    input: z.preprocess(adaptSendBody, SendBody),
    permissions: ["email:send"],
    // The handler refuses this too (tasks stored before the check); here it is a 422 at creation.
    check: (input, _env, task) =>
      input.agent_id !== undefined && input.agent_id !== task.agentId
        ? [{ path: "agent_id", message: `a task sends as its own agent '${task.agentId}', not '${input.agent_id}'` }]
        : [],
  }),
};

/** The declaration of `taskType`, or undefined for an external task type. */
export function taskTypeFor(taskType: string): TaskTypeDeclaration | undefined {
  // Own keys only: "constructor" or "toString" must not resolve to Object.prototype members.
  return Object.hasOwn(BUILT_IN_TASK_TYPES, taskType) ? BUILT_IN_TASK_TYPES[taskType] : undefined;
}

/** The built-in handler for `taskType`, or undefined for an external task type. */
export function handlerFor(taskType: string): TaskHandler | undefined {
  return taskTypeFor(taskType)?.handler;
}
