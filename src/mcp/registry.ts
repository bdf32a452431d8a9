/**
 * Every MCP tool, by capability. The list `tools/list` answers, the tool table of docs/mcp.md
 * (`npm run docs:mcp`) and the tests all read it from here.
 */
import type { McpTool } from "./tool";
import { APPROVAL_TOOLS } from "./tools/approvals";
import { CALL_TOOLS } from "./tools/calls";
import { DEPLOY_TOOLS } from "./tools/deploy";
import { EMAIL_TOOLS } from "./tools/email";
import { SCALING_TOOLS } from "./tools/scaling";
import { STATE_TOOLS } from "./tools/state";
import { TASK_TOOLS } from "./tools/tasks";

export const MCP_TOOLS: readonly McpTool[] = [
  ...STATE_TOOLS,
  ...TASK_TOOLS,
  ...SCALING_TOOLS,
  ...APPROVAL_TOOLS,
  ...EMAIL_TOOLS,
  ...CALL_TOOLS,
  ...DEPLOY_TOOLS,
];
