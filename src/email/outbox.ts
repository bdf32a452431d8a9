/**
 * The outbox: every message is rendered, recorded in the message log (D1 `email_messages`) as
 * `queued`, sent through the providers of `EMAIL_PROVIDERS` with failover (or only the one
 * named), and recorded as `sent` or `failed` with every provider's attempt. Delivery webhooks
 * later move a sent message to `delivered` or `bounced` (./webhooks.ts); a status never goes
 * back (see {@link advanceStatus}).
 *
 * Each message belongs to an agent, or is global (`agent_id` null); reading the log is filtered
 * by the caller's agents (./mail-scope.ts). Secrets a message carries (the link tokens of an
 * approval mail) go out as they are but are stored masked, so the log never holds a usable link.
 *
 * Input that can never be sent (a missing template variable, an unknown template, a subject with
 * a line break, too many recipients, bodies too large) is refused before anything is recorded:
 * the log holds messages that were really handed to a provider, or really tried.
 */
import { log, warn } from "../lib/log";
import { newId } from "../lib/ids";
import { AppError } from "../lib/problem";
import { iso } from "../lib/time";
import { EmailDeliveryError, providersFromEnv, providersNamed, sendWithFailover, UnconfiguredProvider, type Attempt } from "./failover";
import { textFromHtml } from "./html-to-text";
import { visibleMessages, type MailScope } from "./mail-scope";
import { formatAddress } from "./providers/shared";
import { MAX_RECIPIENTS, MAX_SUBJECT_CHARS, type MessageStatus, type SendBody } from "./schemas";
import { defaultSender, EmailConfigError } from "./settings";
import { resolveTemplate } from "./template-store";
import { escapeHtml } from "../lib/html";
import { renderTemplate } from "./templates";
import { ProviderError, type EmailProvider, type OutgoingEmail, type ProviderName } from "./types";

/** Text + HTML of one message, in UTF-8 bytes (D1 rows are limited to 2 MB). */
export const MAX_BODY_BYTES = 1024 * 1024;

export interface SendMessageInput {
  /** The owner: the agent the message is for, or null for a global one. Templates are resolved for it. */
  agentId: string | null;
  to: string[];
  subject?: string;
  text?: string;
  html?: string;
  /** A `tmpl_…` id, a template name, or a built-in (`approval_request`, `task_completion`). */
  template_id?: string;
  variables?: Record<string, unknown>;
  /** Only this provider, no failover. */
  provider?: ProviderName;
  replyTo?: string;
  /** Extra headers (never From/To/Subject/Message-ID…); not stored. */
  headers?: Record<string, string>;
  /** What the message belongs to (an approval id, a task id). */
  related?: string;
  requestId?: string;
  /**
   * Secrets in the message (link tokens) that are sent as they are but replaced by
   * {@link MASKED} in everything the log stores, also in their URL-encoded and HTML-escaped forms.
   */
  mask?: readonly string[];
}

export const MASKED = "[redacted]";

export interface MessageRecord {
  message_id: string;
  agent_id: string | null;
  provider: ProviderName | null;
  to: string[];
  from: string;
  subject: string;
  status: MessageStatus;
  attempts: Attempt[];
  error: string | null;
  template_id: string | null;
  provider_message_id: string | null;
  rfc_message_id: string | null;
  related: string | null;
  created_at: string;
  sent_at: string | null;
  updated_at: string;
  text: string;
  html: string | null;
}
export type MessageSummary = Omit<MessageRecord, "text" | "html">;

export interface MessageRow {
  message_id: string;
  agent_id: string | null;
  provider: string | null;
  to_addresses: string;
  from_address: string;
  subject: string;
  text_body: string;
  html_body: string | null;
  status: MessageStatus;
  attempts: string;
  error: string | null;
  template_id: string | null;
  provider_message_id: string | null;
  rfc_message_id: string | null;
  related: string | null;
  created_at: number;
  sent_at: number | null;
  updated_at: number;
}

/**
 * Every provider failed: the message is logged as `failed` (`message_id` in the problem).
 * `transient` is true when at least one provider failed in a way worth retrying later
 * (timeout, 5xx, 429, rate limit); false when all were refusals or unconfigured.
 */
export class MessageFailedError extends EmailDeliveryError {
  readonly messageId: string;
  readonly transient: boolean;

  constructor(messageId: string, attempts: Attempt[], transient: boolean) {
    super(attempts);
    this.name = "MessageFailedError";
    this.messageId = messageId;
    this.transient = transient;
    Object.assign(this.extensions, { message_id: messageId });
  }
}

