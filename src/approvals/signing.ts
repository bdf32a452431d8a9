/**
 * Everything approvals sign, with one secret: `APPROVAL_SIGNING_SECRET` (a secret), falling back
 * to `JWT_SECRET`. Rotating it voids every outstanding link, every routed Reply-To address and
 * changes the callback signature.
 *
 * - Link tokens: HS256 JWTs (jose) with `aid` (approval id), `act` (approve | reject), `sub` (the
 *   address the link was mailed to), a random `jti` (single use: the AgentDO records it), `aud`
 *   `approval-link` and `exp` = the approval's deadline.
 * - Reply-To: `approvals+{approval_id}.{sig}@{domain of EMAIL_FROM}`, `sig` = the first 16 hex
 *   characters of HMAC-SHA256(secret, "reply-to:" + approval_id).
 * - Callbacks: `X-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`.
 */
import { SignJWT, errors as joseErrors, jwtVerify } from "jose";
import { AppError } from "../lib/problem";
import type { ApprovalAction } from "./model";

const enc = new TextEncoder();
const AUDIENCE = "approval-link";

export function signingSecret(env: Env): string | undefined {
  const own = (env as unknown as Record<string, unknown>).APPROVAL_SIGNING_SECRET;
  if (typeof own === "string" && own.trim() !== "") return own;
  return typeof env.JWT_SECRET === "string" && env.JWT_SECRET.trim() !== "" ? env.JWT_SECRET : undefined;
}

export function requireSecret(env: Env): string {
  const secret = signingSecret(env);
  if (!secret) throw new AppError("service_unavailable", "Approvals need APPROVAL_SIGNING_SECRET (or JWT_SECRET) to sign their links; neither is set.");
  return secret;
}

async function hmacHex(secret: string, text: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", enc.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", key, enc.encode(text));
  return [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export function callbackSignature(secret: string, body: string): Promise<string> {
  return hmacHex(secret, body).then((hex) => `sha256=${hex}`);
}

export async function replyToAddress(secret: string, approvalId: string, fromAddress: string): Promise<string> {
  const domain = fromAddress.slice(fromAddress.lastIndexOf("@") + 1);
  const sig = (await hmacHex(secret, `reply-to:${approvalId}`)).slice(0, 16);
  return `approvals+${approvalId}.${sig}@${domain}`;
}

export async function signLinkToken(secret: string, claims: { approvalId: string; action: ApprovalAction; to: string; expiresAtMs: number }): Promise<string> {
  return new SignJWT({ aid: claims.approvalId, act: claims.action })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(claims.to)
    .setAudience(AUDIENCE)
    .setJti(crypto.randomUUID())
    .setIssuedAt()
    .setExpirationTime(Math.ceil(claims.expiresAtMs / 1000))
    .sign(enc.encode(secret));
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
    ({ payload } = await jwtVerify(token, enc.encode(secret), { algorithms: ["HS256"], audience: AUDIENCE, requiredClaims: ["exp", "jti", "sub"] }));
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) throw new LinkRefused(410, "This link has expired.");
    throw new LinkRefused(403, "This link is not valid (its signature does not check out).");
  }
  if (payload.aid !== approvalId) throw new LinkRefused(403, "This link belongs to another approval request.");
  if (payload.act !== "approve" && payload.act !== "reject") throw new LinkRefused(403, "This link names no valid action.");
  return { approvalId, action: payload.act, to: String(payload.sub), jti: String(payload.jti) };
}
