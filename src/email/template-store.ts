/**
 * Email templates (SPEC §5): the built-ins (`approval_request`, `task_completion`, in code, read
 * only) and user templates in D1 (`email_templates`). A template is found by its `tmpl_…` id or
 * by its name; built-in names are reserved. Placeholders are checked when a template is saved:
 * something that looks like a placeholder but is not one (`{ name }`, `{a..b}`, `{user-name}`)
 * is a 422, so a typo is caught at save time rather than left in a sent mail.
 */
import { newId } from "../lib/ids";
import { AppError, type FieldError } from "../lib/problem";
import { iso } from "../lib/time";
import type { EmailTemplate, TemplateBody } from "./schemas";
import { BUILTIN_TEMPLATES, isBuiltinTemplateId, templatePlaceholders, type Template } from "./templates";

interface TemplateRow {
  template_id: string;
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
const SUSPECT = /\{\s*[A-Za-z0-9_][\w.-]*\??\s*\}/g;
const VALID = /^\{[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*\??\}$/;

/** 422 listing every malformed placeholder; `{{` and `}}` (literal braces) are skipped. */
export function checkPlaceholders(t: { subject: string; text?: string; html?: string }): void {
  const errors: FieldError[] = [];
  for (const part of ["subject", "text", "html"] as const) {
    const source = (t[part] ?? "").replace(/\{\{|\}\}/g, "  ");
    for (const m of source.matchAll(SUSPECT)) {
      if (!VALID.test(m[0])) {
        errors.push({ path: part, message: `'${m[0]}' is not a valid placeholder: use {name}, {a.b} or {name?} (letters, digits, _; {{ and }} for literal braces)` });
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
    description: b.description,
    subject: b.subject,
    text: b.text,
    html: b.html,
    variables: b.variables.map((v) => ({ ...v })),
    created_at: null,
    updated_at: null,
  }));
}

async function findRow(env: Env, idOrName: string): Promise<TemplateRow | null> {
  const column = idOrName.startsWith("tmpl_") ? "template_id" : "name";
  return env.DB.prepare(`SELECT * FROM email_templates WHERE ${column} = ?`).bind(idOrName).first<TemplateRow>();
}

function notFound(idOrName: string): AppError {
  return new AppError("not_found", `No email template '${idOrName}'.`);
}

function refuseBuiltin(idOrName: string, verb: string): void {
  if (isBuiltinTemplateId(idOrName)) throw new AppError("conflict", `'${idOrName}' is a built-in template and cannot be ${verb}.`);
}

export async function listTemplates(env: Env): Promise<EmailTemplate[]> {
  const { results } = await env.DB.prepare("SELECT * FROM email_templates ORDER BY name LIMIT 1000").all<TemplateRow>();
  return [...builtins(), ...results.map(render)];
}

export async function getTemplate(env: Env, idOrName: string): Promise<EmailTemplate> {
  if (isBuiltinTemplateId(idOrName)) return builtins().find((t) => t.template_id === idOrName) as EmailTemplate;
  const row = await findRow(env, idOrName);
  if (!row) throw notFound(idOrName);
  return render(row);
}

/** The template a send names, ready to render; 404 when there is none. */
export async function resolveTemplate(env: Env, idOrName: string): Promise<ResolvedTemplate> {
  if (isBuiltinTemplateId(idOrName)) {
    const b = BUILTIN_TEMPLATES[idOrName];
    return { template_id: b.id, template: { subject: b.subject, text: b.text, html: b.html } };
  }
  const row = await findRow(env, idOrName);
  if (!row) throw notFound(idOrName);
  return { template_id: row.template_id, template: { subject: row.subject, text: row.text_body, ...(row.html_body !== null ? { html: row.html_body } : {}) } };
}

function isUniqueViolation(err: unknown): boolean {
  return err instanceof Error && /UNIQUE constraint failed/i.test(err.message);
}

function nameTaken(name: string): AppError {
  return new AppError("conflict", `A template named '${name}' already exists.`);
}

export async function createTemplate(env: Env, body: TemplateBody): Promise<EmailTemplate> {
  if (isBuiltinTemplateId(body.name)) throw nameTaken(body.name);
  checkPlaceholders(body);
  const now = Date.now();
  const row: TemplateRow = {
    template_id: newId("tmpl"),
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
      "INSERT INTO email_templates (template_id, name, subject, text_body, html_body, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
      .bind(row.template_id, row.name, row.subject, row.text_body, row.html_body, row.description, row.created_at, row.updated_at)
      .run();
  } catch (err) {
    if (isUniqueViolation(err)) throw nameTaken(body.name);
    throw err;
  }
  return render(row);
}

/** Replaces a user template (every field; a renamed template keeps its id). */
export async function updateTemplate(env: Env, idOrName: string, body: TemplateBody): Promise<EmailTemplate> {
  refuseBuiltin(idOrName, "modified");
  if (isBuiltinTemplateId(body.name)) throw nameTaken(body.name);
  checkPlaceholders(body);
  const existing = await findRow(env, idOrName);
  if (!existing) throw notFound(idOrName);
  const row: TemplateRow = {
    ...existing,
    name: body.name,
    subject: body.subject,
    text_body: body.text ?? "",
    html_body: body.html ?? null,
    description: body.description ?? null,
    updated_at: Math.max(Date.now(), existing.updated_at),
  };
  try {
    await env.DB.prepare("UPDATE email_templates SET name = ?, subject = ?, text_body = ?, html_body = ?, description = ?, updated_at = ? WHERE template_id = ?")
      .bind(row.name, row.subject, row.text_body, row.html_body, row.description, row.updated_at, row.template_id)
      .run();
  } catch (err) {
    if (isUniqueViolation(err)) throw nameTaken(body.name);
    throw err;
  }
  return render(row);
}

export async function deleteTemplate(env: Env, idOrName: string): Promise<void> {
  refuseBuiltin(idOrName, "deleted");
  const column = idOrName.startsWith("tmpl_") ? "template_id" : "name";
  const result = await env.DB.prepare(`DELETE FROM email_templates WHERE ${column} = ?`).bind(idOrName).run();
  if (result.meta.changes === 0) throw notFound(idOrName);
}
