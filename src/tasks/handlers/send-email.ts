/**
 * send_email: sends one message through the outbox (src/email/outbox.ts), so it is logged like
 * `POST /api/v2/email/send`.
 *
 * Input (metadata): the send body, `{to, subject?, text?, html?, template_id?, variables?,
 * provider?, reply_to?, related?, agent_id?}` (`related` defaults to the task id). The message
 * belongs to the task's agent and a template name is looked up among that agent's templates,
 * then the global ones; an `agent_id` naming another agent is refused.
 *
 * Outcomes:
 * - invalid input, an unknown template, a missing variable, bodies too large: NonRetryableError
 *   (nothing is sent or logged);
 * - every provider refused the message or none is configured: NonRetryableError (logged as
 *   `failed`; the same message would be refused again);
 * - a provider failed transiently (timeout, 5xx, 429, rate limit): a plain Error, so the task is
 *   retried with backoff; each attempt is its own entry in the message log.
 *
 * Result: `{message_id, status, provider}`.
 */
import { env } from "cloudflare:workers";
import { MessageFailedError, sendInputFromBody, sendMessage } from "../../email/outbox";
import { adaptSendBody, SendBody } from "../../email/schemas";
import { AppError } from "../../lib/problem";
import { NonRetryableError, type TaskHandler } from "../handler";
import { parseMetadata } from "./common";

export const sendEmail: TaskHandler = async (ctx) => {
  const body = parseMetadata(SendBody, adaptSendBody(ctx.metadata), ctx.taskType);
  if (body.agent_id !== undefined && body.agent_id !== ctx.agentId) {
    throw new NonRetryableError(
      `Invalid send_email input: metadata.agent_id: a task sends as its own agent '${ctx.agentId}', not '${body.agent_id}'`,
    );
  }
  await ctx.checkpoint();
  try {
    const record = await sendMessage(env, sendInputFromBody(body, { agentId: ctx.agentId, related: ctx.taskId, requestId: ctx.requestId }));
    return { message_id: record.message_id, status: record.status, provider: record.provider };
  } catch (err) {
    if (err instanceof MessageFailedError) {
      if (err.transient) throw new Error(`${err.message} (message ${err.messageId})`, { cause: err });
      throw new NonRetryableError(`${err.message} (message ${err.messageId})`);
    }
    if (err instanceof AppError && err.status !== 500) {
      const fields = err.errors?.map((e) => `${e.path}: ${e.message}`).join("; ");
      throw new NonRetryableError(`Invalid send_email input: ${err.message}${fields ? ` (${fields})` : ""}`);
    }
    throw err;
  }
};
