/**
 * The MCP server for one request: the official SDK's `McpServer` with every tool and resource of
 * the registry, bound to the caller. Built per request (the transport is stateless), so any
 * isolate can answer any request and nothing about a client is kept between them.
 *
 * Before a tool or resource runs, the caller is checked as the route declaration checks an HTTP
 * request (src/http/route.ts): the mirrored route's permission (403), then the `agent_id` it
 * names against the credential's agents (403). The service then applies its own rules.
 */
import { McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult, ReadResourceResult } from "@modelcontextprotocol/sdk/types.js";
import { CfWorkerJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/cfworker";
import { requireAgent, requirePermission, type Permission } from "../auth/principal";
import { parseOrThrow } from "../http/validation";
import { VERSION } from "../version";
import { resourceError, toolError } from "./problems";
import { MCP_TOOLS } from "./registry";
import { MCP_RESOURCES, type McpResource } from "./resources";
import type { McpTool, ToolContext } from "./tool";

const INSTRUCTIONS =
  "DataMCPServerAgent keeps versioned state for AI agents, runs long tasks, scales agents, sends email, asks people for approval and holds calls. " +
  "Every tool acts with the caller's credential: its role decides which tools work and it may be limited to some agent ids. " +
  "A refused call is a tool error whose text is a JSON problem document; branch on its `code` (forbidden, not_found, conflict, precondition_failed, " +
  "validation_failed, service_unavailable…) and read `detail`.";

/** The checks of the route declaration: the permission, then the agent the operation names. */
function authorize(ctx: ToolContext, permission: Permission, input: unknown): void {
  requirePermission(ctx.principal, permission);
  const agentId = (input as { agent_id?: unknown }).agent_id;
  if (typeof agentId === "string") requireAgent(ctx.principal, agentId);
}

async function callTool(tool: McpTool, ctx: ToolContext, input: unknown): Promise<CallToolResult> {
  try {
    authorize(ctx, tool.permission, input);
    // Through the output schema: exactly the advertised shape leaves (unknown members are dropped).
    const result = tool.output.parse(await tool.run(ctx, input as Record<string, unknown>));
    return { content: [{ type: "text", text: JSON.stringify(result) }], structuredContent: result };
  } catch (err) {
    return toolError(err, ctx, tool.name);
  }
}

async function readResource(resource: McpResource, ctx: ToolContext, uri: URL, variables: Record<string, string | string[]>) {
  try {
    const raw = Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, decodeURIComponent(Array.isArray(v) ? v.join(",") : v)]));
    const params = parseOrThrow(resource.params, raw, "uri");
    authorize(ctx, resource.permission, params);
    const text = await resource.read(ctx, params);
    return { contents: [{ uri: uri.href, mimeType: "application/json", text }] } satisfies ReadResourceResult;
  } catch (err) {
    throw resourceError(err, ctx, uri.href);
  }
}

export function createMcpServer(ctx: ToolContext): McpServer {
  const server = new McpServer(
    { name: "datamcpserveragent", title: "DataMCPServerAgent", version: VERSION },
    // The SDK's default validator (ajv) compiles code at run time, which Workers forbid.
    { instructions: INSTRUCTIONS, jsonSchemaValidator: new CfWorkerJsonSchemaValidator() },
  );
  for (const tool of MCP_TOOLS) {
    server.registerTool(
      tool.name,
      {
        title: tool.title,
        description: tool.description,
        inputSchema: tool.input,
        outputSchema: tool.output,
        annotations: tool.annotations,
      },
      (input: unknown) => callTool(tool, ctx, input),
    );
  }
  for (const resource of MCP_RESOURCES) {
    server.registerResource(
      resource.name,
      new ResourceTemplate(resource.uriTemplate, { list: undefined }),
      { title: resource.title, description: resource.description, mimeType: "application/json" },
      (uri, variables) => readResource(resource, ctx, uri, variables),
    );
  }
  return server;
}
