/**
 * Approval routes. API: create, read, list, respond. Pages (no API credentials, the link token is
 * the credential): `GET /approve/{id}` shows what is asked and a confirm button and changes
 * nothing (mail scanners open links); `POST /approve/{id}` records the decision.
 *
 * Permissions: create `email:send`; read and list `state:read` (any role that may read agent
 * data; agent-restricted tokens see their agents only). Respond takes either a link token
 * (`?token=` or body `token`): the decision is the address the link was mailed to, which must
 * still be a responder; or a bearer credential with `email:send` for the approval's agent: the
 * decision is that credential's (`jwt:alice`, `api_key:key_…`), whatever `approver_email` says.
 */
import type { Context, Hono } from "hono";
import { z } from "zod";
import { principalLabel, requireAgent, requirePermission } from "../auth/principal";
import type { AppEnv } from "../http/app-env";
import { defineRoute } from "../http/route";
import { log } from "../lib/log";
import { AppError } from "../lib/problem";
import { iso } from "../lib/time";
import { escapeHtml } from "../lib/html";
import { renderApproval, renderCreatedApproval, type ApprovalRecord, type Decision } from "./model";
import {
  ApprovalParams,
  ApprovalSummary,
  ApprovalView,
  CreateApprovalBody,
  CreateApprovalResponse,
  ListApprovalsQuery,
  RespondBody,
  adaptLegacyApprovalBody,
} from "./schemas";
import * as approvals from "./service";
import { LinkRefused, requireSecret, signingSecret, verifyLinkToken } from "./signing";

const TAGS = ["approvals"];

export function registerApprovalRoutes(app: Hono<AppEnv>): void {
  defineRoute(
    app,
    {
      method: "post",
      path: "/api/v2/email/approval",
      operationId: "createApproval",
      summary: "Ask a person to approve, by email",
      description:
        "Mails the approver two signed, single-use links (approve / reject, each opening a confirmation page) and a routed Reply-To. " +
        "If no provider can send the mail the approval is still created (pending) and `email.status` is `failed`. " +
        "The prototype's form (every field as a query parameter, `data` as the raw JSON body) is accepted too.",
      tags: TAGS,
      permission: "email:send",
      body: CreateApprovalBody,
      bodyRequired: false,
      legacyBody: (raw, query) => adaptLegacyApprovalBody(raw, query) ?? {},
      responses: {
        201: { description: "Created.", schema: CreateApprovalResponse, headers: { Location: "The approval's URL." } },
        422: { description: "The body does not match the schema." },
        503: { description: "No signing secret (APPROVAL_SIGNING_SECRET / JWT_SECRET) is configured." },
      },
    },
    async (c, { body }) => {
      const { approval, email } = await approvals.requestApproval(c.env, c.var.principal, body, c.var.requestId);
      c.header("Location", `/api/v2/email/approval/${approval.approval_id}`);
      return c.json(renderCreatedApproval(approval, email), 201);
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/v2/email/approval/:approval_id",
      operationId: "getApproval",
      summary: "One approval",
      tags: TAGS,
      permission: "state:read",
      params: ApprovalParams,
      responses: { 200: { description: "The approval.", schema: ApprovalView }, 404: { description: "Unknown approval." } },
    },
    async (c, { params }) => c.json(renderApproval(await approvals.getApproval(c.env, params.approval_id, c.var.principal))),
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/v2/email/approvals",
      operationId: "listApprovals",
      summary: "Approvals, newest first, filtered by status and approver",
      tags: TAGS,
      permission: "state:read",
      query: ListApprovalsQuery,
      responses: {
        200: {
          description: "A page of approvals.",
          schema: z.object({ approvals: z.array(ApprovalSummary), next_cursor: z.string().nullable() }),
        },
      },
    },
    async (c, { query }) => c.json(await approvals.listApprovals(c.env, c.var.principal, query)),
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/api/v2/email/approval/:approval_id/respond",
      operationId: "respondToApproval",
      summary: "Approve or reject",
      description:
        "Needs a link token (`?token=` or body `token`; its action must match, and `approver_email`, if given, must be the address it was mailed to) " +
        "or a bearer credential with `email:send` for the approval's agent. A link decision is recorded as the link's address; " +
        "a bearer decision as the credential (`decided_by` `jwt:alice`, `api_key:key_…` or `admin_key:admin`), `approver_email` is not used. A decided approval is 409.",
      tags: TAGS,
      permission: "public",
      params: ApprovalParams,
      body: RespondBody,
      responses: {
        200: { description: "The decided approval.", schema: ApprovalView },
        401: { description: "Neither a bearer credential nor a link token." },
        403: {
          description:
            "An invalid or expired link token, a link mailed to another address than approver_email, a link whose address may no longer decide, a role without email:send or a credential limited to other agents.",
        },
        409: { description: "Already decided, or the link was used before." },
      },
    },
    async (c, { params, body }) => {
      const token = c.req.query("token") ?? body.token;
      // Credentials first: an unauthenticated caller learns nothing about the id.
      let decision: Decision;
      if (token) {
        const claims = await verifyLink(c.env, token, params.approval_id, c.var.requestId);
        if (claims.action !== body.action)
          throw new AppError("forbidden", `This link token is for '${claims.action}', not '${body.action}'.`);
        if (body.approver_email !== undefined && body.approver_email.toLowerCase() !== claims.to.toLowerCase()) {
          throw new AppError("forbidden", "This link was mailed to another address than approver_email.");
        }
        decision = {
          action: body.action,
          by: claims.to,
          via: "link",
          reason: body.reason,
          jti: claims.jti,
          checkResponder: true,
          requestId: c.var.requestId,
        };
      } else {
        const principal = requirePermission(c.var.principal, "email:send");
        decision = {
          action: body.action,
          by: principalLabel(principal),
          via: "api",
          reason: body.reason,
          checkResponder: false,
          requestId: c.var.requestId,
        };
      }
      const agentId = await approvals.agentOfApproval(c.env, params.approval_id);
      if (!token) requireAgent(c.var.principal!, agentId);
      return c.json(renderApproval(await approvals.decide(c.env, agentId, params.approval_id, decision)));
    },
  );

  app.get("/approve/:approval_id", (c) => landing(c, false));
  app.post("/approve/:approval_id", (c) => landing(c, true));
}

