/**
 * Email templates: the built-ins (`approval_request`, `task_completion`, in code, read only) and
 * user templates in D1 (`email_templates`). A user template belongs to an agent or is global
 * (./mail-scope.ts says who sees and changes which). It is found by its `tmpl_…` id or by its
 * name; a name is unique per owner and is looked up among the owner's templates first, then
 * the global ones; built-in names are reserved. Placeholders are checked when a template is
 * saved: something that looks like a placeholder but is not one (`{ name }`, `{a..b}`,
 * `{user-name}`) is a 422, so a typo is caught at save time rather than left in a sent mail.
 */
import { newId } from "../lib/ids";
import { AppError, type FieldError } from "../lib/problem";
import { iso } from "../lib/time";
import {
  mayWrite,
  ownerFor,
  templatesUsableBy,
  visibleTemplates,
  writableTemplates,
  type MailScope,
  type SqlCondition,
} from "./mail-scope";
import type { EmailTemplate, NewTemplateBody, TemplateBody } from "./schemas";
import { BUILTIN_TEMPLATES, isBuiltinTemplateId, templatePlaceholders, type Template } from "./templates";

interface TemplateRow {
  template_id: string;
  agent_id: string | null;
  name: string;
  subject: string;
  text_body: string;
  html_body: string | null;
  description: string | null;
  created_at: number;
  updated_at: number;
}

/** A template ready to render, with what identifies it in the message log. */
export interface ResolvedTemplate {
  template_id: string;
  template: Template;
}

