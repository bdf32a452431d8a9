/**
 * Join tokens for a call: purpose tokens (src/auth/purpose-tokens.ts) of the purpose `call-join`,
 * HS256 with the key derived for that purpose from `CALL_SIGNING_SECRET` (a secret), falling back
 * to `JWT_SECRET`. Claims: `cid` (the call id), `sub` (the participant id), `aud` `call-join`,
 * `iat`, `exp`. A token opens one call (its socket, page reads and SFU proxy) for one participant,
 * and is never an API credential.
 */
import { PurposeTokenRefused, purposeSecret, signPurposeToken, verifyPurposeToken } from "../auth/purpose-tokens";
import { AppError } from "../lib/problem";

export const JOIN_AUDIENCE = "call-join";
/** How long a join token may be used to open (or reopen) the socket. */
export const JOIN_TOKEN_TTL_SECONDS = 60 * 60;

export function callSigningSecret(env: Env): string {
  const secret = purposeSecret(env, "call-join");
  if (!secret)
    throw new AppError("service_unavailable", "Calls need CALL_SIGNING_SECRET (or JWT_SECRET) to sign join tokens; neither is set.");
  return secret;
}

export function signJoinToken(secret: string, claims: { callId: string; participantId: string; expiresAtMs: number }): Promise<string> {
  return signPurposeToken(secret, "call-join", {
    sub: claims.participantId,
    expiresAtSeconds: Math.floor(claims.expiresAtMs / 1000),
    claims: { cid: claims.callId },
  });
}

/**
 * The Realtime SFU's audio endpoint (its WebSocket adapter dials it and cannot send headers):
 * a purpose token of `call-sfu-audio` in the URL, one per adapter (a random `jti`), naming the call
 * (`cid`) and the participant whose track it carries (`sub`). It opens nothing but that endpoint.
 */
export const SFU_AUDIO_TOKEN_TTL_SECONDS = 24 * 60 * 60;

export function signSfuAudioToken(secret: string, claims: { callId: string; participantId: string; nowMs: number }): Promise<string> {
  return signPurposeToken(secret, "call-sfu-audio", {
    sub: claims.participantId,
    expiresAtSeconds: Math.floor(claims.nowMs / 1000) + SFU_AUDIO_TOKEN_TTL_SECONDS,
    claims: { cid: claims.callId },
    jti: true,
  });
}

/** The participant of a valid SFU audio token for `callId`: 401 when forged, expired or of another purpose, 403 for another call. */
export async function verifySfuAudioToken(secret: string, token: string | undefined, callId: string): Promise<string> {
  if (!token) throw new AppError("unauthenticated", "The endpoint's token (?token=) is required.");
  let payload: Record<string, unknown>;
  try {
    payload = await verifyPurposeToken(secret, "call-sfu-audio", token);
  } catch {
    throw new AppError("unauthenticated", "The endpoint's token is not valid.");
  }
  if (payload.cid !== callId) throw new AppError("forbidden", "This endpoint token belongs to another call.");
  return String(payload.sub);
}

/** The participant id of a valid token for `callId`: 401 when forged or expired, 403 for another call. */
export async function verifyJoinToken(secret: string, token: string | undefined, callId: string): Promise<string> {
  if (!token) throw new AppError("unauthenticated", "A join token (?token=) is required.");
  let payload: Record<string, unknown>;
  try {
    payload = await verifyPurposeToken(secret, "call-join", token);
  } catch (err) {
    if (err instanceof PurposeTokenRefused && err.reason === "expired")
      throw new AppError("unauthenticated", "The join token has expired; ask for a new one.");
    throw new AppError("unauthenticated", "The join token is not valid.");
  }
  if (payload.cid !== callId) throw new AppError("forbidden", "This join token belongs to another call.");
  return String(payload.sub);
}
