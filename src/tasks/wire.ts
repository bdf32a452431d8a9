/**
 * A stored task as the API shows it (`LongRunningTask`): the one rendering of every task read,
 * so metadata and results are redacted (./redact.ts) on every path that shows them.
 */
import { iso } from "../lib/time";
import { isTerminal, type TaskRecord } from "./model";
import { readRedacted } from "./redact";

export function renderTask(t: TaskRecord) {
  return {
    task_id: t.task_id,
    agent_id: t.agent_id,
    task_type: t.task_type,
    status: t.status,
    progress: t.progress,
    progress_message: t.progress_message,
    result: t.result_json === null ? null : readRedacted(t.result_json),
    error_message: t.error_message,
    created_at: iso(t.created_at),
    started_at: t.started_at === null ? null : iso(t.started_at),
    completed_at: t.completed_at === null ? null : iso(t.completed_at),
    metadata: readRedacted(t.metadata_json) as Record<string, unknown>,
    attempts: t.attempts,
    max_attempts: t.max_attempts,
    timeout_seconds: t.timeout_seconds,
    instance_id: t.instance_id,
    ...approvalGate(t),
  };
}

/** The answer to a create (`CreateTaskResponse`), for the route and the MCP tool alike. */
export function renderCreatedTask(t: TaskRecord) {
  return { success: true as const, task_id: t.task_id, agent_id: t.agent_id, task_type: t.task_type, status: t.status };
}

/** A page of tasks (`TaskList`). */
export function renderTaskPage(page: { tasks: TaskRecord[]; next_cursor: string | null }) {
  return { tasks: page.tasks.map(renderTask), next_cursor: page.next_cursor };
}

/** The approval a task was created behind (kept after the decision) and whether it still waits for it. */
export function approvalGate(t: Pick<TaskRecord, "approval_id" | "gate_approval_id" | "status">): {
  approval_id: string | null;
  waiting_for_approval: boolean;
} {
  return { approval_id: t.gate_approval_id ?? t.approval_id, waiting_for_approval: t.approval_id !== null && !isTerminal(t.status) };
}
