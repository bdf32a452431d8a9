/**
 * Approvals inside AgentDO: the record, its one decision, expiry on time by the shared
 * alarm (reject, approve, or escalate once and extend the deadline), the gated task's release or
 * cancellation, signed callbacks retried with backoff, and the D1 `approval_index` kept current.
 *
 * Every change is one synchronous transaction that also bumps `index_dirty`; the index, mail and
 * callbacks follow after it commits, so none of them can block or undo a decision.
 */
import {
  callbackBody,
  responders,
  type ApprovalRecord,
  type Decision,
  type DecisionResult,
  type NewApproval,
} from "../../src/approvals/model";
import { sendApprovalMail, type MailOutcome } from "../../src/approvals/mail";
import { callbackSignature, signingSecret } from "../../src/approvals/signing";
import { log, warn } from "../../src/lib/log";
import { OutboundRefused, policedFetch } from "../../src/lib/outbound-fetch";
import { policyFrom } from "../../src/lib/outbound-policy";
import type { Timers } from "../shared/timers";
import type { TaskEngine } from "./task-engine";

export const APPROVALS_TIMER = "approvals";
/** Callback attempts in all, and the wait before attempt n+1: 10 s × 4^(n-1) (10 s, 40 s, 160 s, 640 s). */
export const CALLBACK_MAX_ATTEMPTS = 5;
const CALLBACK_BASE_DELAY_MS = 10_000;
const CALLBACK_TIMEOUT_MS = 10_000;
const INDEX_RETRY_MS = 30_000;

export class Approvals {
  readonly #storage: DurableObjectStorage;
  readonly #env: Env;
  readonly #timers: Timers;
  readonly #tasks: TaskEngine;

  constructor(storage: DurableObjectStorage, env: Env, timers: Timers, tasks: TaskEngine) {
    this.#storage = storage;
    this.#env = env;
    this.#timers = timers;
    this.#tasks = tasks;
  }

