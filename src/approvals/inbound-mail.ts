/**
 * Inbound mail over HTTP, for deployments without Cloudflare Email Routing (the self-hosted
 * server, or any MTA or mail webhook in front of the Worker): a raw RFC 822 message is handed to
 * the same reader as the Worker's `email()` handler (./replies.ts), and its outcome is carried out
 * here instead of on the platform's message: a refusal becomes a 422 the MTA can bounce, an
 * answer is sent through the outgoing providers (EMAIL_PROVIDERS) to the envelope sender.
 *
 * Who may post: the bearer token INBOUND_MAIL_TOKEN (it opens this route only; app.ts lets it
 * past the API's authentication for this path), or an admin API credential not limited to some
 * agents. The body limit is the API's (MAX_BODY_BYTES), checked before anything else.
 */
import type { Context } from "hono";
import PostalMime from "postal-mime";
import type { OwnBearerRoutes } from "../auth/authenticate";
import { WWW_AUTHENTICATE, roleRank } from "../auth/principal";
import { providersFromEnv, sendWithFailover, EmailDeliveryError } from "../email/failover";
import { defaultSender } from "../email/settings";
import type { AppEnv } from "../http/app-env";
import { optionalSetting } from "../lib/config";
import { log } from "../lib/log";
import { AppError } from "../lib/problem";
import { bearerToken, sameSecret } from "../lib/secret-compare";
import { answerReply } from "./replies";

export const INBOUND_MAIL_PATH = "/api/v2/email/inbound";
export const INBOUND_MAIL_CONTENT_TYPE = "message/rfc822";

/** INBOUND_MAIL_TOKEN is this route's own bearer: the API's authentication leaves it to the route. */
export const INBOUND_MAIL_BEARER: OwnBearerRoutes = { path: /^\/api\/v2\/email\/inbound$/, setting: "INBOUND_MAIL_TOKEN" };

export type InboundMailResult =
  | { outcome: "ignored" }
  | { outcome: "answered"; reply: { to: string; subject: string; sent: boolean; provider?: string; error?: string } };

/** The token, or an unrestricted admin credential; else 401 (nothing presented or a wrong token) or 403. */
export async function authorizeInboundMail(c: Context<AppEnv>): Promise<void> {
  const expected = optionalSetting(c.env, "INBOUND_MAIL_TOKEN");
  const presented = bearerToken(c.req.raw);
  if (expected && presented !== undefined && (await sameSecret(presented, expected))) return;
  const principal = c.var.principal;
  if (!principal) {
    log({ event: "auth.refused", request_id: c.var.requestId, reason: "inbound mail: no credential" });
    throw new AppError("unauthenticated", "Posting mail needs `Authorization: Bearer <INBOUND_MAIL_TOKEN>` or an admin credential.", {
      headers: { "WWW-Authenticate": WWW_AUTHENTICATE },
    });
  }
  if (roleRank(principal.role) < roleRank("admin") || principal.agents !== undefined) {
    log({ event: "auth.refused", request_id: c.var.requestId, reason: `inbound mail: role ${principal.role}` });
    throw new AppError("forbidden", "Posting mail needs INBOUND_MAIL_TOKEN or an admin credential not limited to some agents.");
  }
}

/** Reads the message, decides what it means (./replies.ts) and carries the outcome out. */
export async function receiveInboundMail(
  env: Env,
  raw: ArrayBuffer,
  envelope: { from?: string; to?: string },
  requestId?: string,
): Promise<InboundMailResult> {
  const parsed = await PostalMime.parse(raw);
  const to = envelope.to ?? parsed.to?.find((a) => a.address)?.address;
  const from = envelope.from ?? parsed.from?.address;
  if (!to || !from) {
    throw new AppError("validation_failed", "The message names no recipient or no sender: give `to` and `from` as query parameters.");
  }
  const headers = new Headers();
  for (const { key, value } of parsed.headers) {
    try {
      headers.append(key, value);
    } catch {
      // A header the Headers class refuses (a malformed name) cannot be an auto-reply marker either.
    }
  }
  const outcome = await answerReply(env, { to, from, headers, raw });
  if (outcome.kind === "reject") {
    throw new AppError("validation_failed", `The message was refused: ${outcome.reason}.`, { extensions: { reason: outcome.reason } });
  }
  if (outcome.kind === "ignore") return { outcome: "ignored" };

  const threadHeaders: Record<string, string> = { "Auto-Submitted": "auto-replied" };
  if (parsed.messageId) {
    threadHeaders["In-Reply-To"] = parsed.messageId;
    threadHeaders.References = [parsed.references, parsed.messageId].filter(Boolean).join(" ");
  }
  const reply = { to: from, subject: outcome.subject };
  try {
    const { result } = await sendWithFailover(providersFromEnv(env), {
      from: { ...defaultSender(env), email: outcome.from },
      to: [from],
      subject: outcome.subject,
      text: outcome.text,
      headers: { ...threadHeaders, ...(requestId ? { "X-Request-Id": requestId } : {}) },
    });
    return { outcome: "answered", reply: { ...reply, sent: true, provider: result.provider } };
  } catch (err) {
    if (!(err instanceof EmailDeliveryError)) throw err;
    return { outcome: "answered", reply: { ...reply, sent: false, error: err.message } };
  }
}
