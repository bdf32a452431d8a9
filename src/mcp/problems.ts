/**
 * How a refusal reaches an MCP client: as the problem document the HTTP route would have
 * answered (`code`, `detail`, `status`, and members such as `current_version` or `errors`).
 * A tool answers it as a tool error (`isError: true`, the document as JSON text), so the model
 * can read it and correct itself; a resource read answers a JSON-RPC error whose `data` is the
 * document. Failures of the server are logged under the request id, as the HTTP renderer does.
 */
import { ErrorCode, McpError, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { toAppError } from "../http/errors";
import { logError } from "../lib/log";
import { problemDocument, type ProblemDocument } from "../lib/problem";
import type { ToolContext } from "./tool";

const MCP_PATH = "/mcp";

/** JSON-RPC's code for an unknown resource (MCP), for invalid params, and the generic server error. */
const RESOURCE_NOT_FOUND = -32002;
const SERVER_ERROR = -32000;

function problemOf(err: unknown, ctx: Pick<ToolContext, "requestId">, operation: string): ProblemDocument {
  const appError = toAppError(err instanceof Error ? err : new Error(String(err)));
  if (appError.status >= 500) {
    logError({
      event: "http.error",
      request_id: ctx.requestId,
      status: appError.status,
      code: appError.code,
      method: "POST",
      path: `${MCP_PATH} ${operation}`,
      error: appError === err ? appError.message : String((err as Error).stack ?? err),
    });
  }
  return problemDocument(appError, MCP_PATH, ctx.requestId);
}

export function toolError(err: unknown, ctx: Pick<ToolContext, "requestId">, toolName: string): CallToolResult {
  const problem = problemOf(err, ctx, `tools/call ${toolName}`);
  return { isError: true, content: [{ type: "text", text: JSON.stringify(problem) }] };
}

export function resourceError(err: unknown, ctx: Pick<ToolContext, "requestId">, uri: string): McpError {
  const problem = problemOf(err, ctx, "resources/read");
  const code =
    problem.code === "not_found" ? RESOURCE_NOT_FOUND : problem.code === "validation_failed" ? ErrorCode.InvalidParams : SERVER_ERROR;
  return new McpError(code, `${uri}: ${problem.detail}`, problem);
}