  get #sql(): SqlStorage {
    return this.#storage.sql;
  }

  get(approvalId: string): ApprovalRecord | null {
    return (
      this.#sql
        .exec<ApprovalRecord & Record<string, SqlStorageValue>>("SELECT * FROM approvals WHERE approval_id = ?", approvalId)
        .toArray()[0] ?? null
    );
  }

  async create(n: NewApproval): Promise<ApprovalRecord> {
    this.#sql.exec(
      `INSERT INTO approvals (approval_id, agent_id, task_id, title, description, approver_email, data, status, on_expire, escalate_to,
         duration_ms, callback_url, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?)`,
      n.approvalId,
      n.agentId,
      n.taskId,
      n.title,
      n.description,
      n.approverEmail,
      n.data === undefined ? null : JSON.stringify(n.data),
      n.onExpire,
      n.escalateTo && n.escalateTo.length > 0 ? JSON.stringify(n.escalateTo) : null,
      n.durationMs,
      n.callbackUrl,
      n.nowMs,
      n.nowMs + n.durationMs,
    );
    await this.#settle(n.nowMs);
    return this.get(n.approvalId)!;
  }

  recordEmail(approvalId: string, outcome: MailOutcome): ApprovalRecord | null {
    this.#sql.exec(
      "UPDATE approvals SET message_id = coalesce(?, message_id), rfc_message_id = coalesce(?, rfc_message_id), email_status = ? WHERE approval_id = ?",
      outcome.message_id,
      outcome.rfc_message_id,
      outcome.status,
      approvalId,
    );
    return this.get(approvalId);
  }

  /**
   * One decision by a person. If this approval's deadline has passed, its expiry is applied first
   * (expiry wins); other approvals' deadlines are left to the alarm, so a click never waits for
   * someone else's escalation mail.
   */
  async decide(approvalId: string, d: Decision, nowMs: number): Promise<DecisionResult> {
    await this.#expireDue(nowMs, approvalId);
    const result = this.#storage.transactionSync((): DecisionResult => {
      const a = this.get(approvalId);
      if (!a) return { ok: false, reason: "not_found" };
      if (d.jti && this.#sql.exec("SELECT 1 FROM approval_used_tokens WHERE jti = ?", d.jti).toArray().length > 0)
        return { ok: false, reason: "token_used" };
      if (a.status !== "pending") return { ok: false, reason: "conflict", status: a.status };
      if (d.checkResponder && !responders(a).includes(d.by.toLowerCase())) return { ok: false, reason: "not_approver" };
      if (d.jti) this.#sql.exec("INSERT INTO approval_used_tokens (jti, approval_id, used_at) VALUES (?, ?, ?)", d.jti, approvalId, nowMs);
      const status = d.action === "approve" ? "approved" : "rejected";
      const reason = d.action === "reject" ? d.reason?.trim() || "Rejected" : null;
      return { ok: true, value: this.#finish(a, status, nowMs, d.by, d.via, reason) };
    });
    if (result.ok) {
      log({
        event: "approval.decided",
        request_id: d.requestId,
        agent_id: result.value.agent_id,
        approval_id: approvalId,
        status: result.value.status,
        via: d.via,
      });
      await this.#applyToTask(result.value, nowMs, d.requestId);
      await this.#settle(nowMs);
    }
    return result;
  }

  /** The alarm's share: due expiries, due callbacks, a pending index repair; then re-arms. */
  async run(nowMs: number): Promise<void> {
    await this.#expireDue(nowMs);
    await this.#deliverCallbacks(nowMs);
    await this.#settle(nowMs);
  }

  /** Applies due expiries (escalations, approvals, rejections), all of them or only `onlyId`'s. */
  async #expireDue(nowMs: number, onlyId?: string): Promise<void> {
    const due = this.#sql
      .exec<{ approval_id: string }>(
        `SELECT approval_id FROM approvals WHERE status = 'pending' AND expires_at <= ? ${onlyId ? "AND approval_id = ?" : ""} ORDER BY expires_at`,
        nowMs,
        ...(onlyId ? [onlyId] : []),
      )
      .toArray();
    for (const { approval_id: id } of due) {
      const outcome = this.#storage.transactionSync(() => {
        const a = this.get(id);
        if (!a || a.status !== "pending" || a.expires_at > nowMs) return null; // decided meanwhile: exactly once
        if (a.on_expire === "escalate" && a.escalated_at === null && a.escalate_to) {
          const expiresAt = Math.max(a.expires_at, nowMs) + a.duration_ms;
          this.#sql.exec(
            "UPDATE approvals SET escalated_at = ?, expires_at = ?, index_dirty = index_dirty + 1 WHERE approval_id = ?",
            nowMs,
            expiresAt,
            id,
          );
          return { escalated: true as const, approval: this.get(id)! };
        }
        const approve = a.on_expire === "approve";
        const reason = approve
          ? null
          : a.escalated_at !== null
            ? "Expired without a decision, after escalation"
            : "Expired without a decision";
        return { escalated: false as const, approval: this.#finish(a, approve ? "approved" : "expired", nowMs, null, "expiry", reason) };
      });
      if (!outcome) continue;
      if (outcome.escalated) {
        await this.#escalate(outcome.approval);
      } else {
        log({
          event: "approval.decided",
          agent_id: outcome.approval.agent_id,
          approval_id: id,
          status: outcome.approval.status,
          via: "expiry",
        });
        await this.#applyToTask(outcome.approval, nowMs);
      }
    }
  }

  async #escalate(a: ApprovalRecord): Promise<void> {
    const to = JSON.parse(a.escalate_to!) as string[];
    const secret = signingSecret(this.#env);
    const outcomes = secret ? await Promise.all(to.map((addr) => sendApprovalMail(this.#env, secret, a, addr, true))) : [];
    const sent = outcomes.filter((o) => o.status === "sent").length;
    log({ event: "approval.escalated", agent_id: a.agent_id, approval_id: a.approval_id, recipients: to.length, sent });
    if (sent < to.length)
      warn({
        event: "approval.email_failed",
        approval_id: a.approval_id,
        error: outcomes.find((o) => o.error)?.error ?? "no signing secret",
      });
  }

  /** Sets the final status inside the caller's transaction and queues the callback. */
  #finish(
    a: ApprovalRecord,
    status: "approved" | "rejected" | "expired",
    nowMs: number,
    by: string | null,
    via: string,
    reason: string | null,
  ): ApprovalRecord {
    this.#sql.exec(
      `UPDATE approvals SET status = ?, decided_at = ?, decided_by = ?, decided_via = ?, rejection_reason = ?,
         callback_status = CASE WHEN callback_url IS NULL THEN NULL ELSE 'pending' END, index_dirty = index_dirty + 1 WHERE approval_id = ?`,
      status,
      nowMs,
      by,
      via,
      reason,
      a.approval_id,
    );
    const done = this.get(a.approval_id)!;
    if (done.callback_url) {
      this.#sql.exec(
        "INSERT OR REPLACE INTO approval_callbacks (approval_id, url, body, attempts, next_at) VALUES (?, ?, ?, 0, ?)",
        a.approval_id,
        done.callback_url,
        callbackBody(done),
        nowMs,
      );
    }
    return done;
  }

  async #applyToTask(a: ApprovalRecord, nowMs: number, requestId?: string): Promise<void> {
    if (!a.task_id) return;
    if (a.status === "approved") await this.#tasks.releaseApproval(a.task_id, a.approval_id, nowMs);
    else await this.#tasks.cancel(a.task_id, nowMs, `Approval ${a.approval_id} ${a.status}: ${a.rejection_reason ?? ""}`.trim(), requestId);
  }

  async #deliverCallbacks(nowMs: number): Promise<void> {
    const due = this.#sql
      .exec<{ approval_id: string; url: string; body: string; attempts: number }>(
        "SELECT approval_id, url, body, attempts FROM approval_callbacks WHERE next_at <= ?",
        nowMs,
      )
      .toArray();
    const secret = signingSecret(this.#env);
    for (const cb of due) {
      const attempt = cb.attempts + 1;
      let error: string | null = null;
      // The URL passed the policy at creation; the allow-list may have changed since, and a redirect is checked per hop.
      let refused = false;
      try {
        if (!secret) throw new Error("no signing secret (APPROVAL_SIGNING_SECRET or JWT_SECRET)");
        const res = await policedFetch(
          cb.url,
          {
            method: "POST",
            headers: {
              "content-type": "application/json",
              "X-Signature": await callbackSignature(secret, cb.body),
              "X-Approval-Id": cb.approval_id,
            },
            body: cb.body,
            signal: AbortSignal.timeout(CALLBACK_TIMEOUT_MS),
          },
          policyFrom(this.#env),
        );
        await res.body?.cancel();
        if (!res.ok) error = `HTTP ${res.status}`;
      } catch (err) {
        refused = err instanceof OutboundRefused;
        error = err instanceof Error ? err.message : String(err);
      }
      // A refused URL would be refused again: no retries.
      const finalStatus = error === null ? "delivered" : refused ? "refused" : attempt >= CALLBACK_MAX_ATTEMPTS ? "failed" : "pending";
      this.#storage.transactionSync(() => {
        if (finalStatus === "pending") {
          this.#sql.exec(
            "UPDATE approval_callbacks SET attempts = ?, next_at = ?, last_error = ? WHERE approval_id = ?",
            attempt,
            Date.now() + CALLBACK_BASE_DELAY_MS * 4 ** (attempt - 1),
            error,
            cb.approval_id,
          );
        } else {
          this.#sql.exec("DELETE FROM approval_callbacks WHERE approval_id = ?", cb.approval_id);
        }
        this.#sql.exec(
          "UPDATE approvals SET callback_status = ?, callback_attempts = ? WHERE approval_id = ?",
          finalStatus,
          attempt,
          cb.approval_id,
        );
      });
      if (error !== null)
        warn({ event: "approval.callback_failed", approval_id: cb.approval_id, attempt, error, final: finalStatus !== "pending" });
    }
  }

  /** Brings approval_index up to date, then points the approvals timer at the next due work. */
  async #settle(nowMs: number): Promise<void> {
    const dirty = this.#sql
      .exec<{ approval_id: string; agent_id: string; status: string; approver_email: string; created_at: number; index_dirty: number }>(
        "SELECT approval_id, agent_id, status, approver_email, created_at, index_dirty FROM approvals WHERE index_dirty > 0",
      )
      .toArray();
    let indexFailed = false;
    if (dirty.length > 0) {
      try {
        const upsert = this.#env.DB.prepare(
          `INSERT INTO approval_index (approval_id, agent_id, status, approver_email, created_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (approval_id) DO UPDATE SET status = excluded.status, approver_email = excluded.approver_email`,
        );
        await this.#env.DB.batch(
          dirty.map((r) => upsert.bind(r.approval_id, r.agent_id, r.status, r.approver_email.toLowerCase(), r.created_at)),
        );
        // Only rows unchanged since the read are clean; a change meanwhile is synced next time.
        for (const r of dirty)
          this.#sql.exec("UPDATE approvals SET index_dirty = 0 WHERE approval_id = ? AND index_dirty = ?", r.approval_id, r.index_dirty);
      } catch (err) {
        indexFailed = true;
        warn({ event: "approval.index_failed", approvals: dirty.length, error: err instanceof Error ? err.message : String(err) });
      }
    }
    const next = this.#sql
      .exec<{ due: number | null }>(
        `SELECT min(due) AS due FROM (SELECT min(expires_at) AS due FROM approvals WHERE status = 'pending'
           UNION ALL SELECT min(next_at) FROM approval_callbacks UNION ALL SELECT ? WHERE ?)`,
        nowMs + INDEX_RETRY_MS,
        indexFailed ? 1 : 0,
      )
      .one().due;
    if (next === null) this.#timers.cancel(APPROVALS_TIMER);
    else await this.#timers.schedule(APPROVALS_TIMER, next);
  }
}
