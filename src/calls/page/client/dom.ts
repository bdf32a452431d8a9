/** The page's elements and the small UI primitives every part of the page uses. */

/** An element of the server's HTML (src/calls/page/page-html.ts) by id, checked to be a `kind`. */
export function byId<T extends HTMLElement>(id: string, kind: abstract new () => T): T {
  const found = document.getElementById(id);
  if (!(found instanceof kind)) throw new Error(`The page has no ${kind.name} #${id}.`);
  return found;
}

/** A new element; text only ever goes in through `textContent`, never as HTML. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string | null, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

export function setStatus(text: string): void {
  byId("status", HTMLElement).textContent = text;
}

/** A lasting note to the user (no microphone, blocked sound, a failed SFU connection). */
export function notice(text: string): void {
  const n = byId("notice", HTMLElement);
  n.textContent = text;
  n.hidden = false;
}

/** The remote participant's tile (video, audio, name) in #media, if there is one. */
export function tileOf(peer: string): HTMLElement | null {
  return document.querySelector<HTMLElement>(`.tile[data-peer="${CSS.escape(peer)}"]`);
}

/** An error's message, or the thrown value as text. */
export function errorMessage(err: unknown): string {
  const message: unknown = typeof err === "object" && err !== null && "message" in err ? err.message : undefined;
  return message ? String(message) : String(err);
}
