/** The API describing itself: `/openapi.json`, `/docs`, `/problems/{code}` and `/`: a small index, or the dashboard for browsers. */
import type { Hono } from "hono";
import { z } from "zod";
import { getConfig } from "../lib/config";
import type { AppEnv } from "../http/app-env";
import { renderDocsPage } from "./docs-page";
import { DASHBOARD_HEADERS, DASHBOARD_HTML } from "../dashboard/page-html";
import { prefersHtml } from "../dashboard/negotiate";
import { buildOpenApiDocument } from "../http/openapi";
import { defineRoute, routesOf } from "../http/route";
import { AppError, PROBLEMS, type ProblemCode } from "../lib/problem";
import { VERSION } from "../version";

const TAGS = ["meta"];

/** What each problem code means for a client, served at `/problems/{code}`. */
const PROBLEM_HELP: Record<ProblemCode, string> = {
  malformed_request: "The body or a header could not be read (for example invalid JSON). Fix the request; retrying as is will fail again.",
  unauthenticated: "No credentials, or invalid, expired or revoked ones. Send `Authorization: Bearer <JWT or API key>` or `X-API-Key`.",
  forbidden: "The credential is valid but its role lacks the permission, or it is limited to other agents.",
  not_found: "The route, agent, version or other resource does not exist.",
  method_not_allowed: "The route exists but not with this method.",
  conflict: "The resource is in a state that forbids this transition.",
  precondition_failed:
    "`If-Match` (or `expected_version`) does not name the current version. Re-read, merge and retry. Nothing was changed.",
  payload_too_large: "The body exceeds the body limit, or `state_data` exceeds 1 MiB of JSON.",
  unsupported_media_type: "The body must be `application/json`.",
  validation_failed: "The JSON is well formed but breaks the schema; `errors` lists each field.",
  rate_limited: "Too many requests for this credential; wait `Retry-After` seconds.",
  internal_error: "A bug or an unexpected failure; the `request_id` finds it in the logs.",
  bad_gateway:
    "An upstream service (the Realtime SFU) refused or failed the proxied request; `detail` carries its message. Nothing was recorded.",
  service_unavailable: "A dependency is not configured or is down; `detail` says which.",
};

export function registerMetaRoutes(app: Hono<AppEnv>): void {
  let cached: { url: string; doc: Record<string, unknown>; html: string } | undefined;
  const document = (serverUrl: string) => {
    if (cached?.url !== serverUrl) {
      const doc = buildOpenApiDocument(routesOf(app), serverUrl);
      cached = { url: serverUrl, doc, html: renderDocsPage(doc) };
    }
    return cached;
  };

  defineRoute(
    app,
    {
      method: "get",
      path: "/",
      operationId: "index",
      summary: "Where to start",
      tags: TAGS,
      permission: "public",
      description:
        "With `Accept: text/html` (a browser) the dashboard page (docs/dashboard.md); otherwise (`application/json`, `*/*`, none) this JSON index.",
      responses: {
        200: {
          description: "Links (JSON), or the dashboard (HTML) when the client asks for text/html.",
          schema: z.object({ name: z.string(), version: z.string(), links: z.record(z.string(), z.string()) }),
        },
      },
    },
    (c) => {
      if (prefersHtml(c.req.header("accept"))) return c.body(DASHBOARD_HTML, 200, DASHBOARD_HEADERS);
      c.header("Vary", "Accept");
      return c.json({
        name: "DataMCPServerAgent",
        version: VERSION,
        links: { dashboard: "/", docs: "/docs", openapi: "/openapi.json", health: "/health" },
      });
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/openapi.json",
      operationId: "openapi",
      summary: "The OpenAPI 3.1 document",
      tags: TAGS,
      permission: "public",
      responses: { 200: { description: "OpenAPI 3.1." } },
    },
    (c) => c.json(document(getConfig(c.env).publicBaseUrl).doc),
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/docs",
      operationId: "docs",
      summary: "Human-readable API reference",
      tags: TAGS,
      permission: "public",
      responses: { 200: { description: "HTML.", contentType: "text/html" } },
    },
    (c) => c.html(document(getConfig(c.env).publicBaseUrl).html),
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/problems/:code",
      operationId: "problemType",
      summary: "What a problem type means",
      tags: TAGS,
      permission: "public",
      params: z.object({ code: z.string().max(64) }),
      responses: {
        200: {
          description: "The problem type.",
          schema: z.object({ code: z.string(), status: z.number(), title: z.string(), description: z.string() }),
        },
        404: { description: "Unknown problem type." },
      },
    },
    (c, { params }) => {
      if (!(params.code in PROBLEMS)) throw new AppError("not_found", `No problem type '${params.code}'.`);
      const code = params.code as ProblemCode;
      return c.json({ code, ...PROBLEMS[code], description: PROBLEM_HELP[code] });
    },
  );
}