export function renderRow(row: MessageRow): MessageRecord {
  return {
    message_id: row.message_id,
    agent_id: row.agent_id,
    provider: row.provider as ProviderName | null,
    to: JSON.parse(row.to_addresses) as string[],
    from: row.from_address,
    subject: row.subject,
    status: row.status,
    attempts: JSON.parse(row.attempts) as Attempt[],
    error: row.error,
    template_id: row.template_id,
    provider_message_id: row.provider_message_id,
    rfc_message_id: row.rfc_message_id,
    related: row.related,
    created_at: iso(row.created_at),
    sent_at: row.sent_at === null ? null : iso(row.sent_at),
    updated_at: iso(row.updated_at),
    text: row.text_body,
    html: row.html_body,
  };
}

export function summary(record: MessageRecord): MessageSummary {
  const { text: _text, html: _html, ...rest } = record;
  return rest;
}

interface Rendered {
  subject: string;
  text: string;
  html?: string;
  template_id: string | null;
}

async function renderInput(env: Env, input: SendMessageInput): Promise<Rendered> {
  if (input.template_id !== undefined) {
    const { template_id, template } = await resolveTemplate(env, input.agentId, input.template_id);
    const out = renderTemplate(template, input.variables ?? {});
    const html = out.html;
    const text = out.text.trim() === "" && html !== undefined ? textFromHtml(html) : out.text;
    return { subject: input.subject ?? out.subject, text, ...(html !== undefined ? { html } : {}), template_id };
  }
  if (input.text === undefined && input.html === undefined)
    throw new AppError("validation_failed", "text, html or template_id is required", {
      errors: [{ path: "text", message: "text, html or template_id is required" }],
    });
  if (input.subject === undefined)
    throw new AppError("validation_failed", "subject is required without a template", {
      errors: [{ path: "subject", message: "is required without a template" }],
    });
  const text = input.text ?? textFromHtml(input.html as string);
  return { subject: input.subject, text, ...(input.html !== undefined ? { html: input.html } : {}), template_id: null };
}

function check(input: SendMessageInput, rendered: Rendered): void {
  const fail = (path: string, message: string) => {
    throw new AppError("validation_failed", `Invalid ${path}: ${message}`, { errors: [{ path, message }] });
  };
  if (input.to.length === 0) fail("to", "at least one recipient");
  if (input.to.length > MAX_RECIPIENTS) fail("to", `at most ${MAX_RECIPIENTS} recipients`);
  if (rendered.subject.trim() === "") fail("subject", "must not be empty");
  if (/[\r\n]/.test(rendered.subject)) fail("subject", "must not contain line breaks (a subject is one header line)");
  if (rendered.subject.length > MAX_SUBJECT_CHARS) fail("subject", `at most ${MAX_SUBJECT_CHARS} characters`);
  const bytes = new TextEncoder().encode(rendered.text).byteLength + new TextEncoder().encode(rendered.html ?? "").byteLength;
  if (bytes > MAX_BODY_BYTES)
    throw new AppError("payload_too_large", `The message bodies are ${bytes} bytes; at most ${MAX_BODY_BYTES} are allowed.`);
}

/** The providers to try: `EMAIL_PROVIDERS` in order, or only the named one. */
function providersFor(env: Env, only: ProviderName | undefined): EmailProvider[] {
  try {
    // The named provider alone, whether or not EMAIL_PROVIDERS lists it.
    return only === undefined ? providersFromEnv(env) : providersNamed(env, [only]);
  } catch (err) {
    if (err instanceof EmailConfigError) throw new AppError("service_unavailable", `Email is not usable: ${err.message}`);
    throw err;
  }
}

/** Wraps configured providers so that each failure's transience is remembered. */
function watched(providers: EmailProvider[], transient: Map<ProviderName, boolean>): EmailProvider[] {
  return providers.map((p) =>
    p instanceof UnconfiguredProvider
      ? p
      : {
          name: p.name,
          async send(message, signal) {
            try {
              return await p.send(message, signal);
            } catch (err) {
              transient.set(p.name, err instanceof ProviderError ? err.transient : true);
              throw err;
            }
          },
        },
  );
}

/** The wire form of a send (`POST /email/send`, a `send_email` task's metadata) as the outbox takes it, for the owner already decided. */
export function sendInputFromBody(
  body: SendBody,
  extra: { agentId: string | null; related?: string; requestId?: string },
): SendMessageInput {
  return {
    agentId: extra.agentId,
    to: body.to,
    subject: body.subject,
    text: body.text,
    html: body.html,
    template_id: body.template_id,
    variables: body.variables,
    provider: body.provider,
    replyTo: body.reply_to,
    related: body.related ?? extra.related,
    requestId: extra.requestId,
  };
}

