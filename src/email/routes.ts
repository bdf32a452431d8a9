/**
 * Email routes: sending, the message log, templates and the delivery webhooks of SendGrid and
 * Mailgun. The webhooks are public: their signatures are the authentication. Every other route
 * acts within the caller's agents (the principal is the mail scope, ../email/mail-scope.ts).
 */
import type { Hono } from "hono";
import { z } from "zod";
import { sendAsCaller } from "./caller-send";
import { getMessage, listMessages } from "./outbox";
import {
  adaptSendBody,
  EmailMessage,
  EmailMessageSummary,
  EmailTemplate,
  MessageParams,
  MessagesQuery,
  NewTemplateBody,
  SendBody,
  SendResponse,
  TemplateBody,
  TemplateParams,
  TemplateQuery,
} from "./schemas";
import { createTemplate, deleteTemplate, getTemplate, listTemplates, updateTemplate } from "./template-store";
import {
  handleMailgunWebhook,
  handleSendGridEvents,
  SENDGRID_SIGNATURE_HEADER,
  SENDGRID_TIMESTAMP_HEADER,
  verifySendGrid,
} from "./webhooks";
import type { AppEnv } from "../http/app-env";
import { defineRoute } from "../http/route";

const TAGS = ["email"];
const WebhookResponse = z.object({
  received: z.number(),
  updated: z.number(),
  unchanged: z.number(),
  unknown: z.number(),
  ignored: z.number(),
});
const templateErrors = {
  403: { description: "`agent_id` outside the credential's agents, or a global template and a credential limited to agents." },
  409: { description: "The name is taken (for that owner), or the template is a built-in." },
  422: { description: "Invalid body or placeholder, or `agent_id` missing for a credential limited to several agents." },
};
const foreignAgent = { 403: { description: "`agent_id` outside the credential's agents." } };

