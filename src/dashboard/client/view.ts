/** What every view gets from the shell, and what it gives back. */
import type { ApiClient } from "./api";

export interface ViewContext {
  client: ApiClient;
  /** Aborted when the reader leaves the view: open streams and timers stop. */
  signal: AbortSignal;
  /** The agent the reader picked last ("" for none): Tasks, Scaling and Calls start from it. */
  agentId: string;
  selectAgent(agentId: string): void;
  /** What follows the view's name in the address (`#agents/<id>`), decoded; null for none. */
  param: string | null;
}

export interface View {
  /** The address fragment (`#agents`) and the navigation label. */
  name: string;
  label: string;
  render(ctx: ViewContext): HTMLElement;
}

/** Repeats `fn` every `ms` until the view's signal aborts (never two at once). */
export function every(signal: AbortSignal, ms: number, fn: () => Promise<unknown>): void {
  const tick = async () => {
    if (signal.aborted) return;
    await fn().catch(() => undefined);
    if (!signal.aborted) setTimeout(tick, ms);
  };
  setTimeout(tick, ms);
}
