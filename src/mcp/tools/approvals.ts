/** Approvals as MCP tools: the approval routes' service and schemas (src/approvals/). */
import { renderApproval, renderCreatedApproval } from "../../approvals/model";
import { ApprovalParams, ApprovalView, CreateApprovalBody, CreateApprovalResponse } from "../../approvals/schemas";
import { getApproval, requestApproval } from "../../approvals/service";
import { defineTool, READ_ONLY, SENDS, type McpTool } from "../tool";

export const APPROVAL_TOOLS: readonly McpTool[] = [
  defineTool({
    name: "request_approval",
    title: "Ask a person for approval",
    description:
      "Ask a person to approve or reject something by email: they get a mail with two signed links (approve, reject) and can also reply APPROVE or REJECT. " +
      "Returns the `approval_id` at once; poll it with `get_approval` until `status` is approved, rejected or expired (after `expires_in_hours`, default 24; " +
      "`on_expire` decides what the deadline does). `data` (any JSON) is shown to the approver. If the mail could not be sent the approval still exists and " +
      "`email.status` is `failed`. To hold a task until approved, use `requires_approval` of `create_task` instead.",
    mirrors: "POST /api/v2/email/approval",
    permission: "email:send",
    input: CreateApprovalBody,
    output: CreateApprovalResponse,
    annotations: SENDS,
    async run(ctx, input) {
      const { approval, email } = await requestApproval(ctx.env, ctx.principal, input, ctx.requestId);
      return renderCreatedApproval(approval, email);
    },
  }),
  defineTool({
    name: "get_approval",
    title: "Get an approval",
    description:
      "Read an approval: `status` (pending, approved, rejected, expired), who decided (`decided_by`), when and how (`decided_via`: link, api, email, expiry), " +
      "the rejection reason, the deadline and whether the mail went out. An unknown id is an error with code `not_found`.",
    mirrors: "GET /api/v2/email/approval/{approval_id}",
    permission: "state:read",
    input: ApprovalParams.strict(),
    output: ApprovalView,
    annotations: READ_ONLY,
    run: async (ctx, input) => renderApproval(await getApproval(ctx.env, input.approval_id, ctx.principal)),
  }),
];
