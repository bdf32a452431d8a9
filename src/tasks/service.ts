/**
 * Task use cases: create (idempotent), read, list, report progress, complete, cancel. The
 * agent's Durable Object holds every task and makes its id: `task_` + the agent's prefix +
 * random hex. D1's `task_id_prefixes` maps a prefix to its agent (registered before the agent's
 * first task: durable-objects/agent/task-ids.ts); tasks made before prefixes are in `task_index`.
 */
import { requireAgent, type Principal } from "../auth/principal";
import { newId, taskIdPrefix } from "../lib/ids";
import { log, logError } from "../lib/log";
import { AppError } from "../lib/problem";
import { unwrap } from "../lib/result";
import { createApproval, requireApprovalSigning } from "../approvals/service";
import { admitTask } from "./admission";
import { handlerFor } from "./handlers/registry";
import type { TaskRecord, TaskResult, TaskStatus } from "./model";
import { readRedacted } from "./redact";
import type { CreateTaskBody } from "./schemas";

/** Task metadata travels in the Durable Object's row, which holds up to 2 MB. */
export const MAX_METADATA_BYTES = 1024 * 1024;

function stub(env: Env, agentId: string) {
  return env.AGENT.getByName(agentId);
}

function taskValue<T>(taskId: string, result: TaskResult<T>): T {
  return unwrap(result, (failure) =>
    failure.reason === "not_found"
      ? new AppError("not_found", `No task '${taskId}'.`)
      : new AppError("conflict", `Task '${taskId}' is ${failure.status}: ${failure.detail}.`, {
          extensions: { status: failure.status, ...(failure.approvalId ? { approval_id: failure.approvalId } : {}) },
        }),
  );
}

export async function createTask(
  env: Env,
  req: { agentId: string; principal: Principal; body: CreateTaskBody; idempotencyKey?: string; requestId: string },
): Promise<{ task: TaskRecord; created: boolean }> {
  // Permissions and input first: a refused task leaves no row, no queue message and no approval.
  await admitTask(env, req.principal, req.agentId, req.body);
  const gate = req.body.requires_approval;
  // Refuse before anything is stored when approvals cannot sign their links (503).
  if (gate) requireApprovalSigning(env);
  const metadataJson = JSON.stringify(req.body.metadata);
  // Bytes of UTF-8, not string units: "é" is one unit but two bytes (cheap bound first).
  if (metadataJson.length * 3 > MAX_METADATA_BYTES && new TextEncoder().encode(metadataJson).byteLength > MAX_METADATA_BYTES) {
    throw new AppError("payload_too_large", `metadata is over ${MAX_METADATA_BYTES} bytes of JSON.`);
  }
  // A gated task is stored waiting for this approval (not dispatched), then the approval is made.
  const approvalId = gate ? newId("approval") : undefined;
  const nowMs = Date.now();
  const outcome = await stub(env, req.agentId).createTask(
    {
      agentId: req.agentId,
      taskType: req.body.task_type,
      metadataJson,
      maxAttempts: req.body.max_attempts,
      timeoutSeconds: req.body.timeout_seconds,
      executor: handlerFor(req.body.task_type) ? "queue" : "external",
      idempotencyKey: req.idempotencyKey,
      nowMs,
      requestId: req.requestId,
    },
    approvalId ? { approvalId } : undefined,
  );
  if ("indexError" in outcome) {
    logError({ event: "task.index_failed", request_id: req.requestId, agent_id: req.agentId, error: outcome.indexError });
    throw new AppError("service_unavailable", "The task index (D1) could not be written, so nothing was created; retry the request.");
  }
  const taskId = outcome.task.task_id;
  remember(taskIdPrefix(taskId) ?? taskId, req.agentId);
  if (outcome.created)
    log({ event: "task.created", request_id: req.requestId, agent_id: req.agentId, task_id: taskId, task_type: req.body.task_type });
  if (gate && approvalId && outcome.created) await createTaskApproval(env, req, metadataJson, taskId, approvalId, gate);
  return outcome;
}

