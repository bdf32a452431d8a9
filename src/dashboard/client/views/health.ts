/**
 * Health: the header's one-line status (GET /health, anyone may read it, refreshed every 30 s)
 * and the view with each feature and, signed in, what each one rests on (`checks`).
 */
import { apiClient, type ApiClient } from "../api";
import { code, el, facts, section } from "../dom";
import { alertRegion, guarded } from "../problem-view";
import { every, type View } from "../view";
import type { Health } from "../wire";

const REFRESH_MS = 30_000;

/** /health answers 503 with the same body when degraded: both are a reading, not a failure. */
async function readHealth(client: ApiClient, signal?: AbortSignal): Promise<Health> {
  return (await client.request<Health>("GET", "/health", { signal, alsoOk: [503] })).data;
}

/** Keeps the header's status line current. */
export function startHealthLine(line: HTMLElement, signal: AbortSignal): void {
  const update = async () => {
    try {
      const h = await readHealth(apiClient(null), signal);
      line.textContent = `Health: ${h.status} · version ${h.version}`;
      line.dataset.status = h.status;
    } catch {
      line.textContent = "Health: the server did not answer";
      line.dataset.status = "down";
    }
  };
  void update();
  every(signal, REFRESH_MS, update);
}

export const healthView: View = {
  name: "health",
  label: "Health",
  render(ctx) {
    const { root } = section("Health", "h2", "view");
    const problem = alertRegion();
    const features = section("Features");
    const checks = section("Checks");
    const link = el("p");
    const docs = el("a", null, "The API reference (/docs)");
    docs.href = "/docs";
    link.append(docs);
    root.append(problem, features.root, checks.root, link);
    void guarded(problem, async () => {
      const h = await readHealth(ctx.client, ctx.signal);
      features.root.append(
        facts([
          ["Status", h.status],
          ["Version", code(h.version)],
          ...Object.entries(h.features).map(([k, v]): [string, string] => [k.replaceAll("_", " "), v ? "on" : "off"]),
        ]),
      );
      checks.root.append(
        h.checks
          ? facts(
              Object.entries(h.checks).map(([k, c]): [string, string] => [
                k.replaceAll("_", " "),
                `${c.ok ? "ok" : "not ok"}: ${c.detail}`,
              ]),
            )
          : el("p", "muted", "Shown to signed-in credentials."),
      );
    });
    return root;
  },
};
