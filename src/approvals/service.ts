/**
 * Approval use cases: create (store, then mail), read, list, decide. The approval lives
 * in its agent's AgentDO; D1's `approval_index` maps an id to the agent and serves the list.
 */
import { requireAgent, type Principal } from "../auth/principal";
import { newId } from "../lib/ids";
import { log, warn } from "../lib/log";
import { AppError } from "../lib/problem";
import { unwrap } from "../lib/result";
import { iso } from "../lib/time";
import { sendApprovalMail, type MailOutcome } from "./mail";
import type { ApprovalRecord, Decision, DecisionRefusal, NewApproval, OnExpire } from "./model";
import { checkCallbackUrl, type CreateApprovalBody } from "./schemas";
import { requireSecret } from "./signing";

/** 503 unless approvals can sign their links (callers check before storing anything gated). */
export { requireSecret as requireApprovalSigning };

export interface ApprovalRequest {
  agentId: string;
  taskId: string | null;
  title: string;
  description: string;
  approverEmail: string;
  expiresInHours: number;
  data?: unknown;
  onExpire: OnExpire;
  escalateTo?: string[];
  callbackUrl?: string;
}

/**
 * Stores the approval, then mails the approver. A mail that no provider could send does not undo
 * the approval: it stays pending (decidable by the API, expiring on time) and `email.status` is
 * `failed` with the providers' errors, so the caller can resend or fall back.
 */
export async function createApproval(
  env: Env,
  req: ApprovalRequest,
  requestId?: string,
  approvalId = newId("approval"),
): Promise<{ approval: ApprovalRecord; email: MailOutcome }> {
  const refused = checkCallbackUrl(req.callbackUrl, env);
  if (refused.length > 0)
    throw new AppError("validation_failed", `Invalid body: ${refused[0]!.path}: ${refused[0]!.message}`, { errors: refused });
  const secret = requireSecret(env);
  const input: NewApproval = {
    approvalId,
    agentId: req.agentId,
    taskId: req.taskId,
    title: req.title,
    description: req.description,
    approverEmail: req.approverEmail,
    data: req.data,
    onExpire: req.onExpire,
    escalateTo: req.escalateTo ?? null,
    durationMs: Math.round(req.expiresInHours * 3_600_000),
    callbackUrl: req.callbackUrl ?? null,
    nowMs: Date.now(),
  };
  const agent = env.AGENT.getByName(req.agentId);
  const stored = await agent.createApproval(input);
  const email = await sendApprovalMail(env, secret, stored, stored.approver_email);
  if (email.error) warn({ event: "approval.email_failed", request_id: requestId, approval_id: approvalId, error: email.error });
  const approval = (await agent.recordApprovalEmail(approvalId, email)) ?? stored;
  log({
    event: "approval.created",
    request_id: requestId,
    agent_id: req.agentId,
    approval_id: approvalId,
    ...(req.taskId ? { task_id: req.taskId } : {}),
    email_status: email.status,
  });
  return { approval, email };
}

/**
 * An approval a caller asks for (the create route and the MCP tool): 403 when `agent_id` is
 * outside the caller's agents, then {@link createApproval}.
 */
export async function requestApproval(
  env: Env,
  principal: Principal,
  body: CreateApprovalBody,
  requestId: string,
): Promise<{ approval: ApprovalRecord; email: MailOutcome }> {
  requireAgent(principal, body.agent_id);
  return createApproval(
    env,
    {
      agentId: body.agent_id,
      taskId: body.task_id ?? null,
      title: body.title,
      description: body.description,
      approverEmail: body.approver_email,
      expiresInHours: body.expires_in_hours,
      data: body.data,
      onExpire: body.on_expire,
      escalateTo: body.escalate_to,
      callbackUrl: body.callback_url,
    },
    requestId,
  );
}

/** The agent holding an approval (404 when unknown). */
export async function agentOfApproval(env: Env, approvalId: string): Promise<string> {
  const row = await env.DB.prepare("SELECT agent_id FROM approval_index WHERE approval_id = ?")
    .bind(approvalId)
    .first<{ agent_id: string }>();
  if (!row) throw new AppError("not_found", `No approval '${approvalId}'.`);
  return row.agent_id;
}

/** Reads an approval; with a principal, its agent restriction applies. */
export async function getApproval(env: Env, approvalId: string, principal?: Principal): Promise<ApprovalRecord> {
  const agentId = await agentOfApproval(env, approvalId);
  if (principal) requireAgent(principal, agentId);
  const approval = await env.AGENT.getByName(agentId).getApproval(approvalId);
  if (!approval) throw new AppError("not_found", `No approval '${approvalId}'.`);
  return approval;
}

export async function listApprovals(
  env: Env,
  principal: Principal,
  q: { status?: string; approver_email?: string; limit: number; cursor?: string },
) {
  const where: string[] = [];
  const args: unknown[] = [];
  if (q.status) {
    where.push("status = ?");
    args.push(q.status);
  }
  if (q.approver_email) {
    where.push("approver_email = ?");
    args.push(q.approver_email.toLowerCase());
  }
  if (principal.agents) {
    where.push(`agent_id IN (${principal.agents.map(() => "?").join(", ") || "NULL"})`);
    args.push(...principal.agents);
  }
  if (q.cursor) {
    const [at, id] = q.cursor.split(":") as [string, string];
    where.push("(created_at < ? OR (created_at = ? AND approval_id < ?))");
    args.push(Number(at), Number(at), id);
  }
  const sql = `SELECT approval_id, agent_id, status, approver_email, created_at FROM approval_index ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
    ORDER BY created_at DESC, approval_id DESC LIMIT ?`;
  const { results } = await env.DB.prepare(sql)
    .bind(...args, q.limit + 1)
    .all<{ approval_id: string; agent_id: string; status: string; approver_email: string; created_at: number }>();
  const page = results.slice(0, q.limit);
  const last = page[page.length - 1];
  return {
    approvals: page.map((r) => ({ ...r, created_at: iso(r.created_at) })),
    next_cursor: results.length > q.limit && last ? `${last.created_at}:${last.approval_id}` : null,
  };
}

/** One decision; maps the Durable Object's refusals to problems. */
export async function decide(env: Env, agentId: string, approvalId: string, decision: Decision): Promise<ApprovalRecord> {
  const result = await env.AGENT.getByName(agentId).decideApproval(approvalId, decision);
  return unwrap<ApprovalRecord, DecisionRefusal>(result, (failure) => {
    switch (failure.reason) {
      case "not_found":
        return new AppError("not_found", `No approval '${approvalId}'.`);
      case "token_used":
        return new AppError("conflict", "This link has already been used.");
      case "not_approver":
        return new AppError("forbidden", "Only the approver may answer this approval request.");
      case "conflict":
        return new AppError("conflict", `Approval '${approvalId}' is already ${failure.status}.`, {
          extensions: { status: failure.status },
        });
    }
  });
}
