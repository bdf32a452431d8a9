/** A stored task as the API shows it (SPEC §3 `LongRunningTask`). */
import { iso } from "../lib/time";
import type { TaskRecord } from "./model";

export function renderTask(t: TaskRecord) {
  return {
    task_id: t.task_id,
    agent_id: t.agent_id,
    task_type: t.task_type,
    status: t.status,
    progress: t.progress,
    progress_message: t.progress_message,
    result: t.result_json === null ? null : (JSON.parse(t.result_json) as unknown),
    error_message: t.error_message,
    created_at: iso(t.created_at),
    started_at: t.started_at === null ? null : iso(t.started_at),
    completed_at: t.completed_at === null ? null : iso(t.completed_at),
    metadata: JSON.parse(t.metadata_json) as Record<string, unknown>,
    attempts: t.attempts,
    max_attempts: t.max_attempts,
    timeout_seconds: t.timeout_seconds,
    instance_id: t.instance_id,
  };
}
