/**
 * The dashboard's UI primitives. Text only ever goes in through `textContent` (the call page's
 * `el`, shared like its `byId`), never as HTML; every control gets a visible label tied to it by id.
 */
import { el } from "../../calls/page/client/dom";

export { byId, el, errorMessage } from "../../calls/page/client/dom";

let counter = 0;
/** An id unique in the page, for label/aria references. */
export function uid(prefix: string): string {
  counter += 1;
  return `${prefix}-${counter}`;
}

export function button(label: string, onClick: (ev: MouseEvent) => void, cls?: string): HTMLButtonElement {
  const b = el("button", cls ?? null, label);
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}

/** A label above its control (input, select or textarea), tied by `for`; an optional hint under it. */
export function field(label: string, control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement, hint?: string): HTMLElement {
  control.id ||= uid("f");
  const wrap = el("div", "field");
  const l = el("label", null, label);
  l.htmlFor = control.id;
  wrap.append(l, control);
  if (hint) {
    const h = el("p", "hint", hint);
    h.id = uid("hint");
    control.setAttribute("aria-describedby", h.id);
    wrap.append(h);
  }
  return wrap;
}

export function input(type: string, name: string, value = ""): HTMLInputElement {
  const i = el("input");
  i.type = type;
  i.name = name;
  i.value = value;
  i.autocomplete = "off";
  i.spellcheck = false;
  return i;
}

export function select(name: string, options: readonly (string | [value: string, label: string])[], value = ""): HTMLSelectElement {
  const s = el("select");
  s.name = name;
  for (const o of options) {
    const [v, text] = typeof o === "string" ? [o, o] : o;
    const opt = el("option", null, text);
    opt.value = v;
    s.append(opt);
  }
  s.value = value;
  return s;
}

/** A section with a heading (the view's landmark for screen readers). */
export function section(title: string, level: "h2" | "h3" = "h3", cls?: string): { root: HTMLElement; heading: HTMLElement } {
  const root = el("section", cls ?? null);
  const heading = el(level, null, title);
  heading.id = uid("h");
  root.setAttribute("aria-labelledby", heading.id);
  root.append(heading);
  return { root, heading };
}

/** A definition list of label/value pairs (figures on cards). */
export function facts(pairs: readonly [string, string | Node][]): HTMLDListElement {
  const dl = el("dl", "facts");
  for (const [k, v] of pairs) {
    const dt = el("dt", null, k);
    const dd = el("dd");
    dd.append(v);
    dl.append(dt, dd);
  }
  return dl;
}

/** An ISO time as the reader's local date and time; "–" for none. */
export function when(iso: string | null | undefined): string {
  if (!iso) return "–";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function code(text: string): HTMLElement {
  return el("code", null, text);
}
