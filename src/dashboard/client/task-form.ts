/**
 * "New task": a form built from the built-in task types' metadata schemas (GET
 * /api/v2/task-types, the JSON Schema the server validates against). Numbers, text, choices and
 * yes/no get their own controls; anything else (arrays, objects, unions) is a JSON text area.
 * Types with no listed properties take the whole metadata as JSON. The server still checks
 * everything: its 422 names the field (`metadata.<field>`).
 */
import { ApiError } from "./api";
import { el, field, input, select, uid } from "./dom";
import type { TaskType } from "./wire";

type Schema = {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  enum?: unknown[];
  description?: string;
  minimum?: number;
  maximum?: number;
  default?: unknown;
  format?: string;
};

interface Control {
  name: string;
  required: boolean;
  element: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;
  read(): unknown;
}

/** The form; `submit(task_type, metadata)` creates the task (its failure is shown by the caller). */
export function taskForm(types: readonly TaskType[], submit: (taskType: string, metadata: Record<string, unknown>) => Promise<void>) {
  const form = el("form", "task-form");
  form.noValidate = true;
  const type = select(
    "task_type",
    types.map((t) => t.task_type),
    types.some((t) => t.task_type === "delay") ? "delay" : (types[0]?.task_type ?? ""),
  );
  const fieldset = el("fieldset");
  const legend = el("legend", null, "Metadata");
  const fields = el("div", "fields");
  fieldset.append(legend, fields);
  const create = el("button", null, "Create task");
  create.type = "submit";
  form.append(field("Task type", type), fieldset, create);

  let controls: Control[] = [];
  const build = () => {
    const t = types.find((x) => x.task_type === type.value);
    const schema = (t?.input_schema ?? {}) as Schema;
    controls = schema.properties
      ? Object.entries(schema.properties).map(([name, s]) => control(name, s, schema.required ?? []))
      : [wholeObject()];
    fields.replaceChildren(...controls.map((c) => c.element.closest(".field") ?? c.element));
    const needs = t?.permissions.length ? `Needs ${t.permissions.join(", ")} besides tasks:write.` : "";
    legend.textContent = `Metadata of a ${type.value} task${needs ? ` (${needs})` : ""}`;
  };
  type.addEventListener("change", build);
  build();

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    let metadata: Record<string, unknown>;
    try {
      metadata = collect(controls);
    } catch (err) {
      // Shown like a server problem, in the same place.
      form.dispatchEvent(new CustomEvent("task-form-error", { detail: err }));
      return;
    }
    create.disabled = true;
    void submit(type.value, metadata).finally(() => {
      create.disabled = false;
    });
  });
  return form;
}

function labelOf(name: string, required: boolean, json: boolean): string {
  return `${name}${json ? " (JSON)" : ""}${required ? " (required)" : ""}`;
}

function control(name: string, s: Schema, requiredNames: string[]): Control {
  const required = requiredNames.includes(name);
  const kind = Array.isArray(s.type) ? undefined : s.type;
  const hint = [s.description, s.default !== undefined ? `Default: ${JSON.stringify(s.default)}.` : ""].filter(Boolean).join(" ");
  if (s.enum) {
    const options: [string, string][] = s.enum.map((v) => [JSON.stringify(v), String(v)]);
    const sel = select(name, required ? options : [["", "(not set)"], ...options]);
    field(labelOf(name, required, false), sel, hint || undefined);
    return { name, required, element: sel, read: () => (sel.value === "" ? undefined : JSON.parse(sel.value)) };
  }
  if (kind === "number" || kind === "integer") {
    const i = input("number", name);
    i.step = kind === "integer" ? "1" : "any";
    if (s.minimum !== undefined) i.min = String(s.minimum);
    if (s.maximum !== undefined) i.max = String(s.maximum);
    i.required = required;
    field(labelOf(name, required, false), i, hint || undefined);
    return { name, required, element: i, read: () => (i.value.trim() === "" ? undefined : Number(i.value)) };
  }
  if (kind === "boolean") {
    const i = input("checkbox", name);
    field(labelOf(name, required, false), i, hint || undefined).classList.add("check");
    return { name, required, element: i, read: () => i.checked };
  }
  if (kind === "string") {
    const i = input(s.format === "email" ? "email" : "text", name);
    i.required = required;
    field(labelOf(name, required, false), i, hint || undefined);
    return { name, required, element: i, read: () => (i.value === "" ? undefined : i.value) };
  }
  const t = el("textarea");
  t.name = name;
  t.rows = 3;
  t.spellcheck = false;
  t.required = required;
  field(labelOf(name, required, true), t, hint || "Any JSON value, e.g. [1, 2, 3].");
  return { name, required, element: t, read: () => (t.value.trim() === "" ? undefined : parseJson(name, t.value)) };
}

function wholeObject(): Control {
  const t = el("textarea");
  t.name = "metadata";
  t.rows = 4;
  t.spellcheck = false;
  t.value = "{}";
  t.id = uid("meta");
  field("metadata (a JSON object)", t);
  return { name: "", required: false, element: t, read: () => parseJson("metadata", t.value) };
}

function parseJson(name: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ApiError(0, "The form has invalid JSON", `${name}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function collect(controls: Control[]): Record<string, unknown> {
  const whole = controls.find((c) => c.name === "");
  if (whole) {
    const value = whole.read();
    if (!value || typeof value !== "object" || Array.isArray(value))
      throw new ApiError(0, "The form has invalid JSON", "metadata must be a JSON object.");
    return value as Record<string, unknown>;
  }
  const out: Record<string, unknown> = {};
  for (const c of controls) {
    const value = c.read();
    if (value === undefined) {
      if (c.required) throw new ApiError(0, "A required field is empty", `Fill in ${c.name}.`);
      continue;
    }
    out[c.name] = value;
  }
  return out;
}
