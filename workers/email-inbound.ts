/**
 * The Worker's `email()` handler: replies to approval mails. What a message means is decided by
 * the approvals capability (src/approvals/replies.ts); this handler carries the outcome out on
 * the platform's message (refuse it, or answer it).
 */
import { answerReply } from "../src/approvals/replies";

export async function handleInboundEmail(message: ForwardableEmailMessage, env: Env): Promise<void> {
  const outcome = await answerReply(env, { to: message.to, from: message.from, headers: message.headers, raw: message.raw });
  if (outcome.kind === "reject") return message.setReject(outcome.reason);
  if (outcome.kind === "reply") await message.reply({ from: outcome.from, subject: outcome.subject, text: outcome.text });
}
