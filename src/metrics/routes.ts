/** `GET /metrics`: the Prometheus scrape target (docs/monitoring.md). */
import type { Hono } from "hono";
import type { AppEnv } from "../http/app-env";
import { defineRoute } from "../http/route";
import { warn } from "../lib/log";
import { AppError } from "../lib/problem";
import { authorizeScrape } from "./access";
import { EXPOSITION_CONTENT_TYPE, renderExposition, type Family } from "./exposition";
import { isolateFamilies } from "./isolate-metrics";
import { storeFamilies } from "./store-figures";

export function registerMetricsRoutes(app: Hono<AppEnv>): void {
  defineRoute(
    app,
    {
      method: "get",
      path: "/metrics",
      operationId: "metrics",
      summary: "Prometheus metrics",
      description:
        "Prometheus text exposition format 0.0.4. With METRICS_TOKEN set, only `Authorization: Bearer <METRICS_TOKEN>` is accepted " +
        "(no API credential); without it, an admin credential not limited to some agents. Counts by status (tasks, approvals, " +
        "calls, email) and durations come from the stores and are the same whichever isolate answers; request, response-time, " +
        "error and save counters are this isolate's. See docs/monitoring.md for every family, its labels, source and lag.",
      tags: ["meta"],
      // Outside /api: the route checks its credentials itself (./access.ts).
      permission: "public",
      security: [{ metricsToken: [] }, { bearer: [] }, { apiKey: [] }],
      responses: {
        200: { description: "The metrics.", contentType: EXPOSITION_CONTENT_TYPE },
        401: { description: "No token, a wrong token, or (with METRICS_TOKEN set) any other credential." },
        403: { description: "Without METRICS_TOKEN: a valid credential that is not an unrestricted admin." },
        429: { description: "Too many refused tokens from this address; see Retry-After." },
        503: { description: "The totals (D1) could not be read." },
      },
    },
    async (c) => {
      await authorizeScrape(c);
      let stored: Family[];
      try {
        stored = await storeFamilies(c.env.DB);
      } catch (err) {
        warn({ event: "metrics.store_read_failed", request_id: c.var.requestId, error: err instanceof Error ? err.message : String(err) });
        throw new AppError("service_unavailable", "The metric totals (D1) could not be read; the next scrape tries again.");
      }
      return c.body(renderExposition([...isolateFamilies(), ...stored]), 200, {
        "Content-Type": EXPOSITION_CONTENT_TYPE,
        "Cache-Control": "no-store",
      });
    },
  );
}
