/** zod schemas for tasks and scaling: validation, types and OpenAPI in one place. */
import { z } from "zod";
import { AgentId } from "../state/schemas";
import { TASK_STATUSES } from "./model";

/** `task_` + the agent's 12-hex prefix + 20 random hex; tasks made before prefixes: `task_` + 24 hex. */
export const TaskId = z.string().regex(/^task_(?:[0-9a-f]{32}|[0-9a-f]{24})$/, "an id of the form task_…");
export const TaskParams = z.object({ task_id: TaskId });
export const TaskStatus = z.enum(TASK_STATUSES);

const RequiresApproval = z
  .object({
    approver_email: z.email(),
    title: z.string().max(200).optional(),
    description: z.string().max(5000).optional(),
    expires_in_hours: z.number().positive().max(720).optional(),
  })
  .strict();

export const CreateTaskBody = z
  .object({
    task_type: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/, "1–64 characters of [A-Za-z0-9._:-]")
      .describe(
        "Built-in: data_analysis, http_request, noop, delay, send_email (each with its metadata schema, `TaskInput_<type>`, and the permissions it needs: see createTask). Any other type is an external task, run by a worker that reports through /progress and /complete.",
      ),
    metadata: z
      .record(z.string(), z.unknown())
      .default({})
      .describe(
        "Input for the handler: for a built-in type, checked against `#/components/schemas/TaskInput_<type>` at creation (422 naming `metadata.<field>`). " +
          'Stored as given, but in every read the values of credential headers inside a `headers` object are shown as "[redacted]".',
      ),
    max_attempts: z
      .number()
      .int()
      .min(1)
      .max(10)
      .default(3)
      .describe("Attempts before the task fails, with exponential backoff between them."),
    timeout_seconds: z.number().int().min(1).max(86_400).default(300).describe("A running task silent for this long fails as timed out."),
    requires_approval: RequiresApproval.optional().describe(
      "Run only after a human approves by email; needs `email:send`, since the approval is mailed.",
    ),
  })
  .strict();
export type CreateTaskBody = z.infer<typeof CreateTaskBody>;

/** The prototype sent `?task_type=` with the metadata object itself as body. */
export function adaptLegacyCreateBody(raw: unknown, query: Record<string, string>): unknown {
  if (query.task_type === undefined) return raw;
  return { task_type: query.task_type, metadata: raw ?? {} };
}

export const ProgressBody = z
  .object({
    progress: z.number().describe("0–100; values outside are clamped (the answer shows the stored value)."),
    status: z.enum(["pending", "running"]).optional(),
    message: z.string().max(2000).optional(),
  })
  .strict();

/** The prototype sent `?progress=&status=&message=` with no body. */
export function adaptLegacyProgressBody(raw: unknown, query: Record<string, string>): unknown {
  if (raw !== undefined || query.progress === undefined) return raw;
  const progress = Number(query.progress);
  return {
    progress: Number.isFinite(progress) && query.progress.trim() !== "" ? progress : query.progress,
    ...(query.status !== undefined ? { status: query.status } : {}),
    ...(query.message !== undefined ? { message: query.message } : {}),
  };
}

export const CompleteBody = z
  .object({
    result: z.unknown().optional().describe("Any JSON value: the task becomes completed."),
    error_message: z.string().max(10_000).optional().describe("The task becomes failed with this message."),
  })
  .strict()
  .refine((b) => !(b.result !== undefined && b.error_message !== undefined), { message: "give result or error_message, not both" });

export const TasksQuery = z.object({
  status: TaskStatus.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z
    .string()
    .regex(/^\d{1,15}$/, "a cursor returned as next_cursor")
    .optional(),
});

export const LongRunningTask = z.object({
  task_id: z.string(),
  agent_id: z.string(),
  task_type: z.string(),
  status: TaskStatus,
  progress: z.number(),
  progress_message: z.string().nullable(),
  result: z.unknown(),
  error_message: z.string().nullable(),
  created_at: z.string(),
  started_at: z.string().nullable(),
  completed_at: z.string().nullable(),
  metadata: z.record(z.string(), z.unknown()),
  attempts: z.number().int(),
  max_attempts: z.number().int(),
  timeout_seconds: z.number().int(),
  instance_id: z.string().nullable(),
  approval_id: z
    .string()
    .nullable()
    .describe("The approval the task was created behind (`requires_approval`); kept after the decision. Null for an ungated task."),
  waiting_for_approval: z
    .boolean()
    .describe(
      "True while the approval is pending: the task is not run, and progress or completion reports are refused (409) until it is approved.",
    ),
});

export const TaskList = z.object({ tasks: z.array(LongRunningTask), next_cursor: z.string().nullable() });

export const CreateTaskResponse = z.object({
  success: z.literal(true),
  task_id: z.string(),
  agent_id: AgentId,
  task_type: z.string(),
  status: TaskStatus,
});
