/**
 * Purpose tokens made by hand, signed exactly as the server signs them (the key derived for the
 * purpose from the secret, src/auth/purpose-tokens.ts), so tests can forge, expire or bend one
 * claim at a time. For API JWTs use `mintToken` (helpers/api) or `signJwt` (helpers/auth).
 */
import { SignJWT, type JWTPayload } from "jose";
import { purposeKey, type TokenPurpose } from "../../src/auth/purpose-tokens";
import { JWT_SECRET } from "./api";

/** Signs exactly `payload` (no defaults: leave out `exp` or `aud` to test their absence) with the purpose's key. */
export async function signPurposeJwt(
  purpose: TokenPurpose,
  payload: JWTPayload & Record<string, unknown>,
  secret = JWT_SECRET,
): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: "HS256" }).sign(await purposeKey(secret, purpose));
}

/** `exp` in seconds: a number, or a span from now such as "5m". */
function expiry(exp: number | string): number {
  if (typeof exp === "number") return exp;
  const m = /^(\d+)([smh])$/.exec(exp);
  if (!m) throw new Error(`unsupported span ${exp}`);
  return Math.floor(Date.now() / 1000) + Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] as "s" | "m" | "h"];
}

/** An approval link token (`aud` approval-link), as mailed, for `to`. */
export function linkToken(t: {
  approvalId: string;
  action: "approve" | "reject";
  to?: string;
  exp?: number | string;
  secret?: string;
}): Promise<string> {
  return signPurposeJwt(
    "approval-link",
    {
      aid: t.approvalId,
      act: t.action,
      sub: t.to ?? "Boss@Example.com",
      aud: "approval-link",
      jti: crypto.randomUUID(),
      exp: expiry(t.exp ?? "10m"),
    },
    t.secret,
  );
}

/** A call join token (`aud` call-join) for one participant of one call. */
export function joinToken(t: { callId: string; participantId: string; exp?: number | string; secret?: string }): Promise<string> {
  return signPurposeJwt("call-join", { cid: t.callId, sub: t.participantId, aud: "call-join", exp: expiry(t.exp ?? "10m") }, t.secret);
}
