/**
 * The first middleware: times every request and counts its outcome by route template, so a
 * family's size is bounded by the routes, never by the ids in paths. Writes one Analytics
 * Engine data point per request when the deployment binds a dataset. Recording never fails a
 * request.
 */
import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import type { AppEnv } from "../http/app-env";
import { warn } from "../lib/log";
import { errorsTotal, noteIsolateStart, requestsTotal, responseTime } from "./isolate-metrics";
import { requestDataPoint, requestDataset } from "./request-point";

/** The route label of a request no route matched (404 before any handler). */
export const UNMATCHED_ROUTE = "unmatched";

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/**
 * The template of the route that answered (or would have, when a middleware refused first):
 * `/api/v2/agents/:agent_id/state`, never the raw path. Middleware is registered for any method
 * (`ALL`); the first route of the request's own method is the handler Hono runs.
 */
export function routeTemplate(c: Context): string {
  const routes = matchedRoutes(c);
  const current = routes[c.req.routeIndex];
  if (current && current.method !== "ALL") return current.path;
  return routes.find((r) => r.method !== "ALL")?.path ?? UNMATCHED_ROUTE;
}

let warned = false;

export function recordRequests(): MiddlewareHandler<AppEnv> {
  return async function recordRequest(c, next) {
    const started = performance.now();
    await next();
    try {
      const seconds = (performance.now() - started) / 1000;
      const method = METHODS.has(c.req.method) ? c.req.method : "OTHER";
      const route = routeTemplate(c);
      const status = c.res.status;
      const code = c.get("problemCode");
      noteIsolateStart();
      requestsTotal.inc({ method, route, status: String(status) });
      responseTime.observe({ method, route }, seconds);
      if (code) errorsTotal.inc({ code });
      const colo = (c.req.raw as { cf?: { colo?: unknown } }).cf?.colo;
      requestDataset(c.env)?.writeDataPoint(
        requestDataPoint({ method, route, status, code, seconds, colo: typeof colo === "string" ? colo : undefined }),
      );
    } catch (err) {
      // Once per isolate: a broken dataset binding must not fill the log with one line per request.
      if (!warned)
        warn({ event: "metrics.record_failed", request_id: c.var.requestId, error: err instanceof Error ? err.message : String(err) });
      warned = true;
    }
  };
}
