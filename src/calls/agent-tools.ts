/**
 * What the answering agent of a call may do besides talking: the product's own capabilities,
 * through the same services (and so the same rules) as the API, always for the call's agent.
 *
 * The agent acts as a principal limited to that one agent (`via: "call_agent"`, id = the call's
 * id, the developer role's permissions): the services' own `requireAgent` checks hold, and no
 * tool takes an `agent_id` (each input is strict, so a model that names one, or any unknown
 * field, gets a validation error back and nothing happens). The inputs are the API's own body
 * schemas (the task tool a subset of its fields); the approval tool's fields are listed here because
 * its body schema, refined, cannot be narrowed, and pass through that schema with the agent id added.
 */
import { z } from "zod";
import type { Principal } from "../auth/principal";
import { renderCreatedApproval } from "../approvals/model";
import { CreateApprovalBody } from "../approvals/schemas";
import { requestApproval } from "../approvals/service";
import { toAppError } from "../http/errors";
import { logError } from "../lib/log";
import { AppError } from "../lib/problem";
import type { ToolSpec } from "../llm/types";
import { SaveStateBody } from "../state/schemas";
import { loadState, saveState } from "../state/service";
import { CreateTaskBody } from "../tasks/schemas";
import { createTask } from "../tasks/service";
import { renderCreatedTask } from "../tasks/wire";

export interface AgentToolContext {
  env: Env;
  agentId: string;
  callId: string;
  requestId: string;
}

/** What a tool did: the JSON given back to the model, and one line for the transcript. */
export interface ToolOutcome {
  ok: boolean;
  result: unknown;
  summary: string;
}

interface AgentTool<S extends z.ZodType> {
  name: string;
  description: string;
  input: S;
  run(ctx: AgentToolContext, input: z.output<S>): Promise<{ result: unknown; summary: string }>;
}

function tool<S extends z.ZodType>(t: AgentTool<S>): AgentTool<z.ZodType> {
  return t as unknown as AgentTool<z.ZodType>;
}

/** The call's agent as a principal: one agent, and what a developer credential may do. */
export function callAgentPrincipal(ctx: Pick<AgentToolContext, "agentId" | "callId">): Principal {
  return { id: ctx.callId, role: "developer", agents: [ctx.agentId], via: "call_agent" };
}

const TOOLS = [
  tool({
    name: "load_agent_state",
    description: "Read your own saved state (the JSON object you keep between calls) and its version.",
    input: z.object({}).strict(),
    async run(ctx) {
      try {
        const loaded = await loadState(ctx.env, ctx.agentId, "strong");
        const doc = JSON.parse(loaded.json) as { state_data?: unknown; version?: number };
        return { result: { version: doc.version, state_data: doc.state_data }, summary: `read state version ${loaded.version}` };
      } catch (err) {
        if (err instanceof AppError && err.code === "not_found")
          return { result: { version: 0, state_data: {} }, summary: "no state saved yet" };
        throw err;
      }
    },
  }),
  tool({
    name: "save_agent_state",
    description:
      "Save your state: `state_data` (a JSON object) becomes the new version. Pass `expected_version` (the version you read) so you never overwrite a newer save.",
    input: SaveStateBody,
    async run(ctx, input) {
      const { version } = await saveState(ctx.env, {
        agentId: ctx.agentId,
        agentType: input.agent_type,
        stateData: input.state_data,
        expectedVersion: input.expected_version,
        requestId: ctx.requestId,
      });
      return { result: { success: true, version }, summary: `saved state version ${version}` };
    },
  }),
  tool({
    name: "create_task",
    description:
      "Start a long-running task: `task_type` (built-in: data_analysis, http_request, noop, delay, send_email; any other type waits for an external worker) and its `metadata`.",
    input: CreateTaskBody.pick({ task_type: true, metadata: true, timeout_seconds: true }).strict(),
    async run(ctx, input) {
      const body = CreateTaskBody.parse(input);
      const { task } = await createTask(ctx.env, {
        agentId: ctx.agentId,
        principal: callAgentPrincipal(ctx),
        body,
        requestId: ctx.requestId,
      });
      return { result: renderCreatedTask(task), summary: `created task ${task.task_id} (${task.task_type})` };
    },
  }),
  tool({
    name: "request_approval",
    description:
      "Ask a person to approve or reject something: they get an email with approve and reject links. Give a short `title`, a `description`, and the approver's email address.",
    input: z
      .object({
        title: z.string(),
        description: z.string(),
        approver_email: z.string(),
        expires_in_hours: z.number().optional(),
        data: z.unknown().optional(),
      })
      .strict(),
    async run(ctx, input) {
      const body = CreateApprovalBody.parse({ ...input, agent_id: ctx.agentId });
      const { approval, email } = await requestApproval(ctx.env, callAgentPrincipal(ctx), body, ctx.requestId);
      return {
        result: renderCreatedApproval(approval, email),
        summary: `requested approval ${approval.approval_id} from ${approval.approver_email} ("${approval.title}")`,
      };
    },
  }),
];

/** The tools as the model sees them (JSON Schema parameters from the same zod schemas). */
export const AGENT_TOOL_SPECS: readonly ToolSpec[] = TOOLS.map((t) => ({
  name: t.name,
  description: t.description,
  parameters: z.toJSONSchema(t.input, { io: "input", unrepresentable: "any" }) as Record<string, unknown>,
}));

function failure(ctx: AgentToolContext, name: string, err: unknown): ToolOutcome {
  if (err instanceof z.ZodError) {
    const issue = err.issues[0];
    const detail = `${issue?.path.join(".") || "(input)"}: ${issue?.message ?? "invalid"}`;
    return { ok: false, result: { error: { code: "validation_failed", detail } }, summary: `${name} refused: ${detail}` };
  }
  if (err instanceof AppError)
    return { ok: false, result: { error: { code: err.code, detail: err.message } }, summary: `${name} refused: ${err.message}` };
  // As for an HTTP request: the cause is logged, while the model and the transcript (which the
  // call's participants read) get the generic message, never an internal one.
  const appError = toAppError(err instanceof Error ? err : new Error(String(err)));
  logError({
    event: "call.agent_tool_failed",
    request_id: ctx.requestId,
    call_id: ctx.callId,
    tool: name,
    error: String((err as Error | undefined)?.stack ?? err),
  });
  return {
    ok: false,
    result: { error: { code: appError.code, detail: appError.message } },
    summary: `${name} failed: ${appError.message}`,
  };
}

/** Runs one tool call of the model; never throws (a refusal is an outcome the model reads). */
export async function runAgentTool(ctx: AgentToolContext, name: string, argumentsText: string): Promise<ToolOutcome> {
  const found = TOOLS.find((t) => t.name === name);
  if (!found) return { ok: false, result: { error: { code: "not_found", detail: `No tool '${name}'.` } }, summary: `unknown tool ${name}` };
  let raw: unknown;
  try {
    raw = argumentsText.trim() === "" ? {} : JSON.parse(argumentsText);
  } catch {
    return {
      ok: false,
      result: { error: { code: "invalid_json", detail: "The arguments are not JSON." } },
      summary: `${name} refused: arguments are not JSON`,
    };
  }
  try {
    const input = found.input.parse(raw);
    const done = await found.run(ctx, input);
    return { ok: true, ...done };
  } catch (err) {
    return failure(ctx, name, err);
  }
}
