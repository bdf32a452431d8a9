/**
 * What an MCP tool is here: a second door to one HTTP route. It names the route it mirrors and
 * that route's permission, takes the capability's own zod schemas for its input and output, and
 * `run` calls the route's service function, so the rules (the role, the credential's agents, the
 * services' own checks) are the ones the API applies. src/mcp/server.ts checks the permission and
 * any `agent_id` argument first, exactly as the route declaration does for the HTTP request.
 */
import type { ToolAnnotations } from "@modelcontextprotocol/sdk/types.js";
import type { z } from "zod";
import type { Permission, Principal } from "../auth/principal";

/** Who calls and where: one per MCP request. */
export interface ToolContext {
  env: Env;
  principal: Principal;
  requestId: string;
}

export type ObjectSchema = z.ZodObject<z.ZodRawShape, z.core.$ZodObjectConfig>;

export interface McpTool<I extends ObjectSchema = ObjectSchema, O extends ObjectSchema = ObjectSchema> {
  /** snake_case, what an LLM calls. */
  name: string;
  title: string;
  /** What the tool does, when to use it and how it refuses: the text an LLM decides with. */
  description: string;
  /** `METHOD /path` (OpenAPI path syntax) of the route with the same service and permission. */
  mirrors: string;
  permission: Permission;
  input: I;
  output: O;
  annotations: ToolAnnotations;
  run(ctx: ToolContext, input: z.output<I>): Promise<z.input<O>>;
}

/** Infers a tool's types from its schemas (the registry holds them as `McpTool`). */
export function defineTool<I extends ObjectSchema, O extends ObjectSchema>(tool: McpTool<I, O>): McpTool {
  return tool as unknown as McpTool;
}

/** MCP hints (all advisory): reads, changes that repeat safely, and changes that reach outside. */
export const READ_ONLY: ToolAnnotations = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };
export const WRITES: ToolAnnotations = { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false };
export const SENDS: ToolAnnotations = { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true };
