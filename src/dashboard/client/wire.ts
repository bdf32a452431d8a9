/**
 * The API's answers as the dashboard reads them (only the fields it uses). The browser project
 * cannot import the server's schemas (they pull in the Workers runtime's types), so
 * src/dashboard/wire-contract.ts checks in the Worker's project that each server schema's output
 * still fits these: a server change the dashboard would misread fails `tsc`.
 */

export interface AgentRow {
  agent_id: string;
  agent_type: string;
  version: number;
  updated_at: string;
  instances: number;
}
export interface AgentPage {
  agents: AgentRow[];
  next_cursor: string | null;
}

export interface AgentState {
  agent_id: string;
  agent_type: string;
  state_data: Record<string, unknown>;
  created_at: string;
  updated_at: string;
  version: number;
  restored_from?: number | undefined;
}
export interface SavedState {
  agent_id: string;
  version: number;
  restored_from?: number | undefined;
}
export interface VersionPage {
  current_version: number;
  versions: { version: number; agent_type: string; updated_at: string; size_bytes: number; restored_from: number | null }[];
  next_cursor: string | null;
}

export type TaskStatus = "pending" | "running" | "completed" | "failed" | "cancelled";
export interface Task {
  task_id: string;
  agent_id: string;
  task_type: string;
  status: TaskStatus;
  progress: number;
  progress_message: string | null;
  result: unknown;
  error_message: string | null;
  created_at: string;
}
export interface TaskPage {
  tasks: Task[];
  next_cursor: string | null;
}
export interface CreatedTask {
  task_id: string;
  status: TaskStatus;
}
export interface TaskType {
  task_type: string;
  permissions: string[];
  input_schema: Record<string, unknown>;
}
export interface TaskTypeList {
  task_types: TaskType[];
}
/** One change on a task's event stream (GET /api/v2/tasks/{id}/events). */
export interface TaskChange {
  task_id: string;
  seq: number;
  status: TaskStatus;
  progress: number | null;
  message: string | null;
  result?: unknown;
  error_message?: string | null;
}

export interface Metrics {
  instances: {
    instance_id: string;
    status: "active" | "draining";
    load: number;
    pending: number;
    running: number;
    completed_5m: number;
    failed_5m: number;
    requests_per_minute: number;
  }[];
  active_instances: number;
  total_load: number;
  average_load: number;
  queue_depth: number;
  scaling_recommendation: "scale_up" | "scale_down" | "maintain";
  recommended_instances: number;
  reason: string;
  autoscale: { enabled: boolean; min_instances: number; max_instances: number };
  measured_at: string;
}
export interface Scaled {
  current_instances: number;
  instances: string[];
  draining: string[];
}

export interface ApprovalSummary {
  approval_id: string;
  status: string;
}
export interface ApprovalPage {
  approvals: ApprovalSummary[];
  next_cursor: string | null;
}
export interface Approval {
  approval_id: string;
  agent_id: string;
  title: string;
  description: string;
  approver_email: string;
  status: "pending" | "approved" | "rejected" | "expired";
  created_at: string;
  expires_at: string;
  approved_by: string | null;
  rejection_reason: string | null;
  decided_via: "link" | "api" | "email" | "expiry" | null;
  decided_at: string | null;
  decided_by: string | null;
}

export interface MessageSummary {
  message_id: string;
  agent_id: string | null;
  provider: string | null;
  to: string[];
  from: string;
  subject: string;
  status: string;
  attempts: unknown[];
  error: string | null;
  created_at: string;
  sent_at: string | null;
}
export interface MessagePage {
  messages: MessageSummary[];
  next_cursor: string | null;
}
export interface Message extends MessageSummary {
  text: string;
  html: string | null;
}

export interface Participant {
  participant_id: string;
  user_id: string;
  display_name: string;
  is_agent: boolean;
  left_at: string | null;
}
export interface Call {
  call_id: string;
  agent_id: string;
  status: string;
  participants: Participant[];
  created_at: string;
}
export interface CallList {
  calls: Call[];
}
export interface Joined {
  participant: Participant;
  join_token_expires_at: string;
  join_url: string;
}

/** GET /health: what anyone sees, and `checks` with a valid credential. */
export interface Health {
  status: "healthy" | "degraded";
  version: string;
  features: Record<string, boolean>;
  checks?: Record<string, { ok: boolean; detail: string }>;
}
