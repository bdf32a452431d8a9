/**
 * Email templates: a subject, a plain-text body and an optional HTML body with placeholders.
 *
 * Syntax (the same in all three parts):
 * - `{name}` is replaced by `variables.name`. Names are letters, digits and `_`, not starting
 *   with a digit.
 * - `{a.b}` walks into objects: `{task.title}` reads `variables.task.title` (a key literally named
 *   `"task.title"` wins if present). Only own properties are read.
 * - `{name?}` is optional: a missing value renders as nothing. Without `?` a missing value is an
 *   error: `renderTemplate` throws one `AppError("validation_failed")` (422) naming every
 *   missing variable in `errors`.
 * - `{{` and `}}` are literal `{` and `}`; any other brace that does not form a placeholder (CSS
 *   `p { margin: 0 }`, JSON) is left as it is.
 *
 * Values: strings as they are, numbers/booleans as `String(v)`, dates as ISO 8601, `null` as
 * nothing, arrays of scalars joined with ", ", other objects as JSON. In the HTML body every value
 * is HTML-escaped (`& < > " '`), in the text body and subject it is not; in the subject line
 * breaks become spaces (a subject is one header line).
 */
import { escapeHtml } from "../lib/html";
import { AppError, type FieldError } from "../lib/problem";

export interface Template {
  subject: string;
  text: string;
  html?: string;
}

export type RenderedTemplate = Template;

const TOKEN = /\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)(\?)?\}/g;

type Part = "subject" | "text" | "html";

/** The value at `name` (own properties only), or undefined. */
function lookup(variables: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(variables, name)) return variables[name];
  let current: unknown = variables;
  for (const key of name.split(".")) {
    if (typeof current !== "object" || current === null || !Object.hasOwn(current, key)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function stringify(value: unknown): string {
  if (value === null) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value) && value.every((v) => v === null || typeof v !== "object")) return value.map((v) => stringify(v)).join(", ");
  return JSON.stringify(value) ?? "";
}

/** Every placeholder in the template, in order of first use, and whether it is required. */
export function templatePlaceholders(t: Template): { name: string; required: boolean }[] {
  const found = new Map<string, boolean>();
  for (const source of [t.subject, t.text, t.html ?? ""]) {
    for (const m of source.matchAll(TOKEN)) {
      const name = m[1];
      if (name === undefined) continue;
      found.set(name, (found.get(name) ?? false) || m[2] !== "?");
    }
  }
  return [...found].map(([name, required]) => ({ name, required }));
}

/** Renders the template; throws `AppError("validation_failed")` listing every missing variable. */
export function renderTemplate(t: Template, variables: Record<string, unknown>): RenderedTemplate {
  const missing = new Map<string, Part[]>();
  const render = (source: string, part: Part): string =>
    source.replace(TOKEN, (token, name: string | undefined, optional: string | undefined) => {
      if (token === "{{") return "{";
      if (token === "}}") return "}";
      if (name === undefined) return token;
      const value = lookup(variables, name);
      if (value === undefined) {
        if (!optional) {
          const parts = missing.get(name) ?? [];
          if (!parts.includes(part)) parts.push(part);
          missing.set(name, parts);
        }
        return "";
      }
      const text = stringify(value);
      if (part === "html") return escapeHtml(text);
      if (part === "subject") return text.replace(/[\r\n]+/g, " ");
      return text;
    });

  const rendered: RenderedTemplate = { subject: render(t.subject, "subject"), text: render(t.text, "text") };
  if (t.html !== undefined) rendered.html = render(t.html, "html");

  if (missing.size > 0) {
    const names = [...missing.keys()];
    const errors: FieldError[] = [...missing].map(([name, parts]) => ({
      path: `variables.${name}`,
      message: `missing; the template uses it in ${parts.join(", ")}`,
    }));
    throw new AppError("validation_failed", `Missing template variable${names.length > 1 ? "s" : ""}: ${names.join(", ")}`, { errors });
  }
  return rendered;
}

// ---------------------------------------------------------------------------------------------
// Built-in templates
// ---------------------------------------------------------------------------------------------

export interface TemplateVariable {
  name: string;
  required: boolean;
  description: string;
}

export interface BuiltinTemplate extends Template {
  id: BuiltinTemplateId;
  description: string;
  html: string;
  variables: TemplateVariable[];
}

export type BuiltinTemplateId = "approval_request" | "task_completion";

const FONT = "font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif";

/**
 * Long words (ids, URLs, tokens) wrap instead of widening the card: `overflow-wrap:anywhere` where
 * supported, the older `word-break:break-word` for the rest (Outlook.com, older WebKit).
 */
const WRAP = "overflow-wrap:anywhere;word-break:break-word";

/**
 * The shared frame: one centred card, inline styles only, no images or external assets. The
 * tables are `table-layout:fixed`, so their width comes from the screen (up to 600 px), never from
 * the longest word in them: on a 375 px phone the card fits and its text wraps.
 */
