/**
 * Wire shapes of the email routes: the send body, the message log and templates. The same
 * `SendBody` validates `POST /api/v2/email/send` and the `send_email` task's metadata.
 */
import { z } from "zod";
import { AgentId } from "../state/schemas";
import { PROVIDER_NAMES } from "./types";

export const MAX_RECIPIENTS = 50;
/** RFC 5322 §2.1.1: a line is at most 998 characters; a subject is one header line. */
export const MAX_SUBJECT_CHARS = 998;
/** Template parts and literal bodies, each (characters). The rendered text + HTML is capped in bytes by the outbox. */
export const MAX_PART_CHARS = 512 * 1024;

export const MESSAGE_STATUSES = ["queued", "sent", "failed", "delivered", "bounced"] as const;
export const MessageStatus = z.enum(MESSAGE_STATUSES);
export type MessageStatus = z.infer<typeof MessageStatus>;

const EmailAddress = z.email({ error: "must be an email address" }).max(254);

export const Subject = z
  .string()
  .min(1, "must not be empty")
  .max(MAX_SUBJECT_CHARS, `at most ${MAX_SUBJECT_CHARS} characters`)
  .refine((s) => !/[\r\n]/.test(s), "must not contain line breaks (a subject is one header line)");

export const SendBody = z
  .object({
    to: z
      .array(EmailAddress)
      .min(1, "at least one recipient")
      .max(MAX_RECIPIENTS, `at most ${MAX_RECIPIENTS} recipients`)
      .describe("Recipients (a single address string is accepted too)."),
    subject: Subject.optional().describe("Required without a template; with one, replaces the template's subject."),
    text: z.string().max(MAX_PART_CHARS).optional().describe("Plain-text body (derived from `html` when absent)."),
    html: z.string().max(MAX_PART_CHARS).optional(),
    template_id: z
      .string()
      .min(1)
      .max(100)
      .optional()
      .describe("A `tmpl_…` id, a template name, or a built-in: `approval_request`, `task_completion`."),
    variables: z.record(z.string(), z.unknown()).optional().describe("Values for the template's `{placeholders}`."),
    provider: z.enum(PROVIDER_NAMES).optional().describe("Send only through this provider (no failover)."),
    reply_to: EmailAddress.optional(),
    related: z.string().min(1).max(200).optional().describe("What the message belongs to, e.g. an approval or task id."),
    agent_id: AgentId.optional().describe(
      "The agent the message is for: it owns the message in the log, and a template name is looked up among its templates, then the global ones. " +
        "A credential limited to agents must name one of them (403 for another), or may leave it out when it is limited to exactly one (422 when several); " +
        "without it, an unrestricted credential sends a global message (only global templates). A `send_email` task always sends as its own agent.",
    ),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.template_id !== undefined) {
      if (b.text !== undefined || b.html !== undefined)
        ctx.addIssue({ code: "custom", path: ["template_id"], message: "give a template or a literal text/html body, not both" });
      return;
    }
    if (b.text === undefined && b.html === undefined)
      ctx.addIssue({ code: "custom", path: ["text"], message: "text, html or template_id is required" });
    if (b.subject === undefined) ctx.addIssue({ code: "custom", path: ["subject"], message: "is required without a template" });
    if (b.variables !== undefined) ctx.addIssue({ code: "custom", path: ["variables"], message: "only used with template_id" });
  });
export type SendBody = z.output<typeof SendBody>;

/** Older clients send `to` as one string; the documented form is an array. */
export function adaptSendBody(raw: unknown): unknown {
  if (typeof raw === "object" && raw !== null && !Array.isArray(raw) && typeof (raw as { to?: unknown }).to === "string") {
    return { ...raw, to: [(raw as { to: string }).to] };
  }
  return raw;
}

const Attempt = z.object({
  provider: z.enum(PROVIDER_NAMES),
  ok: z.boolean(),
  error: z.string().optional(),
  status: z.number().optional(),
  skipped: z.literal(true).optional(),
  duration_ms: z.number(),
});

