/**
 * A send on behalf of a caller (`POST /api/v2/email/send` and the MCP `send_email` tool): the
 * message's owner follows the caller's agents (./mail-scope.ts `ownerFor`: 403 for an
 * agent outside them, 422 when a credential limited to several names none), then the outbox.
 */
import type { Principal } from "../auth/principal";
import { ownerFor } from "./mail-scope";
import { sendInputFromBody, sendMessage, type MessageRecord } from "./outbox";
import type { SendBody } from "./schemas";

export async function sendAsCaller(env: Env, principal: Principal, body: SendBody, requestId: string): Promise<MessageRecord> {
  const agentId = ownerFor(principal, body.agent_id);
  return sendMessage(env, sendInputFromBody(body, { agentId, requestId }));
}
