/** `POST /api/v2/email/inbound`: raw mail from an MTA or a mail webhook (./inbound-mail.ts). */
import type { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../http/app-env";
import { defineRoute } from "../http/route";
import { AppError } from "../lib/problem";
import { INBOUND_MAIL_CONTENT_TYPE, INBOUND_MAIL_PATH, authorizeInboundMail, receiveInboundMail } from "./inbound-mail";

const Address = z.string().trim().min(3).max(320);
const InboundMailQuery = z.object({
  from: Address.optional().describe("The envelope sender (MAIL FROM); default: the message's From address."),
  to: Address.optional().describe("The envelope recipient (RCPT TO); default: the message's first To address."),
});

const InboundMailResponse = z.object({
  outcome: z
    .enum(["answered", "ignored"])
    .describe("`answered`: read (and any decision recorded), and answered by mail; `ignored`: an auto-reply, dropped."),
  reply: z
    .object({
      to: z.string(),
      subject: z.string(),
      sent: z.boolean().describe("Whether an outgoing provider accepted the answer; a decision is recorded either way."),
      provider: z.string().optional(),
      error: z.string().optional(),
    })
    .optional(),
});

export function registerInboundMailRoutes(app: Hono<AppEnv>): void {
  defineRoute(
    app,
    {
      method: "post",
      path: INBOUND_MAIL_PATH,
      operationId: "receiveInboundMail",
      summary: "Receive a raw mail (approval replies) from an MTA or webhook",
      description:
        "The HTTP entry for inbound mail where Cloudflare Email Routing does not run (self-hosting): the same reader as the Worker's " +
        "email() handler decides what the message means (a reply to an approval: APPROVE or REJECT on its first line, from the approver, " +
        "threaded on the approval mail, sent to its signed reply address) and the answer goes out through EMAIL_PROVIDERS. " +
        "Credentials: `Authorization: Bearer <INBOUND_MAIL_TOKEN>` (valid for this route only) or an admin credential not limited to some agents. " +
        "Body: the message as received, at most MAX_BODY_BYTES.",
      tags: ["approvals"],
      // Checks its credentials itself (./inbound-mail.ts): its own token, or an admin credential.
      permission: "public",
      security: [{ inboundMailToken: [] }, { bearer: [] }, { apiKey: [] }],
      query: InboundMailQuery,
      rawBody: { contentType: INBOUND_MAIL_CONTENT_TYPE, description: "The raw RFC 822 message." },
      responses: {
        200: { description: "Read and carried out.", schema: InboundMailResponse },
        401: { description: "No credential, or a wrong token." },
        403: { description: "A valid credential that is not an unrestricted admin." },
        413: { description: "Larger than MAX_BODY_BYTES." },
        415: { description: "Not `Content-Type: message/rfc822`." },
        422: {
          description:
            "Refused (unknown recipient, not a reply to the approval mail, not from the approver); `reason` says which. Nothing changed.",
        },
      },
    },
    async (c, { query }) => {
      await authorizeInboundMail(c);
      const type = (c.req.header("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
      if (type !== INBOUND_MAIL_CONTENT_TYPE)
        throw new AppError("unsupported_media_type", `Send the raw message as ${INBOUND_MAIL_CONTENT_TYPE}.`);
      const raw = await c.req.raw.arrayBuffer();
      if (raw.byteLength === 0) throw new AppError("validation_failed", "The message is empty.");
      return c.json(await receiveInboundMail(c.env, raw, query, c.var.requestId));
    },
  );
}
