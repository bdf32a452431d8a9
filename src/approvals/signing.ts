/**
 * What approvals sign. The base secret is `APPROVAL_SIGNING_SECRET` (a secret), falling back to
 * `JWT_SECRET`; rotating it voids every outstanding link and routed Reply-To address and changes
 * the callback signature.
 *
 * - Link tokens: purpose tokens (src/auth/purpose-tokens.ts) of the purpose `approval-link`:
 *   HS256 with the key derived for that purpose, `aud` `approval-link`, `aid` (approval id),
 *   `act` (approve | reject), `sub` (the address the link was mailed to), a random `jti` (single
 *   use: the AgentDO records it) and `exp` = the approval's deadline. Never an API credential.
 * - Reply-To: `approvals+{approval_id}.{sig}@{domain of EMAIL_FROM}`, `sig` = the first 16 hex
 *   characters of HMAC-SHA256(key derived for `approval-reply-to`, "reply-to:" + approval_id).
 *   Only this server checks it (workers/email-inbound.ts).
 * - Callbacks: `X-Signature: sha256=<hex HMAC-SHA256(base secret, raw body)>`, with the plain base
 *   secret, not a derived key: the receiver verifies it with the secret it was given.
 */
import { PurposeTokenRefused, purposeMac, purposeSecret, signPurposeToken, verifyPurposeToken } from "../auth/purpose-tokens";
import { AppError } from "../lib/problem";
import type { ApprovalAction } from "./model";

const enc = new TextEncoder();

export function signingSecret(env: Env): string | undefined {
  return purposeSecret(env, "approval-link");
}

export function requireSecret(env: Env): string {
  const secret = signingSecret(env);
  if (!secret)
    throw new AppError(
      "service_unavailable",
      "Approvals need APPROVAL_SIGNING_SECRET (or JWT_SECRET) to sign their links; neither is set.",
    );
  return secret;
}

export async function callbackSignature(secret: string, body: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", enc.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", key, enc.encode(body));
  return `sha256=${[...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

export async function replyToAddress(secret: string, approvalId: string, fromAddress: string): Promise<string> {
  const domain = fromAddress.slice(fromAddress.lastIndexOf("@") + 1);
  const sig = (await purposeMac(secret, "approval-reply-to", `reply-to:${approvalId}`)).slice(0, 16);
  return `approvals+${approvalId}.${sig}@${domain}`;
}

export function signLinkToken(
  secret: string,
  claims: { approvalId: string; action: ApprovalAction; to: string; expiresAtMs: number },
): Promise<string> {
  return signPurposeToken(secret, "approval-link", {
    sub: claims.to,
    expiresAtSeconds: Math.ceil(claims.expiresAtMs / 1000),
    claims: { aid: claims.approvalId, act: claims.action },
    jti: true,
  });
}

export interface LinkClaims {
  approvalId: string;
  action: ApprovalAction;
  to: string;
  jti: string;
}

/** Why a link token is refused; each has its own page and status. */
export class LinkRefused extends Error {
  constructor(
    readonly status: 400 | 403 | 410,
    message: string,
  ) {
    super(message);
    this.name = "LinkRefused";
  }
}

export async function verifyLinkToken(secret: string, token: string, approvalId: string): Promise<LinkClaims> {
  let payload: Record<string, unknown>;
  try {
    payload = await verifyPurposeToken(secret, "approval-link", token, ["jti"]);
  } catch (err) {
    if (err instanceof PurposeTokenRefused && err.reason === "expired") throw new LinkRefused(410, "This link has expired.");
    throw new LinkRefused(403, "This link is not valid (its signature does not check out).");
  }
  if (payload.aid !== approvalId) throw new LinkRefused(403, "This link belongs to another approval request.");
  if (payload.act !== "approve" && payload.act !== "reject") throw new LinkRefused(403, "This link names no valid action.");
  return { approvalId, action: payload.act, to: String(payload.sub), jti: String(payload.jti) };
}