/** Replaces every secret, raw, URL-encoded or HTML-escaped, by {@link MASKED}; the longest forms first. */
function masker(secrets: readonly string[]): (text: string) => string {
  const forms = [
    ...new Set(
      secrets
        .filter((s) => s !== "")
        .flatMap((s) => [s, encodeURIComponent(s)])
        .flatMap((s) => [s, escapeHtml(s)]),
    ),
  ].sort((a, b) => b.length - a.length);
  return (text) => forms.reduce((out, form) => out.split(form).join(MASKED), text);
}

/**
 * Renders, records, sends and records the outcome. Resolves with the `sent` record; throws
 * {@link MessageFailedError} (503) when no provider took the message, which stays logged as
 * `failed`; throws a 4xx AppError, with nothing recorded, for input that cannot be sent.
 */
export async function sendMessage(env: Env, input: SendMessageInput): Promise<MessageRecord> {
  const rendered = await renderInput(env, input);
  check(input, rendered);
  const providers = providersFor(env, input.provider);
  const sender = defaultSender(env);
  const mask = masker(input.mask ?? []);
  const now = Date.now();
  const row: MessageRow = {
    message_id: newId("msg"),
    agent_id: input.agentId,
    provider: null,
    to_addresses: JSON.stringify(input.to),
    from_address: formatAddress(sender),
    subject: mask(rendered.subject),
    text_body: mask(rendered.text),
    html_body: rendered.html === undefined ? null : mask(rendered.html),
    status: "queued",
    attempts: "[]",
    error: null,
    template_id: rendered.template_id,
    provider_message_id: null,
    rfc_message_id: null,
    related: input.related ?? null,
    created_at: now,
    sent_at: null,
    updated_at: now,
  };
  await env.DB.prepare(
    `INSERT INTO email_messages (message_id, agent_id, provider, to_addresses, from_address, subject, text_body, html_body, status, attempts, error,
       template_id, provider_message_id, rfc_message_id, related, created_at, sent_at, updated_at)
     VALUES (?, ?, NULL, ?, ?, ?, ?, ?, 'queued', '[]', NULL, ?, NULL, NULL, ?, ?, NULL, ?)`,
  )
    .bind(
      row.message_id,
      row.agent_id,
      row.to_addresses,
      row.from_address,
      row.subject,
      row.text_body,
      row.html_body,
      row.template_id,
      row.related,
      now,
      now,
    )
    .run();

  const message: OutgoingEmail = {
    from: sender,
    to: input.to,
    subject: rendered.subject,
    text: rendered.text,
    ...(rendered.html !== undefined ? { html: rendered.html } : {}),
    ...(input.replyTo ? { replyTo: input.replyTo } : {}),
    ...(input.headers ? { headers: input.headers } : {}),
  };
  const transient = new Map<ProviderName, boolean>();
  try {
    const { result, attempts } = await sendWithFailover(watched(providers, transient), message);
    const sentAt = Date.now();
    Object.assign(row, {
      status: "sent",
      provider: result.provider,
      provider_message_id: result.providerMessageId || null,
      rfc_message_id: result.messageId ?? null,
      attempts: JSON.stringify(attempts),
      sent_at: sentAt,
      updated_at: sentAt,
    });
    // `queued` only: a webhook cannot have moved it yet (it did not know the provider id).
    await env.DB.prepare(
      "UPDATE email_messages SET status = 'sent', provider = ?, provider_message_id = ?, rfc_message_id = ?, attempts = ?, sent_at = ?, updated_at = ? WHERE message_id = ? AND status = 'queued'",
    )
      .bind(row.provider, row.provider_message_id, row.rfc_message_id, row.attempts, sentAt, sentAt, row.message_id)
      .run();
    log({
      event: "email.sent",
      request_id: input.requestId,
      message_id: row.message_id,
      provider: result.provider,
      recipients: input.to.length,
      ...(row.template_id ? { template_id: row.template_id } : {}),
    });
    return renderRow(row);
  } catch (err) {
    if (!(err instanceof EmailDeliveryError)) throw err;
    const failedAt = Date.now();
    const last = [...err.attempts].reverse().find((a) => !a.skipped) ?? err.attempts.at(-1);
    const failure = new MessageFailedError(row.message_id, err.attempts, [...transient.values()].some(Boolean));
    await env.DB.prepare(
      "UPDATE email_messages SET status = 'failed', provider = ?, attempts = ?, error = ?, updated_at = ? WHERE message_id = ? AND status = 'queued'",
    )
      .bind(last?.provider ?? null, JSON.stringify(err.attempts), mask(failure.message), failedAt, row.message_id)
      .run();
    warn({
      event: "email.failed",
      request_id: input.requestId,
      message_id: row.message_id,
      // Masked like the stored error: a provider's error text may quote what it was given.
      error: mask(failure.message),
      attempts: err.attempts.length,
    });
    throw failure;
  }
}

