/**
 * Email routes (SPEC §5): sending, the message log, templates and the delivery webhooks of
 * SendGrid and Mailgun. The webhooks are public: their signatures are the authentication.
 */
import type { Hono } from "hono";
import { z } from "zod";
import { getMessage, listMessages, sendInputFromBody, sendMessage } from "../email/outbox";
import {
  adaptSendBody,
  EmailMessage,
  EmailMessageSummary,
  EmailTemplate,
  MessageParams,
  MessagesQuery,
  SendBody,
  SendResponse,
  TemplateBody,
  TemplateParams,
} from "../email/schemas";
import { createTemplate, deleteTemplate, getTemplate, listTemplates, updateTemplate } from "../email/template-store";
import { handleMailgunWebhook, handleSendGridEvents, SENDGRID_SIGNATURE_HEADER, SENDGRID_TIMESTAMP_HEADER, verifySendGrid } from "../email/webhooks";
import type { AppEnv } from "../http/app-env";
import { defineRoute } from "../http/route";

const TAGS = ["email"];
const WebhookResponse = z.object({ received: z.number(), updated: z.number(), unchanged: z.number(), unknown: z.number(), ignored: z.number() });
const templateErrors = {
  409: { description: "The name is taken, or the template is a built-in." },
  422: { description: "Invalid body or placeholder." },
};

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
        "line break in the subject, more than 50 recipients) is refused before anything is logged.",
      tags: TAGS,
      permission: "email:send",
      body: SendBody,
      legacyBody: adaptSendBody,
      responses: {
        201: { description: "Sent.", schema: SendResponse, headers: { Location: "The message's URL." } },
        404: { description: "Unknown template." },
        413: { description: "The rendered bodies exceed 1 MiB." },
        422: { description: "Invalid body, or a template variable is missing (named in `errors`)." },
        503: { description: "No provider took the message (it is logged as failed; `attempts` and `message_id` in the problem), or email is misconfigured." },
      },
    },
    async (c, { body }) => {
      const record = await sendMessage(c.env, sendInputFromBody(body, { requestId: c.var.requestId }));
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
      tags: TAGS,
      permission: "email:send",
      query: MessagesQuery,
      responses: { 200: { description: "A page of messages.", schema: z.object({ messages: z.array(EmailMessageSummary), next_cursor: z.string().nullable() }) } },
    },
    async (c, { query }) => c.json(await listMessages(c.env, query)),
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/v2/email/messages/:message_id",
      operationId: "getEmailMessage",
      summary: "One message with its text and HTML bodies",
      tags: TAGS,
      permission: "email:send",
      params: MessageParams,
      responses: { 200: { description: "The message.", schema: EmailMessage }, 404: { description: "Unknown message." } },
    },
    async (c, { params }) => c.json(await getMessage(c.env, params.message_id)),
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/v2/email/templates",
      operationId: "listEmailTemplates",
      summary: "Templates: the built-ins (`builtin: true`) and user templates by name",
      tags: TAGS,
      permission: "email:send",
      responses: { 200: { description: "Every template.", schema: z.object({ templates: z.array(EmailTemplate) }) } },
    },
    async (c) => c.json({ templates: await listTemplates(c.env) }),
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/api/v2/email/templates",
      operationId: "createEmailTemplate",
      summary: "Create a template with {placeholders}",
      tags: TAGS,
      permission: "email:send",
      body: TemplateBody,
      responses: { 201: { description: "Created.", schema: EmailTemplate, headers: { Location: "The template's URL." } }, ...templateErrors },
    },
    async (c, { body }) => {
      const template = await createTemplate(c.env, body);
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
      tags: TAGS,
      permission: "email:send",
      params: TemplateParams,
      responses: { 200: { description: "The template.", schema: EmailTemplate }, 404: { description: "Unknown template." } },
    },
    async (c, { params }) => c.json(await getTemplate(c.env, params.template_id)),
  );

  defineRoute(
    app,
    {
      method: "put",
      path: "/api/v2/email/templates/:template_id",
      operationId: "updateEmailTemplate",
      summary: "Replace a user template (built-ins are read-only: 409)",
      tags: TAGS,
      permission: "email:send",
      params: TemplateParams,
      body: TemplateBody,
      responses: { 200: { description: "The template as stored.", schema: EmailTemplate }, 404: { description: "Unknown template." }, ...templateErrors },
    },
    async (c, { params, body }) => c.json(await updateTemplate(c.env, params.template_id, body)),
  );

  defineRoute(
    app,
    {
      method: "delete",
      path: "/api/v2/email/templates/:template_id",
      operationId: "deleteEmailTemplate",
      summary: "Delete a user template (built-ins: 409)",
      tags: TAGS,
      permission: "email:send",
      params: TemplateParams,
      responses: { 204: { description: "Deleted." }, 404: { description: "Unknown template." }, 409: { description: "A built-in template." } },
    },
    async (c, { params }) => {
      await deleteTemplate(c.env, params.template_id);
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
        "Verified with ECDSA P-256/SHA-256 over timestamp + raw body and the public key in `SENDGRID_WEBHOOK_PUBLIC_KEY`. " +
        "Events about unknown messages are acknowledged (200) and change nothing.",
      tags: TAGS,
      permission: "public",
      headers: { [SENDGRID_SIGNATURE_HEADER]: "base64 ECDSA signature.", [SENDGRID_TIMESTAMP_HEADER]: "The signed timestamp." },
      responses: {
        200: { description: "Processed.", schema: WebhookResponse },
        400: { description: "Signed, but not a JSON array of events." },
        401: { description: "Missing or invalid signature." },
        503: { description: "SENDGRID_WEBHOOK_PUBLIC_KEY is not configured." },
      },
    },
    async (c) => {
      const raw = await verifySendGrid(c.env, c.req.raw, c.var.requestId);
      return c.json(await handleSendGridEvents(c.env, raw));
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
        "JSON `{signature: {timestamp, token, signature}, event-data}`; HMAC-SHA256 with `MAILGUN_WEBHOOK_SIGNING_KEY`, timestamps older than 5 minutes refused. " +
        "Events about unknown messages are acknowledged (200) and change nothing.",
      tags: TAGS,
      permission: "public",
      responses: {
        200: { description: "Processed.", schema: WebhookResponse },
        401: { description: "Missing, invalid or stale signature." },
        503: { description: "MAILGUN_WEBHOOK_SIGNING_KEY is not configured." },
      },
    },
    async (c) => c.json(await handleMailgunWebhook(c.env, c.req.raw, c.var.requestId)),
  );
}
