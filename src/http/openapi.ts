/**
 * Builds the OpenAPI 3.1 document from the route registry. OpenAPI 3.1 schemas are JSON Schema
 * 2020-12, which is what zod 4 emits, so request schemas are published exactly as validated.
 * @see https://spec.openapis.org/oas/v3.1.0
 */
import { z } from "zod";
import { PROBLEMS } from "../lib/problem";
import { VERSION } from "../version";
import type { ResponseSpec, RouteSpec } from "./route";

type JsonSchema = Record<string, unknown>;
type AnyRoute = RouteSpec<z.ZodObject<z.ZodRawShape>, z.ZodObject<z.ZodRawShape>, z.ZodType>;

/** A zod schema as the JSON Schema published for it (also what GET /api/v2/task-types lists). */
export function jsonSchema(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as JsonSchema;
  return rest;
}

const ProblemSchema: JsonSchema = {
  type: "object",
  required: ["type", "title", "status", "detail", "instance"],
  properties: {
    type: { type: "string", description: "A URI reference naming the problem type: `/problems/{code}`." },
    title: { type: "string" },
    status: { type: "integer" },
    detail: { type: "string" },
    instance: { type: "string", description: "The request path that failed." },
    code: { type: "string", enum: Object.keys(PROBLEMS) },
    request_id: { type: "string" },
    errors: {
      type: "array",
      items: { type: "object", required: ["path", "message"], properties: { path: { type: "string" }, message: { type: "string" } } },
    },
  },
};

function parameters(spec: RouteSpec<z.ZodObject<z.ZodRawShape>, z.ZodObject<z.ZodRawShape>, z.ZodType>) {
  const out: JsonSchema[] = [];
  for (const [where, schema] of [
    ["path", spec.params],
    ["query", spec.query],
  ] as const) {
    if (!schema) continue;
    const js = jsonSchema(schema, "input") as { properties?: Record<string, JsonSchema>; required?: string[] };
    for (const [name, s] of Object.entries(js.properties ?? {})) {
      const { description, ...rest } = s;
      out.push({ name, in: where, required: where === "path" || (js.required ?? []).includes(name), description, schema: rest });
    }
  }
  for (const [name, description] of Object.entries(spec.headers ?? {})) {
    out.push({ name, in: "header", required: false, description, schema: { type: "string" } });
  }
  return out;
}

/** The named schemas routes declare (e.g. each built-in task type's `metadata`). */
function declaredComponents(routes: readonly AnyRoute[]): Record<string, JsonSchema> {
  return Object.fromEntries(
    routes.flatMap((spec) =>
      Object.entries(spec.components ?? {}).map(([name, c]) => [name, { ...jsonSchema(c.schema, "input"), description: c.description }]),
    ),
  );
}

const AUTH_RESPONSES: Record<number, ResponseSpec> = {
  401: { description: "Missing or invalid credentials." },
  403: { description: "The role lacks the permission, or the credential is limited to other agents." },
  429: { description: "Rate limited; see Retry-After." },
};

export function buildOpenApiDocument(routes: readonly AnyRoute[], serverUrl: string): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const spec of routes) {
    const path = spec.path.replace(/:(\w+)/g, "{$1}");
    const responses: Record<string, JsonSchema> = {};
    // Every authenticated route can answer these; a route may still describe them more precisely.
    const withAuth: Record<number, ResponseSpec> = spec.permission === "public" ? spec.responses : { ...AUTH_RESPONSES, ...spec.responses };
    for (const [status, r] of Object.entries(withAuth)) {
      const contentType = Number(status) >= 400 ? "application/problem+json" : (r.contentType ?? "application/json");
      const schema =
        Number(status) >= 400 ? { $ref: "#/components/schemas/Problem" } : r.schema ? jsonSchema(r.schema, "output") : undefined;
      responses[status] = {
        description: r.description,
        ...(schema || r.contentType ? { content: { [contentType]: schema ? { schema } : {} } } : {}),
        ...(r.headers
          ? { headers: Object.fromEntries(Object.entries(r.headers).map(([h, d]) => [h, { description: d, schema: { type: "string" } }])) }
          : {}),
      };
    }
    (paths[path] ??= {})[spec.method] = {
      operationId: spec.operationId,
      summary: spec.summary,
      ...(spec.description ? { description: spec.description } : {}),
      tags: spec.tags,
      ...(spec.security
        ? { security: spec.security }
        : spec.permission === "public"
          ? { security: [] }
          : spec.permission === "authenticated"
            ? {}
            : { "x-required-permission": spec.permission }),
      parameters: parameters(spec),
      ...(spec.body
        ? {
            requestBody: {
              required: spec.bodyRequired ?? true,
              content: { "application/json": { schema: jsonSchema(spec.body, "input") } },
            },
          }
        : spec.rawBody
          ? {
              requestBody: {
                required: true,
                description: spec.rawBody.description,
                content: { [spec.rawBody.contentType]: { schema: { type: "string", format: "binary" } } },
              },
            }
          : {}),
      responses,
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "DataMCPServerAgent API",
      version: VERSION,
      description: "Agent control plane on Cloudflare Workers. Errors are RFC 9457 problem documents; see /problems/{code}.",
    },
    servers: [{ url: serverUrl }],
    security: [{ bearer: [] }, { apiKey: [] }],
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "A JWT (HS256, or ES256/RS256 via JWKS) or an API key (`dmsa_…`)." },
        apiKey: { type: "apiKey", in: "header", name: "X-API-Key" },
        metricsToken: { type: "http", scheme: "bearer", description: "METRICS_TOKEN: accepted by GET /metrics, and only there." },
        inboundMailToken: {
          type: "http",
          scheme: "bearer",
          description: "INBOUND_MAIL_TOKEN: accepted by POST /api/v2/email/inbound, and only there.",
        },
      },
      schemas: { Problem: ProblemSchema, ...declaredComponents(routes) },
    },
    paths,
  };
}