async function verifyLink(env: Env, token: string, approvalId: string, requestId: string) {
  try {
    return await verifyLinkToken(requireSecret(env), token, approvalId);
  } catch (err) {
    if (!(err instanceof LinkRefused)) throw err;
    log({ event: "auth.refused", request_id: requestId, reason: `approval link: ${err.message}` });
    throw new AppError("forbidden", err.message);
  }
}

// ── the landing pages ──
// Readable on a 375 px phone: long ids, titles and data wrap (overflow-wrap), the reason box
// counts its border in its width (box-sizing), so nothing scrolls sideways.

function page(c: Context<AppEnv>, status: number, heading: string, body: string): Response {
  const html = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>${escapeHtml(heading)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:640px;margin:40px auto;padding:0 16px;color:#1f2328;overflow-wrap:anywhere;word-break:break-word}
pre,.d{background:#f6f8fa;padding:12px;border-radius:6px;white-space:pre-wrap;max-width:100%;box-sizing:border-box}
button{font-size:16px;padding:10px 22px;border:0;border-radius:6px;color:#fff;cursor:pointer}
.approve{background:#1a7f37}.reject{background:#cf222e}textarea{width:100%;max-width:100%;box-sizing:border-box;min-height:70px}</style></head>
<body><h1>${escapeHtml(heading)}</h1>
${body}
</body></html>`;
  return new Response(html, {
    status,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      "referrer-policy": "no-referrer",
      "x-frame-options": "DENY",
      "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    },
  });
}

const p = (text: string) => `<p>${escapeHtml(text)}</p>`;

function summary(a: ApprovalRecord): string {
  return `<p><strong>${escapeHtml(a.title)}</strong> (asked by agent ${escapeHtml(a.agent_id)})</p>
<div class="d">${escapeHtml(a.description)}</div>
${a.data === null ? "" : `<p>Data:</p><pre>${escapeHtml(JSON.stringify(JSON.parse(a.data), null, 2))}</pre>`}`;
}

/** GET shows and changes nothing; POST decides. Every refusal is a page with a 4xx status. */
async function landing(c: Context<AppEnv>, decide: boolean): Promise<Response> {
  const approvalId = c.req.param("approval_id") ?? "";
  let token = c.req.query("token");
  let reason: string | undefined;
  if (decide) {
    const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
    if (!token && typeof form.token === "string") token = form.token;
    if (typeof form.reason === "string" && form.reason.trim() !== "") reason = form.reason.slice(0, 2000);
  }
  if (!/^approval_[0-9a-f]{24}$/.test(approvalId) || !token)
    return page(c, 400, "Invalid link", p("This link is incomplete. Open the link from the mail again."));
  const secret = signingSecret(c.env);
  if (!secret) return page(c, 503, "Unavailable", p("Approvals are not configured on this server."));
  let claims;
  try {
    claims = await verifyLinkToken(secret, token, approvalId);
  } catch (err) {
    if (!(err instanceof LinkRefused)) throw err;
    log({ event: "auth.refused", request_id: c.var.requestId, reason: `approval link: ${err.message}` });
    return page(c, err.status, err.status === 410 ? "Link expired" : "Invalid link", p(err.message) + p("Nothing was recorded."));
  }
  let approval: ApprovalRecord;
  try {
    approval = await approvals.getApproval(c.env, approvalId);
  } catch (err) {
    if (err instanceof AppError && err.status === 404) return page(c, 404, "Unknown request", p("This approval request does not exist."));
    throw err;
  }
  const verb = claims.action === "approve" ? "Approve" : "Reject";
  if (!decide) {
    if (approval.status !== "pending")
      return page(c, 409, "Already decided", summary(approval) + p(`This request is already ${approval.status}. Nothing was changed.`));
    const url = new URL(c.req.url);
    return page(
      c,
      200,
      `${verb} this request?`,
      `${summary(approval)}
<p>Expires at ${escapeHtml(iso(approval.expires_at))}. Nothing is recorded until you confirm.</p>
<form method="post" action="${escapeHtml(url.pathname + url.search)}">
${claims.action === "reject" ? `<p><label>Reason (optional)<br><textarea name="reason" maxlength="2000"></textarea></label></p>` : ""}
<button type="submit" class="${claims.action}">Confirm: ${verb}</button>
</form>`,
    );
  }
  try {
    const decided = await approvals.decide(c.env, approval.agent_id, approvalId, {
      action: claims.action,
      by: claims.to,
      via: "link",
      reason,
      jti: claims.jti,
      checkResponder: false,
      requestId: c.var.requestId,
    });
    return page(
      c,
      200,
      decided.status === "approved" ? "Approved" : "Rejected",
      summary(decided) + p(`Recorded: ${decided.status} by ${claims.to}. Thank you.`),
    );
  } catch (err) {
    if (err instanceof AppError && err.status === 409) return page(c, 409, "Already decided", p(err.message) + p("Nothing was changed."));
    throw err;
  }
}