export const EmailMessageSummary = z.object({
  message_id: z.string(),
  agent_id: z.string().nullable().describe("The agent that owns the message; null: global (visible to unrestricted credentials only)."),
  provider: z.enum(PROVIDER_NAMES).nullable().describe("The provider that accepted it (or the last one tried)."),
  to: z.array(z.string()),
  from: z.string(),
  subject: z.string(),
  status: MessageStatus,
  attempts: z.array(Attempt),
  error: z.string().nullable(),
  template_id: z.string().nullable(),
  provider_message_id: z.string().nullable().describe("SendGrid X-Message-Id, Mailgun id, Cloudflare messageId."),
  rfc_message_id: z.string().nullable().describe("The Message-ID header, when the provider tells it."),
  related: z.string().nullable(),
  created_at: z.string(),
  sent_at: z.string().nullable(),
  updated_at: z.string(),
});
export const EmailMessage = EmailMessageSummary.extend({ text: z.string(), html: z.string().nullable() });

export const SendResponse = EmailMessage.extend({ success: z.literal(true) });

export const MessageParams = z.object({ message_id: z.string().regex(/^msg_[0-9a-f]{24}$/, "must be a msg_ id") });

export const MessagesQuery = z.object({
  agent_id: AgentId.optional().describe("Only this agent's messages (403 outside the credential's agents)."),
  status: MessageStatus.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z
    .string()
    .regex(/^\d{1,15}:msg_[0-9a-f]{24}$/, "a cursor returned as next_cursor")
    .optional(),
});

// ---------------------------------------------------------------------------------------------
// Templates
// ---------------------------------------------------------------------------------------------

export const TemplateName = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_.-]{0,99}$/, "letters, digits, `_`, `.` and `-`, starting with a letter (at most 100)")
  .refine((n) => !n.startsWith("tmpl_"), "must not start with tmpl_ (the id prefix)");

const templateFields = {
  name: TemplateName,
  subject: Subject,
  text: z.string().max(MAX_PART_CHARS).optional(),
  html: z.string().max(MAX_PART_CHARS).optional(),
  description: z.string().max(1000).optional(),
};
const hasBody = (t: { text?: string; html?: string }) => (t.text ?? "") !== "" || (t.html ?? "") !== "";
const bodyRequired = { path: ["text"], message: "text or html is required" };

/** A replacement (PUT): the owner does not change. */
export const TemplateBody = z.object(templateFields).strict().refine(hasBody, bodyRequired);
export type TemplateBody = z.output<typeof TemplateBody>;

export const NewTemplateBody = z
  .object({
    ...templateFields,
    agent_id: AgentId.optional().describe(
      "The owning agent: its messages use the template (before a global one of the same name). A credential limited to agents must name one of them, " +
        "or may leave it out when limited to exactly one; without it, an unrestricted credential creates a global template.",
    ),
  })
  .strict()
  .refine(hasBody, bodyRequired);
export type NewTemplateBody = z.output<typeof NewTemplateBody>;

export const TemplateParams = z.object({ template_id: z.string().min(1).max(100) });

export const TemplateQuery = z.object({
  agent_id: AgentId.optional().describe(
    "Act for this agent (403 outside the credential's agents): a name is looked up among its templates, then the global ones; a list shows global ones and its own.",
  ),
});

export const EmailTemplate = z.object({
  template_id: z.string().describe("`tmpl_…`, or the built-in's name."),
  name: z.string(),
  builtin: z.boolean(),
  agent_id: z.string().nullable().describe("The owning agent; null: a global (or built-in) template."),
  description: z.string().nullable(),
  subject: z.string(),
  text: z.string(),
  html: z.string().nullable(),
  variables: z.array(z.object({ name: z.string(), required: z.boolean(), description: z.string().optional() })),
  created_at: z.string().nullable(),
  updated_at: z.string().nullable(),
});
export type EmailTemplate = z.infer<typeof EmailTemplate>;