function frame(heading: string, body: string, footer: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${heading}</title></head>
<body style="margin:0;padding:0;background-color:#f4f5f7;${FONT};color:#1f2328;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="width:100%;table-layout:fixed;background-color:#f4f5f7;">
<tr><td align="center" style="padding:24px 12px;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="width:100%;max-width:600px;table-layout:fixed;background-color:#ffffff;border:1px solid #d8dee4;border-radius:8px;">
<tr><td style="padding:24px 28px;${WRAP};">
<h1 style="margin:0 0 16px 0;font-size:20px;line-height:1.3;font-weight:600;color:#1f2328;">${heading}</h1>
${body}
</td></tr>
<tr><td style="padding:16px 28px;border-top:1px solid #d8dee4;font-size:12px;line-height:1.5;color:#656d76;${WRAP};">${footer}</td></tr>
</table>
</td></tr>
</table>
</body>
</html>
`;
}

const RAW_LINK = "color:#0969da;word-break:break-all;overflow-wrap:anywhere";

const APPROVAL_REQUEST: BuiltinTemplate = {
  id: "approval_request",
  description: "Asks a person to approve or reject an agent's request, by link or by reply.",
  variables: [
    { name: "title", required: true, description: "What is to be approved (one line)." },
    { name: "description", required: true, description: "The details the approver needs to decide." },
    { name: "approve_url", required: true, description: "The signed approve link (opens a confirmation page)." },
    { name: "reject_url", required: true, description: "The signed reject link (opens a confirmation page)." },
    { name: "expires_at", required: true, description: "When the request expires (ISO 8601)." },
    { name: "agent_id", required: true, description: "The agent that asks." },
    { name: "reply_hint", required: false, description: "How to answer by replying, when replies are routed back." },
  ],
  subject: "Approval needed: {title}",
  text: `Approval needed: {title}

Agent {agent_id} is waiting for your decision.

{description}

Approve: {approve_url}
Reject:  {reject_url}

{reply_hint?}

Each link opens a confirmation page; nothing is recorded until you confirm there.
This request expires at {expires_at}.
`,
  html: frame(
    "Approval needed: {title}",
    `<p style="margin:0 0 16px 0;font-size:14px;line-height:1.5;color:#656d76;">Agent <strong style="color:#1f2328;">{agent_id}</strong> is waiting for your decision.</p>
<div style="margin:0 0 24px 0;padding:12px 16px;background-color:#f6f8fa;border-left:4px solid #0969da;font-size:15px;line-height:1.5;white-space:pre-wrap;">{description}</div>
<table role="presentation" cellpadding="0" cellspacing="0" border="0" style="margin:0 0 20px 0;">
<tr>
<td style="padding:0 12px 0 0;"><a href="{approve_url}" style="display:inline-block;padding:10px 22px;background-color:#1a7f37;color:#ffffff;font-size:15px;font-weight:600;text-decoration:none;border-radius:6px;">Approve</a></td>
<td><a href="{reject_url}" style="display:inline-block;padding:10px 22px;background-color:#cf222e;color:#ffffff;font-size:15px;font-weight:600;text-decoration:none;border-radius:6px;">Reject</a></td>
</tr>
</table>
<p style="margin:0 0 8px 0;font-size:14px;line-height:1.5;">{reply_hint?}</p>
<p style="margin:0;font-size:13px;line-height:1.5;color:#656d76;">Each button opens a confirmation page; nothing is recorded until you confirm there.</p>`,
    // A raw link is one long word: it may break anywhere (break-all is what every client knows).
    `This request expires at {expires_at}. If the buttons do not work, open these links:<br>Approve: <a href="{approve_url}" style="${RAW_LINK}">{approve_url}</a><br>Reject: <a href="{reject_url}" style="${RAW_LINK}">{reject_url}</a>`,
  ),
};

const TASK_COMPLETION: BuiltinTemplate = {
  id: "task_completion",
  description: "Reports that an agent's task has finished, with its status and a summary of the result.",
  variables: [
    { name: "task_id", required: true, description: "The task's id." },
    { name: "task_type", required: true, description: "The task's type, e.g. data_analysis." },
    { name: "status", required: true, description: "The final status: completed, failed or cancelled." },
    { name: "result_summary", required: true, description: "A short summary of the result or the error." },
    { name: "agent_id", required: true, description: "The agent that ran the task." },
  ],
  subject: "Task {status}: {task_type} ({task_id})",
  text: `Task {task_id} ({task_type}) of agent {agent_id} has finished.

Status: {status}

Summary:
{result_summary}
`,
  html: frame(
    "Task {status}: {task_type}",
    `<table role="presentation" cellpadding="0" cellspacing="0" border="0" style="margin:0 0 20px 0;font-size:14px;line-height:1.6;">
<tr><td style="padding:0 16px 0 0;color:#656d76;">Task</td><td style="font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;">{task_id}</td></tr>
<tr><td style="padding:0 16px 0 0;color:#656d76;">Type</td><td>{task_type}</td></tr>
<tr><td style="padding:0 16px 0 0;color:#656d76;">Agent</td><td>{agent_id}</td></tr>
<tr><td style="padding:0 16px 0 0;color:#656d76;">Status</td><td><strong>{status}</strong></td></tr>
</table>
<h2 style="margin:0 0 8px 0;font-size:15px;font-weight:600;">Summary</h2>
<div style="margin:0;padding:12px 16px;background-color:#f6f8fa;border-radius:6px;font-size:14px;line-height:1.5;white-space:pre-wrap;">{result_summary}</div>`,
    "Sent by DataMCPServerAgent when the task finished.",
  ),
};

export const BUILTIN_TEMPLATES: Readonly<Record<BuiltinTemplateId, BuiltinTemplate>> = {
  approval_request: APPROVAL_REQUEST,
  task_completion: TASK_COMPLETION,
};

export function isBuiltinTemplateId(id: string): id is BuiltinTemplateId {
  return Object.hasOwn(BUILTIN_TEMPLATES, id);
}
