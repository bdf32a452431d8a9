/**
 * Approvals: what is stored in the agent's Durable Object, what crosses RPC, and how
 * the API shows it. Times are epoch milliseconds inside, ISO 8601 outside.
 *
 *   pending ──approve──▶ approved            (link, API, reply; or on_expire = approve)
 *           ──reject───▶ rejected            (link, API, reply)
 *           ──deadline─▶ expired             (on_expire = reject, the default)
 *           ──deadline─▶ pending, escalated  (on_expire = escalate, once; the deadline moves)
 *   approved, rejected, expired: final (a second decision is 409)
 */
import type { Result } from "../lib/result";
import { iso } from "../lib/time";
import type { MailOutcome } from "./mail";

export const APPROVAL_STATUSES = ["pending", "approved", "rejected", "expired"] as const;
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];
export const ON_EXPIRE = ["reject", "approve", "escalate"] as const;
export type OnExpire = (typeof ON_EXPIRE)[number];
export type DecidedVia = "link" | "api" | "email" | "expiry";
export type ApprovalAction = "approve" | "reject";

export interface ApprovalRecord {
  approval_id: string;
  agent_id: string;
  task_id: string | null;
  title: string;
  description: string;
  approver_email: string;
  /** JSON text, or null. */
  data: string | null;
  status: ApprovalStatus;
  on_expire: OnExpire;
  /** JSON array of addresses, or null. */
  escalate_to: string | null;
  duration_ms: number;
  callback_url: string | null;
  created_at: number;
  expires_at: number;
  escalated_at: number | null;
  decided_at: number | null;
  decided_by: string | null;
  decided_via: DecidedVia | null;
  rejection_reason: string | null;
  /** The mail's entry in the message log (`msg_…`: GET /api/v2/email/messages/{id}). */
  message_id: string | null;
  /** The Message-ID the mail went out with: replies must thread to it. */
  rfc_message_id: string | null;
  email_status: "pending" | "sent" | "failed";
  /** `refused`: the outbound policy refused the URL or a redirect of it (never retried). */
  callback_status: "pending" | "delivered" | "failed" | "refused" | null;
  callback_attempts: number;
}

export interface NewApproval {
  approvalId: string;
  agentId: string;
  taskId: string | null;
  title: string;
  description: string;
  approverEmail: string;
  data: unknown;
  onExpire: OnExpire;
  escalateTo: string[] | null;
  durationMs: number;
  callbackUrl: string | null;
  nowMs: number;
}

export interface Decision {
  action: ApprovalAction;
  /**
   * Who decided, as recorded in `decided_by`: the address a link was mailed to or a reply came
   * from, or the API credential's label (`jwt:alice`, `api_key:key_…`, `admin_key:admin`).
   */
  by: string;
  via: Exclude<DecidedVia, "expiry">;
  reason?: string;
  /** A link token's id: recorded, and refused if seen before (single use). */
  jti?: string;
  /** When true, `by` (an address) must be the approver (or an escalation recipient once escalated). */
  checkResponder: boolean;
  /** The request that decided, for the decision's log line (none for a reply by mail). */
  requestId?: string;
}

export type DecisionResult = Result<ApprovalRecord, DecisionRefusal>;

export type DecisionRefusal =
  | { reason: "not_found" }
  | { reason: "token_used" }
  | { reason: "not_approver" }
  | { reason: "conflict"; status: ApprovalStatus };

/** Who may decide: the approver, and the escalation recipients once the approval escalated. */
export function responders(a: ApprovalRecord): string[] {
  const extra = a.escalated_at !== null && a.escalate_to ? (JSON.parse(a.escalate_to) as string[]) : [];
  return [a.approver_email, ...extra].map((e) => e.toLowerCase());
}

/** The kinds of decider: a person by address (link, reply), or an API credential by how it authenticated. */
export const DECIDER_KINDS = ["email", "jwt", "api_key", "admin_key"] as const;
export type DeciderKind = (typeof DECIDER_KINDS)[number];
const CREDENTIAL_KINDS: readonly string[] = ["jwt", "api_key", "admin_key"];

/**
 * Who decided, as a kind and an id: `email` with the address for a link or a reply, the
 * credential (`jwt` + sub, `api_key` + key id, `admin_key` + `admin`) for an API decision; null
 * for an expiry. An API decision recorded before credentials were recorded names the address the
 * caller gave, shown as `email`.
 */
export function decider(a: Pick<ApprovalRecord, "decided_by" | "decided_via">): { kind: DeciderKind; id: string } | null {
  if (a.decided_by === null) return null;
  const colon = a.decided_by.indexOf(":");
  if (a.decided_via === "api" && colon > 0 && CREDENTIAL_KINDS.includes(a.decided_by.slice(0, colon))) {
    return { kind: a.decided_by.slice(0, colon) as DeciderKind, id: a.decided_by.slice(colon + 1) };
  }
  return { kind: "email", id: a.decided_by };
}

/** The callback body (signed and delivered by durable-objects/agent/approvals.ts). */
export function callbackBody(a: ApprovalRecord): string {
  return JSON.stringify({
    approval_id: a.approval_id,
    status: a.status,
    decided_at: a.decided_at === null ? null : iso(a.decided_at),
    decided_via: a.decided_via,
    decided_by: a.decided_by,
    decider: decider(a),
    approved_by: a.status === "approved" ? a.decided_by : null,
    rejection_reason: a.rejection_reason,
    task_id: a.task_id,
  });
}

/** The answer to a create (`CreateApprovalResponse`), for the route and the MCP tool alike. */
export function renderCreatedApproval(approval: ApprovalRecord, email: MailOutcome) {
  return {
    success: true as const,
    approval_id: approval.approval_id,
    status: "pending" as const,
    expires_at: iso(approval.expires_at),
    message:
      email.status === "sent"
        ? `Approval request sent to ${approval.approver_email}`
        : `Approval created, but the mail to ${approval.approver_email} could not be sent`,
    email: { message_id: email.message_id, status: email.status, ...(email.error ? { error: email.error } : {}) },
  };
}

/** The approval's shape, plus what the decision and the mail left behind. */
export function renderApproval(a: ApprovalRecord) {
  return {
    approval_id: a.approval_id,
    agent_id: a.agent_id,
    task_id: a.task_id,
    title: a.title,
    description: a.description,
    approver_email: a.approver_email,
    status: a.status,
    data: a.data === null ? null : (JSON.parse(a.data) as unknown),
    created_at: iso(a.created_at),
    expires_at: iso(a.expires_at),
    approved_at: a.status === "approved" && a.decided_at !== null ? iso(a.decided_at) : null,
    approved_by: a.status === "approved" ? a.decided_by : null,
    rejection_reason: a.rejection_reason,
    decided_via: a.decided_via,
    decided_at: a.decided_at === null ? null : iso(a.decided_at),
    decided_by: a.decided_by,
    decider: decider(a),
    on_expire: a.on_expire,
    escalate_to: a.escalate_to === null ? [] : (JSON.parse(a.escalate_to) as string[]),
    escalated_at: a.escalated_at === null ? null : iso(a.escalated_at),
    email: { message_id: a.message_id, status: a.email_status },
    callback: a.callback_url ? { url: a.callback_url, status: a.callback_status, attempts: a.callback_attempts } : null,
  };
}