/** One message the scope may read; another agent's is as unknown as a message that does not exist (404). */
export async function getMessage(env: Env, scope: MailScope, messageId: string): Promise<MessageRecord> {
  const visible = visibleMessages(scope);
  const row = await env.DB.prepare(`SELECT * FROM email_messages WHERE message_id = ? AND ${visible.sql}`)
    .bind(messageId, ...visible.binds)
    .first<MessageRow>();
  if (!row) throw new AppError("not_found", `No email message '${messageId}'.`);
  return renderRow(row);
}

export interface ListMessagesOptions {
  limit: number;
  cursor?: string;
  status?: MessageStatus;
  agent_id?: string;
}

/** The query of one page of the log: the scope's messages (or only `agent_id`'s), a range read of an owner index. */
export function listMessagesQuery(scope: MailScope, opts: ListMessagesOptions): { sql: string; binds: unknown[] } {
  const visible = visibleMessages(scope, opts.agent_id);
  const where: string[] = [visible.sql];
  const binds: unknown[] = [...visible.binds];
  if (opts.status) {
    where.push("status = ?");
    binds.push(opts.status);
  }
  if (opts.cursor) {
    const [ms, id] = opts.cursor.split(":");
    // A row value, so the page starts with a range of the (…, created_at, message_id) index.
    where.push("(created_at, message_id) < (?, ?)");
    binds.push(Number(ms), id);
  }
  const columns =
    "message_id, agent_id, provider, to_addresses, from_address, subject, '' AS text_body, NULL AS html_body, status, attempts, error, template_id, provider_message_id, rfc_message_id, related, created_at, sent_at, updated_at";
  const sql = `SELECT ${columns} FROM email_messages WHERE ${where.join(" AND ")} ORDER BY created_at DESC, message_id DESC LIMIT ?`;
  return { sql, binds: [...binds, opts.limit + 1] };
}

/** Newest first. The cursor is `<created_at ms>:<message_id>` of the last message of the page. */
export async function listMessages(
  env: Env,
  scope: MailScope,
  opts: ListMessagesOptions,
): Promise<{ messages: MessageSummary[]; next_cursor: string | null }> {
  const { sql, binds } = listMessagesQuery(scope, opts);
  const { results } = await env.DB.prepare(sql)
    .bind(...binds)
    .all<MessageRow>();
  const page = results.slice(0, opts.limit);
  const last = page.at(-1);
  return {
    messages: page.map((r) => summary(renderRow(r))),
    next_cursor: results.length > opts.limit && last ? `${last.created_at}:${last.message_id}` : null,
  };
}

/** Statuses a delivery event may move a message from; nothing moves back (bounced stays bounced). */
const ADVANCES: Record<"delivered" | "bounced", MessageStatus[]> = {
  delivered: ["queued", "sent"],
  bounced: ["queued", "sent", "delivered"],
};

/**
 * Applies a delivery event to the message with this provider id or Message-ID. Returns the
 * message id when a row changed, `"unchanged"` when the message is known but already at or past
 * that status, and `null` when no message matches.
 */
export async function advanceStatus(
  env: Env,
  match: { provider: ProviderName; providerMessageId?: string; rfcMessageId?: string },
  status: "delivered" | "bounced",
  providerEvent: string,
  requestId?: string,
): Promise<string | "unchanged" | null> {
  const row = await env.DB.prepare(
    "SELECT message_id, status FROM email_messages WHERE provider = ? AND (provider_message_id = ? OR rfc_message_id = ?) ORDER BY created_at DESC LIMIT 1",
  )
    .bind(match.provider, match.providerMessageId ?? null, match.rfcMessageId ?? null)
    .first<{ message_id: string; status: MessageStatus }>();
  if (!row) return null;
  const from = ADVANCES[status];
  const placeholders = from.map(() => "?").join(", ");
  const result = await env.DB.prepare(
    `UPDATE email_messages SET status = ?, updated_at = ? WHERE message_id = ? AND status IN (${placeholders})`,
  )
    .bind(status, Date.now(), row.message_id, ...from)
    .run();
  if (result.meta.changes === 0) return "unchanged";
  log({
    event: "email.status_changed",
    request_id: requestId,
    message_id: row.message_id,
    provider: match.provider,
    status,
    provider_event: providerEvent,
  });
  return row.message_id;
}