/** Brace groups that look like an attempt at a placeholder: an identifier-ish word, maybe padded. */
const PLACEHOLDER_LIKE = /\{\s*[A-Za-z0-9_][\w.-]*\??\s*\}/g;
const VALID = /^\{[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*\??\}$/;

/** 422 listing every malformed placeholder; `{{` and `}}` (literal braces) are skipped. */
export function checkPlaceholders(t: { subject: string; text?: string; html?: string }): void {
  const errors: FieldError[] = [];
  for (const part of ["subject", "text", "html"] as const) {
    const source = (t[part] ?? "").replace(/\{\{|\}\}/g, "  ");
    for (const m of source.matchAll(PLACEHOLDER_LIKE)) {
      if (!VALID.test(m[0])) {
        errors.push({
          path: part,
          message: `'${m[0]}' is not a valid placeholder: use {name}, {a.b} or {name?} (letters, digits, _; {{ and }} for literal braces)`,
        });
      }
    }
  }
  if (errors.length > 0) throw new AppError("validation_failed", `Invalid placeholder: ${errors[0]?.message}`, { errors });
}

function render(row: TemplateRow): EmailTemplate {
  const template = { subject: row.subject, text: row.text_body, ...(row.html_body !== null ? { html: row.html_body } : {}) };
  return {
    template_id: row.template_id,
    name: row.name,
    builtin: false,
    agent_id: row.agent_id,
    description: row.description,
    subject: row.subject,
    text: row.text_body,
    html: row.html_body,
    variables: templatePlaceholders(template),
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}

function builtins(): EmailTemplate[] {
  return Object.values(BUILTIN_TEMPLATES).map((b) => ({
    template_id: b.id,
    name: b.id,
    builtin: true,
    agent_id: null,
    description: b.description,
    subject: b.subject,
    text: b.text,
    html: b.html,
    variables: b.variables.map((v) => ({ ...v })),
    created_at: null,
    updated_at: null,
  }));
}

const isTemplateId = (idOrName: string) => idOrName.startsWith("tmpl_");

async function first(env: Env, where: SqlCondition, extra: SqlCondition, order = ""): Promise<TemplateRow | null> {
  return env.DB.prepare(`SELECT * FROM email_templates WHERE ${where.sql} AND ${extra.sql} ${order} LIMIT 1`)
    .bind(...where.binds, ...extra.binds)
    .first<TemplateRow>();
}

/** The template `owner`'s messages know by this id or name: the owner's own name first, then the global one. */
async function findUsable(env: Env, owner: string | null, idOrName: string): Promise<TemplateRow | null> {
  const usable = templatesUsableBy(owner);
  if (isTemplateId(idOrName)) return first(env, { sql: "template_id = ?", binds: [idOrName] }, usable);
  return first(env, { sql: "name = ?", binds: [idOrName] }, usable, "ORDER BY agent_id IS NULL");
}

/**
 * The template the scope asks for: an id among the templates it may read (only global ones and
 * `agentId`'s when given), a name among those of the owner it speaks for (see ownerFor).
 */
async function findVisible(env: Env, scope: MailScope, idOrName: string, agentId: string | undefined): Promise<TemplateRow | null> {
  if (isTemplateId(idOrName)) return first(env, { sql: "template_id = ?", binds: [idOrName] }, visibleTemplates(scope, agentId));
  return findUsable(env, ownerFor(scope, agentId, "query.agent_id"), idOrName);
}

function notFound(idOrName: string): AppError {
  return new AppError("not_found", `No email template '${idOrName}'.`);
}

function refuseBuiltin(idOrName: string, verb: string): void {
  if (isBuiltinTemplateId(idOrName)) throw new AppError("conflict", `'${idOrName}' is a built-in template and cannot be ${verb}.`);
}

/** The template the scope may change; 404 when it cannot see it, 403 when it may only read it (a global one). */
async function findWritable(env: Env, scope: MailScope, idOrName: string, agentId: string | undefined): Promise<TemplateRow> {
  const row = await findVisible(env, scope, idOrName, agentId);
  if (!row) throw notFound(idOrName);
  if (!mayWrite(scope, row.agent_id)) {
    throw new AppError("forbidden", `'${idOrName}' is a global template: only a credential without an agent limit may change it.`);
  }
  return row;
}

/** The built-ins, then the user templates the scope may read (global and its agents', or only `agentId`'s), by name. */
export async function listTemplates(env: Env, scope: MailScope, agentId?: string): Promise<EmailTemplate[]> {
  const visible = visibleTemplates(scope, agentId);
  const { results } = await env.DB.prepare(`SELECT * FROM email_templates WHERE ${visible.sql} ORDER BY name, agent_id LIMIT 1000`)
    .bind(...visible.binds)
    .all<TemplateRow>();
  return [...builtins(), ...results.map(render)];
}

export async function getTemplate(env: Env, scope: MailScope, idOrName: string, agentId?: string): Promise<EmailTemplate> {
  if (isBuiltinTemplateId(idOrName)) return builtins().find((t) => t.template_id === idOrName) as EmailTemplate;
  const row = await findVisible(env, scope, idOrName, agentId);
  if (!row) throw notFound(idOrName);
  return render(row);
}

/** The template a message of `owner` names, ready to render; 404 when it has none by that id or name. */
export async function resolveTemplate(env: Env, owner: string | null, idOrName: string): Promise<ResolvedTemplate> {
  if (isBuiltinTemplateId(idOrName)) {
    const b = BUILTIN_TEMPLATES[idOrName];
    return { template_id: b.id, template: { subject: b.subject, text: b.text, html: b.html } };
  }
  const row = await findUsable(env, owner, idOrName);
  if (!row) throw notFound(idOrName);
  return {
    template_id: row.template_id,
    template: { subject: row.subject, text: row.text_body, ...(row.html_body !== null ? { html: row.html_body } : {}) },
  };
}

function isUniqueViolation(err: unknown): boolean {
  return err instanceof Error && /UNIQUE constraint failed/i.test(err.message);
}

function nameTaken(name: string, owner: string | null): AppError {
  return new AppError(
    "conflict",
    `A template named '${name}' already exists ${owner === null ? "among the global templates" : `for agent '${owner}'`}.`,
  );
}

/** Creates a template owned by the agent the body names (see ownerFor: global for an unrestricted credential without one). */
export async function createTemplate(env: Env, scope: MailScope, body: NewTemplateBody): Promise<EmailTemplate> {
  const owner = ownerFor(scope, body.agent_id);
  if (isBuiltinTemplateId(body.name)) throw nameTaken(body.name, owner);
  checkPlaceholders(body);
  const now = Date.now();
  const row: TemplateRow = {
    template_id: newId("tmpl"),
    agent_id: owner,
    name: body.name,
    subject: body.subject,
    text_body: body.text ?? "",
    html_body: body.html ?? null,
    description: body.description ?? null,
    created_at: now,
    updated_at: now,
  };
  try {
    await env.DB.prepare(
      "INSERT INTO email_templates (template_id, agent_id, name, subject, text_body, html_body, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
      .bind(
        row.template_id,
        row.agent_id,
        row.name,
        row.subject,
        row.text_body,
        row.html_body,
        row.description,
        row.created_at,
        row.updated_at,
      )
      .run();
  } catch (err) {
    if (isUniqueViolation(err)) throw nameTaken(body.name, owner);
    throw err;
  }
  return render(row);
}

/** Replaces a user template (every field; a renamed template keeps its id and owner). */
export async function updateTemplate(
  env: Env,
  scope: MailScope,
  idOrName: string,
  body: TemplateBody,
  agentId?: string,
): Promise<EmailTemplate> {
  refuseBuiltin(idOrName, "modified");
  if (isBuiltinTemplateId(body.name)) throw nameTaken(body.name, null);
  checkPlaceholders(body);
  const existing = await findWritable(env, scope, idOrName, agentId);
  const row: TemplateRow = {
    ...existing,
    name: body.name,
    subject: body.subject,
    text_body: body.text ?? "",
    html_body: body.html ?? null,
    description: body.description ?? null,
    updated_at: Math.max(Date.now(), existing.updated_at),
  };
  const writable = writableTemplates(scope);
  try {
    await env.DB.prepare(
      `UPDATE email_templates SET name = ?, subject = ?, text_body = ?, html_body = ?, description = ?, updated_at = ? WHERE template_id = ? AND ${writable.sql}`,
    )
      .bind(row.name, row.subject, row.text_body, row.html_body, row.description, row.updated_at, row.template_id, ...writable.binds)
      .run();
  } catch (err) {
    if (isUniqueViolation(err)) throw nameTaken(body.name, row.agent_id);
    throw err;
  }
  return render(row);
}

export async function deleteTemplate(env: Env, scope: MailScope, idOrName: string, agentId?: string): Promise<void> {
  refuseBuiltin(idOrName, "deleted");
  const existing = await findWritable(env, scope, idOrName, agentId);
  const writable = writableTemplates(scope);
  const result = await env.DB.prepare(`DELETE FROM email_templates WHERE template_id = ? AND ${writable.sql}`)
    .bind(existing.template_id, ...writable.binds)
    .run();
  if (result.meta.changes === 0) throw notFound(idOrName);
}
