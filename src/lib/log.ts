/**
 * Structured logging: one JSON object per line, so Workers Logs (and `wrangler dev`) can filter
 * on any field. Never log tokens, keys or state bodies; log their ids and sizes.
 */

export type LogEvent =
  | { event: "http.error"; request_id?: string; status: number; code: string; method: string; path: string; error?: string }
  | { event: "auth.refused"; request_id?: string; reason: string }
  | { event: "health.probe_failed"; request_id?: string; store: string; error: string }
  | { event: "auth.api_key_created"; request_id?: string; key_id: string; role: string; by: string }
  | { event: "auth.api_key_revoked"; request_id?: string; key_id: string; by: string }
  | { event: "state.saved"; request_id?: string; agent_id: string; version: number; bytes: number }
  | { event: "state.restored"; request_id?: string; agent_id: string; version: number; from_version: number }
  | { event: "state.deleted"; request_id?: string; agent_id: string }
  | { event: "state.derived_sync_failed"; agent_id: string; attempt: number; error: string; retry_in_ms: number }
  | { event: "state.list_live_read_failed"; agent_id: string; error: string }
  | { event: "task.created"; request_id?: string; agent_id: string; task_id: string; task_type: string }
  | { event: "task.dispatch_failed"; agent_id: string; tasks: number; error: string; retry_in_ms?: number }
  | { event: "task.index_failed"; request_id?: string; agent_id: string; error: string }
  | {
      event: "task.transition";
      request_id?: string;
      agent_id: string;
      task_id: string;
      task_type: string;
      from: string;
      to: string;
      attempt: number;
    }
  | { event: "task.attempt_failed"; agent_id: string; task_id: string; attempt: number; error: string; retry_in_s?: number }
  | { event: "task.dead_lettered"; agent_id?: string; task_id?: string; error: string }
  | { event: "agent.scaled"; request_id?: string; agent_id: string; from_instances: number; to_instances: number; reason: string }
  | { event: "scaling.index_failed"; agent_id: string; instances: number; error: string }
  | { event: "approval.created"; request_id?: string; agent_id: string; approval_id: string; task_id?: string; email_status: string }
  | { event: "approval.decided"; request_id?: string; agent_id: string; approval_id: string; status: string; via: string }
  | { event: "approval.escalated"; agent_id: string; approval_id: string; recipients: number; sent: number }
  | { event: "approval.email_failed"; request_id?: string; approval_id: string; error: string }
  | { event: "approval.callback_failed"; approval_id: string; attempt: number; error: string; final: boolean }
  | { event: "approval.index_failed"; approvals: number; error: string }
  | { event: "email.sent"; request_id?: string; message_id: string; provider: string; recipients: number; template_id?: string }
  | { event: "email.failed"; request_id?: string; message_id: string; error: string; attempts: number }
  | { event: "email.status_changed"; request_id?: string; message_id: string; provider: string; status: string; provider_event: string }
  | { event: "email.webhook_refused"; request_id?: string; provider: string; reason: string }
  | { event: "call.created"; request_id?: string; agent_id: string; call_id: string }
  | { event: "call.started"; request_id?: string; agent_id: string; call_id: string }
  | { event: "call.status_changed"; request_id?: string; agent_id: string; call_id: string; status: string }
  | { event: "call.ended"; request_id?: string; agent_id: string; call_id: string; status: string; duration_seconds: number | null }
  | { event: "call.transcript_cleared"; request_id?: string; call_id: string; lines: number }
  | { event: "call.transcribed"; request_id?: string; call_id: string; participant_id: string; chars: number }
  | { event: "call.spoke"; request_id?: string; call_id: string; chars: number; audio_bytes: number }
  | { event: "call.agent_requested"; request_id?: string; call_id: string }
  | { event: "call.agent_tool_failed"; request_id?: string; call_id: string; tool: string; error: string }
  | {
      /** One answer of a call's agent (never its text): spoken, interrupted by a participant, or failed. */
      event: "call.agent_turn";
      call_id: string;
      participant_id?: string;
      outcome: "answered" | "interrupted" | "failed";
      sentences: number;
      first_audio_ms?: number | null;
      total_ms?: number;
      detail?: string;
    }
  | {
      /** A call's recorder: a recording's first chunk stored, a chunk lost, audio not recorded, an erase. */
      event: "call.recording";
      request_id?: string;
      call_id: string;
      outcome: "started" | "chunk_lost" | "skipped" | "erased";
      recording_id?: string;
      chunk?: number;
      detail?: string;
      recordings?: number;
      objects?: number;
    }
  | {
      /** Live audio of a participant (never its text): an utterance transcribed or not, a frame refused. */
      event: "call.live_audio";
      call_id: string;
      participant_id: string;
      outcome: "transcribed" | "no_text" | "stt_failed" | "refused" | "dropped";
      detail?: string;
      provider?: string;
      audio_ms?: number;
      stt_ms?: number;
      chars?: number;
    }
  | {
      event: "call.sfu";
      request_id?: string;
      call_id: string;
      participant_id: string;
      op: string;
      outcome: "ok" | "refused" | "upstream_error";
      detail?: string;
    }
  | { event: "metrics.record_failed"; request_id?: string; error: string }
  | { event: "metrics.store_read_failed"; request_id?: string; error: string }
  | { event: "metrics.rollup_failed"; agent_id: string; attempt: number; error: string; retry_in_ms: number };

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Set from `LOG_LEVEL` when the configuration is read; one isolate serves one configuration. */
let threshold = LOG_LEVELS.indexOf("info");

export function setLogLevel(level: LogLevel): void {
  threshold = LOG_LEVELS.indexOf(level);
}

/** Whether lines of `level` are written: lets a caller skip work done only for a line. */
export function logEnabled(level: LogLevel): boolean {
  return LOG_LEVELS.indexOf(level) >= threshold;
}

function emit(level: LogLevel, entry: LogEvent): void {
  if (LOG_LEVELS.indexOf(level) < threshold) return;
  const line = JSON.stringify({ level, time: new Date().toISOString(), ...entry });
  // The console method carries the level to Workers Logs.
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else if (level === "debug") console.debug(line);
  else console.info(line);
}

export function log(entry: LogEvent): void {
  emit("info", entry);
}

export function warn(entry: LogEvent): void {
  emit("warn", entry);
}

export function logError(entry: LogEvent): void {
  emit("error", entry);
}