/** The approval of a `requires_approval` task; if it cannot be created, the task is cancelled. */
async function createTaskApproval(
  env: Env,
  req: { agentId: string; body: CreateTaskBody; requestId: string },
  metadataJson: string,
  taskId: string,
  approvalId: string,
  gate: NonNullable<CreateTaskBody["requires_approval"]>,
): Promise<void> {
  try {
    await createApproval(
      env,
      {
        agentId: req.agentId,
        taskId,
        title: gate.title ?? `Run task ${req.body.task_type} for agent ${req.agentId}`,
        description:
          gate.description ?? `Agent ${req.agentId} wants to run a ${req.body.task_type} task (${taskId}). It starts once you approve.`,
        approverEmail: gate.approver_email,
        expiresInHours: gate.expires_in_hours ?? 24,
        // The approval's data is read by the approver and shown by the API: redacted like any task read.
        data: { task_id: taskId, task_type: req.body.task_type, metadata: readRedacted(metadataJson) },
        onExpire: "reject",
      },
      req.requestId,
      approvalId,
    );
  } catch (err) {
    await stub(env, req.agentId).cancelTask(taskId, req.requestId);
    throw err;
  }
}

/**
 * Finds a task's agent from its id's prefix (or, for a task made before prefixes, its own
 * task_index row), then enforces the caller's agent restriction (403). An unknown prefix is
 * 404; whether a task exists under a known one is the agent's Durable Object's answer.
 */
export async function agentOfTask(env: Env, taskId: string, principal: Principal): Promise<string> {
  const prefix = taskIdPrefix(taskId);
  const key = prefix ?? taskId;
  let agentId = knownAgents.get(key);
  if (agentId === undefined) {
    let row: { agent_id: string } | null;
    try {
      row = await (
        prefix
          ? env.DB.prepare("SELECT agent_id FROM task_id_prefixes WHERE prefix = ?").bind(prefix)
          : env.DB.prepare("SELECT agent_id FROM task_index WHERE task_id = ?").bind(taskId)
      ).first<{ agent_id: string }>();
    } catch (err) {
      throw new AppError("service_unavailable", "The task index (D1) could not be read; retry the request.", { cause: err });
    }
    if (!row) throw new AppError("not_found", `No task '${taskId}'.`);
    agentId = row.agent_id;
    remember(key, agentId);
  }
  requireAgent(principal, agentId);
  return agentId;
}

function remember(key: string, agentId: string): void {
  if (knownAgents.has(key)) return;
  if (knownAgents.size >= KNOWN_AGENTS_MAX) knownAgents.delete(knownAgents.keys().next().value as string);
  knownAgents.set(key, agentId);
}

/**
 * Prefix (or legacy task id) → agent, remembered per isolate: it never changes, so an external
 * worker's stream of progress reports, and every task of an agent, read D1 once per isolate.
 */
const knownAgents = new Map<string, string>();
const KNOWN_AGENTS_MAX = 10_000;

export async function getTask(env: Env, taskId: string, principal: Principal): Promise<TaskRecord> {
  const task = await stub(env, await agentOfTask(env, taskId, principal)).getTask(taskId);
  if (!task) throw new AppError("not_found", `No task '${taskId}'.`);
  return task;
}

export async function listTasks(env: Env, agentId: string, opts: { status?: TaskStatus; limit: number; cursor?: string }) {
  const rows = await stub(env, agentId).listTasks({
    status: opts.status,
    limit: opts.limit + 1,
    afterSeq: opts.cursor ? Number(opts.cursor) : undefined,
  });
  const page = rows.slice(0, opts.limit);
  return { tasks: page, next_cursor: rows.length > opts.limit ? String(page[page.length - 1]!.seq) : null };
}

export async function reportProgress(
  env: Env,
  taskId: string,
  principal: Principal,
  update: { progress: number; status?: "pending" | "running"; message?: string },
  requestId?: string,
): Promise<TaskRecord> {
  return taskValue(taskId, await stub(env, await agentOfTask(env, taskId, principal)).updateTaskProgress(taskId, update, requestId));
}

export async function completeTask(
  env: Env,
  taskId: string,
  principal: Principal,
  outcome: { result?: unknown; error_message?: string },
  requestId?: string,
): Promise<TaskRecord> {
  // The agent's Durable Object logs the transition (task.transition), with this request's id.
  return taskValue(taskId, await stub(env, await agentOfTask(env, taskId, principal)).completeTask(taskId, outcome, requestId));
}

export async function cancelTask(env: Env, taskId: string, principal: Principal, requestId?: string): Promise<TaskRecord> {
  return taskValue(taskId, await stub(env, await agentOfTask(env, taskId, principal)).cancelTask(taskId, requestId));
}
