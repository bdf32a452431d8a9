/**
 * One declaration per route: the zod schemas here validate the request *and* describe it in
 * `/openapi.json`, so the document cannot drift from what the server accepts.
 */
import type { Context, Hono } from "hono";
import { z } from "zod";
import type { Permission } from "../auth/principal";
import { requireAgent, requirePermission, requirePrincipal } from "../auth/principal";
import type { AppEnv } from "./app-env";
import { parseOrThrow, readJsonBody } from "./validation";

type Method = "get" | "post" | "put" | "patch" | "delete";
type AnyObject = z.ZodObject<z.ZodRawShape>;

export interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
  /** Defaults to `application/json`; problems are always `application/problem+json`. */
  contentType?: string;
  headers?: Record<string, string>;
}

export interface RouteSpec<P extends AnyObject, Q extends AnyObject, B extends z.ZodType> {
  method: Method;
  /** Hono path syntax (`/api/v2/agents/:agent_id/state`). */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  /**
   * The permission the caller needs; `"authenticated"`: any valid credential (the operation checks
   * the rest itself, e.g. each MCP tool its own); `"public"` routes skip authentication.
   */
  permission: Permission | "authenticated" | "public";
  params?: P;
  query?: Q;
  /** Header parameters, documented only (handlers read them themselves). */
  headers?: Record<string, string>;
  body?: B;
  bodyRequired?: boolean;
  /** A body that is not JSON, read by the handler itself: its media type and description, for OpenAPI. */
  rawBody?: { contentType: string; description: string };
  /**
   * Adapts an older wire form before validation (the prototype sent inputs as query
   * parameters with a raw JSON object as body). Receives the parsed JSON and the raw query.
   */
  legacyBody?: (raw: unknown, query: Record<string, string>) => unknown;
  responses: Record<number, ResponseSpec>;
  /**
   * The credentials a route outside the API's authentication checks itself, as OpenAPI `security`
   * (e.g. `/metrics`: its own token, or an admin credential); replaces what `permission` implies.
   */
  security?: Record<string, string[]>[];
  /** Named schemas the route's description refers to, published under `#/components/schemas`. */
  components?: Record<string, { schema: z.ZodType; description: string }>;
}

export interface RouteInput<P extends AnyObject, Q extends AnyObject, B extends z.ZodType> {
  params: z.output<P>;
  query: z.output<Q>;
  body: z.output<B>;
}

export type RouteHandler<P extends AnyObject, Q extends AnyObject, B extends z.ZodType> = (
  c: Context<AppEnv>,
  input: RouteInput<P, Q, B>,
) => Response | Promise<Response>;

type AnyRouteSpec = RouteSpec<AnyObject, AnyObject, z.ZodType>;

/** Each app's declared routes, in declaration order: a second app never lists the first's twice. */
const registries = new WeakMap<Hono<AppEnv>, AnyRouteSpec[]>();

/** The routes declared on `app`, for its OpenAPI document. */
export function routesOf(app: Hono<AppEnv>): readonly AnyRouteSpec[] {
  return registries.get(app) ?? [];
}

const empty = z.object({});

export function defineRoute<P extends AnyObject = typeof empty, Q extends AnyObject = typeof empty, B extends z.ZodType = z.ZodUndefined>(
  app: Hono<AppEnv>,
  spec: RouteSpec<P, Q, B>,
  handler: RouteHandler<P, Q, B>,
): void {
  let routes = registries.get(app);
  if (!routes) registries.set(app, (routes = []));
  routes.push(spec as unknown as AnyRouteSpec);
  app.on(spec.method.toUpperCase(), spec.path, async function validatedRoute(c) {
    if (spec.permission === "authenticated") requirePrincipal(c.var.principal);
    else if (spec.permission !== "public") authorize(c, spec.permission);
    const params = parseOrThrow(spec.params ?? empty, c.req.param(), "path") as z.output<P>;
    const agentId = (params as Record<string, unknown>).agent_id;
    if (typeof agentId === "string") requireAgent(c.var.principal, agentId);
    const rawQuery = c.req.query();
    const query = parseOrThrow(spec.query ?? empty, rawQuery, "query") as z.output<Q>;
    let body = undefined as z.output<B>;
    if (spec.body) {
      let raw = await readJsonBody(c.req.raw, spec.bodyRequired ?? true);
      if (spec.legacyBody) raw = spec.legacyBody(raw, rawQuery);
      body = parseOrThrow(spec.body, raw, "body");
    }
    return handler(c, { params, query, body });
  });
}

function authorize(c: Context<AppEnv>, permission: Permission): void {
  requirePermission(c.var.principal, permission);
}