export function registerEmailRoutes(app: Hono<AppEnv>): void {
  defineRoute(
    app,
    {
      method: "post",
      path: "/api/v2/email/send",
      operationId: "sendEmail",
      summary: "Send a message (template or literal body), with provider failover",
      description:
        "The message is logged (`queued`, then `sent` or `failed`). Input that cannot be sent (missing template variable, unknown template, " +
        "line break in the subject, more than 50 recipients) is refused before anything is logged. The message belongs to `agent_id` " +
        "(see the field for the rule when it is left out); link tokens of approval mails are stored masked.",
      tags: TAGS,
      permission: "email:send",
      body: SendBody,
      legacyBody: adaptSendBody,
      responses: {
        201: { description: "Sent.", schema: SendResponse, headers: { Location: "The message's URL." } },
        ...foreignAgent,
        404: { description: "Unknown template (for that agent: its own and global ones)." },
        413: { description: "The rendered bodies exceed 1 MiB." },
        422: {
          description:
            "Invalid body, a template variable is missing (named in `errors`), or `agent_id` missing for a credential limited to several agents.",
        },
        503: {
          description:
            "No provider took the message (it is logged as failed; `attempts` and `message_id` in the problem), or email is misconfigured.",
        },
      },
    },
    async (c, { body }) => {
      const record = await sendAsCaller(c.env, c.var.principal, body, c.var.requestId);
      c.header("Location", `/api/v2/email/messages/${record.message_id}`);
      return c.json({ success: true as const, ...record }, 201);
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/v2/email/messages",
      operationId: "listEmailMessages",
      summary: "The message log, newest first (without bodies)",
      description:
        "A credential limited to agents sees its agents' messages only; global messages (`agent_id` null) need an unrestricted credential.",
      tags: TAGS,
      permission: "email:send",
      query: MessagesQuery,
      responses: {
        200: {
          description: "A page of messages.",
          schema: z.object({ messages: z.array(EmailMessageSummary), next_cursor: z.string().nullable() }),
        },
        ...foreignAgent,
      },
    },
    async (c, { query }) => c.json(await listMessages(c.env, c.var.principal, query)),
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/v2/email/messages/:message_id",
      operationId: "getEmailMessage",
      summary: "One message with its text and HTML bodies (link tokens masked)",
      tags: TAGS,
      permission: "email:send",
      params: MessageParams,
      responses: {
        200: { description: "The message.", schema: EmailMessage },
        404: { description: "Unknown message, or one of an agent outside the credential's." },
      },
    },
    async (c, { params }) => c.json(await getMessage(c.env, c.var.principal, params.message_id)),
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/v2/email/templates",
      operationId: "listEmailTemplates",
      summary: "Templates: the built-ins (`builtin: true`) and user templates by name",
      description:
        "User templates the credential may read: global ones and those of its agents (every one for an unrestricted credential).",
      tags: TAGS,
      permission: "email:send",
      query: TemplateQuery,
      responses: { 200: { description: "The templates.", schema: z.object({ templates: z.array(EmailTemplate) }) }, ...foreignAgent },
    },
    async (c, { query }) => c.json({ templates: await listTemplates(c.env, c.var.principal, query.agent_id) }),
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/api/v2/email/templates",
      operationId: "createEmailTemplate",
      summary: "Create a template with {placeholders}",
      description: "Owned by `agent_id` (see the field); only an unrestricted credential creates global templates.",
      tags: TAGS,
      permission: "email:send",
      body: NewTemplateBody,
      responses: {
        201: { description: "Created.", schema: EmailTemplate, headers: { Location: "The template's URL." } },
        ...templateErrors,
      },
    },
    async (c, { body }) => {
      const template = await createTemplate(c.env, c.var.principal, body);
      c.header("Location", `/api/v2/email/templates/${template.template_id}`);
      return c.json(template, 201);
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/v2/email/templates/:template_id",
      operationId: "getEmailTemplate",
      summary: "One template, by id or name",
      description:
        "A name is looked up among the templates of the agent the request is for (`agent_id`, or the credential's only agent), then the global ones.",
      tags: TAGS,
      permission: "email:send",
      params: TemplateParams,
      query: TemplateQuery,
      responses: {
        200: { description: "The template.", schema: EmailTemplate },
        ...foreignAgent,
        404: { description: "Unknown template, or one of an agent outside the credential's." },
        422: { description: "A name, and a credential limited to several agents without `agent_id`." },
      },
    },
    async (c, { params, query }) => c.json(await getTemplate(c.env, c.var.principal, params.template_id, query.agent_id)),
  );

  defineRoute(
    app,
    {
      method: "put",
      path: "/api/v2/email/templates/:template_id",
      operationId: "updateEmailTemplate",
      summary: "Replace a user template (built-ins are read-only: 409)",
      description: "The owner does not change. Global templates are changed by unrestricted credentials only.",
      tags: TAGS,
      permission: "email:send",
      params: TemplateParams,
      query: TemplateQuery,
      body: TemplateBody,
      responses: {
        200: { description: "The template as stored.", schema: EmailTemplate },
        404: { description: "Unknown template." },
        ...templateErrors,
      },
    },
    async (c, { params, query, body }) => c.json(await updateTemplate(c.env, c.var.principal, params.template_id, body, query.agent_id)),
  );

  defineRoute(
    app,
    {
      method: "delete",
      path: "/api/v2/email/templates/:template_id",
      operationId: "deleteEmailTemplate",
      summary: "Delete a user template (built-ins: 409)",
      description: "Global templates are deleted by unrestricted credentials only.",
      tags: TAGS,
      permission: "email:send",
      params: TemplateParams,
      query: TemplateQuery,
      responses: {
        204: { description: "Deleted." },
        403: templateErrors[403],
        404: { description: "Unknown template." },
        409: { description: "A built-in template." },
        422: { description: "A name, and a credential limited to several agents without `agent_id`." },
      },
    },
    async (c, { params, query }) => {
      await deleteTemplate(c.env, c.var.principal, params.template_id, query.agent_id);
      return c.body(null, 204);
    },
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/api/v2/email/webhooks/sendgrid",
      operationId: "sendgridEventWebhook",
      summary: "SendGrid Event Webhook (signed): delivered / bounce / dropped",
      description:
        "Verified with ECDSA P-256/SHA-256 over timestamp + raw body and the public key in `SENDGRID_WEBHOOK_PUBLIC_KEY`; " +
        "a timestamp more than 5 minutes from now (either way) is refused. " +
        "Events about unknown messages are acknowledged (200) and change nothing.",
      tags: TAGS,
      permission: "public",
      headers: { [SENDGRID_SIGNATURE_HEADER]: "base64 ECDSA signature.", [SENDGRID_TIMESTAMP_HEADER]: "The signed timestamp." },
      responses: {
        200: { description: "Processed.", schema: WebhookResponse },
        400: { description: "Signed, but not a JSON array of events." },
        401: { description: "Missing, invalid or stale signature." },
        503: { description: "SENDGRID_WEBHOOK_PUBLIC_KEY is not configured." },
      },
    },
    async (c) => {
      const raw = await verifySendGrid(c.env, c.req.raw, c.var.requestId);
      return c.json(await handleSendGridEvents(c.env, raw, c.var.requestId));
    },
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/api/v2/email/webhooks/mailgun",
      operationId: "mailgunWebhook",
      summary: "Mailgun webhook (signed): delivered / permanent failure",
      description:
        "JSON `{signature: {timestamp, token, signature}, event-data}`; HMAC-SHA256 with `MAILGUN_WEBHOOK_SIGNING_KEY`, timestamps more than 5 minutes from now refused, " +
        "and each token accepted once (the event data is not signed, so a captured signature cannot be replayed with other events). " +
        "Events about unknown messages are acknowledged (200) and change nothing.",
      tags: TAGS,
      permission: "public",
      responses: {
        200: { description: "Processed.", schema: WebhookResponse },
        401: { description: "Missing, invalid or stale signature, or a token already used." },
        503: { description: "MAILGUN_WEBHOOK_SIGNING_KEY is not configured." },
      },
    },
    async (c) => c.json(await handleMailgunWebhook(c.env, c.req.raw, c.var.requestId)),
  );
}
