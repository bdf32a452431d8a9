/** API key management: create (the key is shown once), list, revoke. */
import type { Hono } from "hono";
import { z } from "zod";
import { ApiKeyRecord } from "./api-key-store";
import * as apiKeys from "./api-key-service";
import { Role } from "./principal";
import type { AppEnv } from "../http/app-env";
import { defineRoute } from "../http/route";
import { AgentId } from "../state/schemas";

const TAGS = ["auth"];

const CreateApiKeyBody = z
  .object({
    name: z.string().trim().min(1).max(100).describe("What the key is for."),
    role: Role.default("user").describe("At most the creator's own role."),
    agents: z.array(AgentId).min(1).max(1000).optional().describe("Limit the key to these agent ids."),
    expires_in_days: z.number().int().min(1).max(3650).optional().describe("Without it, the key lasts until revoked."),
  })
  .strict();

const KeyParams = z.object({ key_id: z.string().regex(/^key_[0-9a-f]{24}$/, "an id of the form key_…") });

const errors = {
  403: { description: "Needs the admin role (permission api_keys:manage)." },
};

export function registerApiKeyRoutes(app: Hono<AppEnv>): void {
  defineRoute(
    app,
    {
      method: "post",
      path: "/api/v2/auth/api-keys",
      operationId: "createApiKey",
      summary: "Create an API key (returned once)",
      tags: TAGS,
      permission: "api_keys:manage",
      body: CreateApiKeyBody,
      responses: {
        201: { description: "Created. `key` is not stored and cannot be shown again.", schema: ApiKeyRecord.extend({ key: z.string() }) },
        ...errors,
        422: { description: "Invalid body, or a role above the creator's." },
      },
    },
    async (c, { body }) => {
      const created = await apiKeys.createApiKey(c.env, c.var.principal, {
        name: body.name,
        role: body.role,
        agents: body.agents,
        expiresInDays: body.expires_in_days,
        requestId: c.var.requestId,
      });
      return c.json({ ...created.record, key: created.key }, 201);
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/v2/auth/api-keys",
      operationId: "listApiKeys",
      summary: "List API keys (never the keys themselves)",
      description: "A credential limited to some agents sees only keys limited to (a subset of) those agents.",
      tags: TAGS,
      permission: "api_keys:manage",
      query: z.object({
        limit: z.coerce.number().int().min(1).max(100).default(50),
        cursor: z.string().max(64).optional().describe("`next_cursor` from the previous page."),
      }),
      responses: {
        200: { description: "A page of keys.", schema: z.object({ api_keys: z.array(ApiKeyRecord), next_cursor: z.string().nullable() }) },
        ...errors,
      },
    },
    async (c, { query }) => c.json(await apiKeys.listApiKeys(c.env, c.var.principal, query.limit, query.cursor)),
  );

  defineRoute(
    app,
    {
      method: "delete",
      path: "/api/v2/auth/api-keys/:key_id",
      operationId: "revokeApiKey",
      summary: "Revoke an API key",
      description:
        "The key stops working at once. Revoking a revoked key is 409. Nobody revokes a key with a higher role than their own (403); " +
        "a credential limited to some agents can only revoke keys limited to those agents (others are 404, as in the list).",
      tags: TAGS,
      permission: "api_keys:manage",
      params: KeyParams,
      responses: {
        200: { description: "Revoked.", schema: z.object({ success: z.literal(true), key_id: z.string(), revoked_at: z.string() }) },
        ...errors,
        403: { description: "Needs the admin role (permission api_keys:manage), and at least the key's role." },
        404: { description: "Unknown key, or one outside the caller's agents." },
        409: { description: "Already revoked." },
      },
    },
    async (c, { params }) => {
      const revokedAt = await apiKeys.revokeApiKey(c.env, c.var.principal, params.key_id, c.var.requestId);
      return c.json({ success: true, key_id: params.key_id, revoked_at: revokedAt });
    },
  );
}
