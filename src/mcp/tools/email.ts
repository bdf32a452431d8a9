/** Outgoing mail as an MCP tool: the send route's service and schemas (src/email/). */
import { sendAsCaller } from "../../email/caller-send";
import { SendBody, SendResponse } from "../../email/schemas";
import { defineTool, SENDS, type McpTool } from "../tool";

export const EMAIL_TOOLS: readonly McpTool[] = [
  defineTool({
    name: "send_email",
    title: "Send an email",
    description:
      "Send an email to up to 50 addresses, either with `subject` and a `text` and/or `html` body, or with a `template_id` (a template name or id; `variables` fill its " +
      "{placeholders}; built-ins: approval_request, task_completion). The configured providers are tried in order until one accepts it; the answer is the logged " +
      "message with `status` sent and the `provider`. When every provider fails the error's code is `service_unavailable` (the message stays logged as failed). " +
      "`agent_id` says whose mail it is; a credential limited to several agents must give it.",
    mirrors: "POST /api/v2/email/send",
    permission: "email:send",
    input: SendBody,
    output: SendResponse,
    annotations: SENDS,
    run: async (ctx, input) => ({ success: true as const, ...(await sendAsCaller(ctx.env, ctx.principal, input, ctx.requestId)) }),
  }),
];
