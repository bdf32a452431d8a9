/**
 * `/mcp`: the Model Context Protocol over Streamable HTTP, stateless. Each POST carries JSON-RPC
 * messages and gets its answer as one JSON response; a fresh server and transport serve it and
 * are closed after it, so no session id is issued and any isolate can answer. There is no
 * server-initiated stream: GET (and DELETE, which ends sessions) answer 405, as the transport
 * allows for a server without one. The Origin check, authentication and rate limit run before
 * (src/app.ts); the body is read by the API's one JSON reader (depth, duplicate names, UTF-8).
 * @see https://modelcontextprotocol.io/specification/2025-11-25/basic/transports#streamable-http
 */
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import type { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../http/app-env";
import { defineRoute } from "../http/route";
import { AppError } from "../lib/problem";
import { createMcpServer } from "./server";

const JsonRpcMessage = z
  .looseObject({ jsonrpc: z.literal("2.0") })
  .describe(
    "A JSON-RPC 2.0 request, notification or response of the Model Context Protocol (initialize, tools/list, tools/call, resources/read, …).",
  );
const McpBody = z.union([JsonRpcMessage, z.array(JsonRpcMessage).min(1)]);

export function registerMcpRoutes(app: Hono<AppEnv>): void {
  defineRoute(
    app,
    {
      method: "post",
      path: "/mcp",
      operationId: "mcp",
      summary: "Model Context Protocol endpoint (Streamable HTTP, stateless)",
      description:
        "For MCP clients (Claude Desktop, Cursor, the MCP Inspector): the tools and resources listed in docs/mcp.md, each acting with the caller's credential " +
        "and its route's permission. Send `Accept: application/json, text/event-stream`; the answer is JSON (no stream, no `Mcp-Session-Id`). " +
        "A request with an `Origin` not in CORS_ALLOWED_ORIGINS is 403 before anything runs. GET and DELETE are 405. " +
        "Protocol-level refusals (wrong Accept or Content-Type, an unsupported MCP-Protocol-Version) are JSON-RPC errors with status 400, 406 or 415.",
      tags: ["mcp"],
      permission: "authenticated",
      body: McpBody,
      responses: {
        200: { description: "The JSON-RPC response (or responses) to the request(s).", contentType: "application/json" },
        202: { description: "Accepted: the body held only notifications or responses." },
        403: { description: "An `Origin` outside CORS_ALLOWED_ORIGINS." },
        422: { description: "The body is not a JSON-RPC 2.0 message." },
      },
    },
    async (c, { body }) => {
      const server = createMcpServer({ env: c.env, principal: c.var.principal, requestId: c.var.requestId });
      const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      await server.connect(transport);
      try {
        return await transport.handleRequest(c.req.raw, { parsedBody: body });
      } finally {
        // The JSON answer is complete by now: nothing of this server outlives the request.
        await server.close();
      }
    },
  );

  app.all("/mcp", function mcpMethodNotAllowed(c) {
    throw new AppError(
      "method_not_allowed",
      `${c.req.method} /mcp is not served: this MCP server is stateless and has no event stream; POST JSON-RPC messages.`,
      {
        headers: { Allow: "POST" },
      },
    );
  });
}
