/** zod schemas for approvals: validation, types and OpenAPI in one place. */
import { z } from "zod";
import { describeRefusal, outboundRefusal, policyFrom } from "../lib/outbound-policy";
import type { FieldError } from "../lib/problem";
import { AgentId } from "../state/schemas";
import { TaskId } from "../tasks/schemas";
import { APPROVAL_STATUSES, DECIDER_KINDS, ON_EXPIRE } from "./model";

export const ApprovalId = z.string().regex(/^approval_[0-9a-f]{24}$/, "an id of the form approval_…");
export const ApprovalParams = z.object({ approval_id: ApprovalId });
const Email = z.email().max(254);
const HttpUrl = z.url({ protocol: /^https?$/ }).max(2048);

export const CreateApprovalBody = z
  .object({
    agent_id: AgentId,
    task_id: TaskId.optional().describe("A task this approval is about (informational; use requires_approval on a task to gate it)."),
    title: z.string().trim().min(1).max(200),
    description: z.string().max(5000),
    approver_email: Email,
    expires_in_hours: z.number().positive().max(720).default(24),
    data: z.unknown().optional().describe("Any JSON shown to the approver and returned with the approval."),
    on_expire: z
      .enum(ON_EXPIRE)
      .default("reject")
      .describe(
        "What the deadline does: reject (status expired), approve, or escalate once to escalate_to and extend the deadline by the same duration.",
      ),
    escalate_to: z.array(Email).min(1).max(10).optional(),
    callback_url: HttpUrl.optional().describe(
      "Receives a signed POST on the decision (X-Signature: sha256=HMAC of the body). Subject to the outbound policy: " +
        "no credentials in the URL, no loopback, private, link-local or other non-public address or local-only name unless allow-listed (OUTBOUND_ALLOW_HOSTS); 422 naming the rule.",
    ),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.on_expire === "escalate" && !b.escalate_to)
      ctx.addIssue({ code: "custom", path: ["escalate_to"], message: "required when on_expire is escalate" });
  });
export type CreateApprovalBody = z.infer<typeof CreateApprovalBody>;

/** `callback_url` against this deployment's outbound policy (the schema checks its form only: the allow-list is configuration). */
export function checkCallbackUrl(url: string | undefined, env: Env): FieldError[] {
  const refusal = url === undefined ? null : outboundRefusal(url, policyFrom(env));
  return refusal ? [{ path: "callback_url", message: describeRefusal(refusal) }] : [];
}

/** The prototype sent every field as a query parameter, with `data` as the raw JSON body. */
export function adaptLegacyApprovalBody(raw: unknown, query: Record<string, string>): unknown {
  if (query.approver_email === undefined && query.agent_id === undefined) return raw;
  const num = (v: string | undefined) => (v !== undefined && v.trim() !== "" && Number.isFinite(Number(v)) ? Number(v) : v);
  const out: Record<string, unknown> = {};
  for (const key of ["agent_id", "task_id", "title", "description", "approver_email", "on_expire", "callback_url"]) {
    if (query[key] !== undefined) out[key] = query[key];
  }
  if (query.expires_in_hours !== undefined) out.expires_in_hours = num(query.expires_in_hours);
  if (query.escalate_to !== undefined)
    out.escalate_to = query.escalate_to
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
  if (raw !== undefined) out.data = raw;
  return out;
}

export const RespondBody = z
  .object({
    action: z.enum(["approve", "reject"]),
    approver_email: Email.optional().describe(
      "With a link token: if given, must be the address the link was mailed to (case-insensitive). With a bearer credential it is not used: the credential is what gets recorded.",
    ),
    reason: z.string().max(2000).optional(),
    token: z.string().max(4096).optional().describe("A link token, instead of a bearer token."),
  })
  .strict();

export const ListApprovalsQuery = z.object({
  status: z.enum(APPROVAL_STATUSES).optional(),
  approver_email: Email.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z
    .string()
    .regex(/^\d{1,15}:approval_[0-9a-f]{24}$/, "a cursor returned as next_cursor")
    .optional(),
});

export const ApprovalView = z.object({
  approval_id: z.string(),
  agent_id: z.string(),
  task_id: z.string().nullable(),
  title: z.string(),
  description: z.string(),
  approver_email: z.string(),
  status: z.enum(APPROVAL_STATUSES),
  data: z.unknown(),
  created_at: z.string(),
  expires_at: z.string(),
  approved_at: z.string().nullable(),
  approved_by: z.string().nullable(),
  rejection_reason: z.string().nullable(),
  decided_via: z.enum(["link", "api", "email", "expiry"]).nullable(),
  decided_at: z.string().nullable(),
  decided_by: z
    .string()
    .nullable()
    .describe(
      "Who decided: the address (link, reply), or the API credential as kind:id (jwt:alice, api_key:key_…, admin_key:admin); null on expiry.",
    ),
  decider: z
    .object({ kind: z.enum(DECIDER_KINDS), id: z.string() })
    .nullable()
    .describe("decided_by as a kind and an id."),
  on_expire: z.enum(ON_EXPIRE),
  escalate_to: z.array(z.string()),
  escalated_at: z.string().nullable(),
  email: z.object({ message_id: z.string().nullable(), status: z.enum(["pending", "sent", "failed"]) }),
  callback: z.object({ url: z.string(), status: z.string().nullable(), attempts: z.number() }).nullable(),
});

export const CreateApprovalResponse = z.object({
  success: z.literal(true),
  approval_id: z.string(),
  status: z.literal("pending"),
  expires_at: z.string(),
  message: z.string(),
  email: z.object({ message_id: z.string().nullable(), status: z.enum(["sent", "failed"]), error: z.string().optional() }),
});

export const ApprovalSummary = z.object({
  approval_id: z.string(),
  agent_id: z.string(),
  status: z.string(),
  approver_email: z.string(),
  created_at: z.string(),
});
