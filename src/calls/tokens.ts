/**
 * Join tokens for the signalling socket: HS256 JWTs (jose) signed with `CALL_SIGNING_SECRET`
 * (a secret), falling back to `JWT_SECRET`. Claims: `cid` (the call id), `sub` (the participant
 * id), `aud` `call-join`, `iat`, `exp`. A token opens one call's socket for one participant.
 */
import { SignJWT, errors as joseErrors, jwtVerify } from "jose";
import { AppError } from "../lib/problem";

const enc = new TextEncoder();
export const JOIN_AUDIENCE = "call-join";
/** How long a join token may be used to open (or reopen) the socket. */
export const JOIN_TOKEN_TTL_SECONDS = 60 * 60;

export function callSigningSecret(env: Env): string {
  const own = (env as unknown as Record<string, unknown>).CALL_SIGNING_SECRET;
  if (typeof own === "string" && own.trim() !== "") return own;
  if (typeof env.JWT_SECRET === "string" && env.JWT_SECRET.trim() !== "") return env.JWT_SECRET;
  throw new AppError("service_unavailable", "Calls need CALL_SIGNING_SECRET (or JWT_SECRET) to sign join tokens; neither is set.");
}

export async function signJoinToken(secret: string, claims: { callId: string; participantId: string; expiresAtMs: number }): Promise<string> {
  return new SignJWT({ cid: claims.callId })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(claims.participantId)
    .setAudience(JOIN_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(Math.floor(claims.expiresAtMs / 1000))
    .sign(enc.encode(secret));
}

/** The participant id of a valid token for `callId`: 401 when forged or expired, 403 for another call. */
export async function verifyJoinToken(secret: string, token: string | undefined, callId: string): Promise<string> {
  if (!token) throw new AppError("unauthenticated", "A join token (?token=) is required.");
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, enc.encode(secret), { algorithms: ["HS256"], audience: JOIN_AUDIENCE, requiredClaims: ["exp", "sub"] }));
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) throw new AppError("unauthenticated", "The join token has expired; ask for a new one.");
    throw new AppError("unauthenticated", "The join token is not valid.");
  }
  if (payload.cid !== callId) throw new AppError("forbidden", "This join token belongs to another call.");
  return String(payload.sub);
}
