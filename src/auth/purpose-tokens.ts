/**
 * Every token and address signature the server mints for one purpose, in one place. A purpose
 * (an approval link, a call join token, the Realtime SFU's audio endpoint, an approval's Reply-To
 * address) has:
 *
 * - its own base secret: the purpose's own secret variable when set, else `JWT_SECRET`;
 * - its own key, derived from that secret with HKDF-SHA256 (empty salt, `info` = the purpose's
 *   label), so a token made for one purpose never verifies as another purpose's, nor as an API
 *   JWT (those are checked with the raw `JWT_SECRET`), even when every secret is `JWT_SECRET`;
 * - for tokens, its own audience (`aud`), which src/auth/jwt.ts always refuses on API credentials.
 *
 * Rotating a base secret voids everything minted from it for every purpose that uses it.
 * Approval callbacks are not here on purpose: their receivers verify them, so they keep the
 * documented HMAC of the body with the plain secret (src/approvals/signing.ts).
 * @see https://www.rfc-editor.org/rfc/rfc5869
 */
import { SignJWT, decodeJwt, errors as joseErrors, jwtVerify, type JWTPayload } from "jose";

/** Token purposes: the name is also the token's audience. */
export const TOKEN_PURPOSES = ["approval-link", "call-join", "call-sfu-audio"] as const;
export type TokenPurpose = (typeof TOKEN_PURPOSES)[number];
/** Purposes that sign a short text instead of a token. */
export type MacPurpose = "approval-reply-to";
export type Purpose = TokenPurpose | MacPurpose;

/** The secret variable each purpose prefers over `JWT_SECRET`. */
const OWN_SECRET: Record<Purpose, "APPROVAL_SIGNING_SECRET" | "CALL_SIGNING_SECRET"> = {
  "approval-link": "APPROVAL_SIGNING_SECRET",
  "approval-reply-to": "APPROVAL_SIGNING_SECRET",
  "call-join": "CALL_SIGNING_SECRET",
  "call-sfu-audio": "CALL_SIGNING_SECRET",
};

/** HKDF `info`: versioned, so a future change of format can never reuse an old key. */
export function purposeLabel(purpose: Purpose): string {
  return `datamcpserveragent/${purpose}/v1`;
}

const enc = new TextEncoder();

function nonEmpty(value: unknown): string | undefined {
  return typeof value === "string" && value.trim() !== "" ? value : undefined;
}

/** The base secret of a purpose: its own variable, else JWT_SECRET, else undefined. */
export function purposeSecret(env: Env, purpose: Purpose): string | undefined {
  const vars = env as unknown as Record<string, unknown>;
  return nonEmpty(vars[OWN_SECRET[purpose]]) ?? nonEmpty(vars.JWT_SECRET);
}

/** True when `aud` (a string or a list) names one of the token purposes. */
export function namesPurposeAudience(aud: unknown): boolean {
  const list = Array.isArray(aud) ? aud : [aud];
  return list.some((a) => typeof a === "string" && (TOKEN_PURPOSES as readonly string[]).includes(a));
}

/** The purpose a JWT claims by its audience, read without verifying anything (undefined if none). */
export function claimedPurpose(token: string): TokenPurpose | undefined {
  if (token.split(".").length !== 3) return undefined;
  let aud: unknown;
  try {
    aud = decodeJwt(token).aud;
  } catch {
    return undefined;
  }
  const list = Array.isArray(aud) ? aud : [aud];
  return TOKEN_PURPOSES.find((p) => list.includes(p));
}

/**
 * Derived keys, per base secret and purpose: importing and deriving costs more than the HMAC it
 * serves, and the join and link paths are hot. Bounded, so many short-lived secrets (tests, a
 * rotation) cannot grow it without limit.
 */
const keys = new Map<string, Promise<CryptoKey>>();
const KEYS_MAX = 64;

export function purposeKey(secret: string, purpose: Purpose): Promise<CryptoKey> {
  const id = `${purpose}\u0000${secret}`;
  let key = keys.get(id);
  if (!key) {
    key = deriveKey(secret, purpose);
    key.catch(() => keys.delete(id));
    if (keys.size >= KEYS_MAX) keys.delete(keys.keys().next().value as string);
    keys.set(id, key);
  }
  return key;
}

async function deriveKey(secret: string, purpose: Purpose): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey("raw", enc.encode(secret), "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: enc.encode(purposeLabel(purpose)) },
    base,
    { name: "HMAC", hash: "SHA-256", length: 256 },
    false,
    ["sign", "verify"],
  );
}

/** Hex HMAC-SHA256 of `text` with the purpose's derived key. */
export async function purposeMac(secret: string, purpose: MacPurpose, text: string): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", await purposeKey(secret, purpose), enc.encode(text));
  return [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * An HS256 JWT for `purpose`: `aud` = the purpose, `sub`, `iat`, `exp` (seconds), a random `jti`
 * when asked, plus `claims`.
 */
export async function signPurposeToken(
  secret: string,
  purpose: TokenPurpose,
  t: { sub: string; expiresAtSeconds: number; claims?: Record<string, unknown>; jti?: boolean },
): Promise<string> {
  const jwt = new SignJWT(t.claims ?? {})
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(t.sub)
    .setAudience(purpose)
    .setIssuedAt()
    .setExpirationTime(t.expiresAtSeconds);
  if (t.jti) jwt.setJti(crypto.randomUUID());
  return jwt.sign(await purposeKey(secret, purpose));
}

/** Why a purpose token was refused: expired, or anything else (forged, malformed, another purpose). */
export class PurposeTokenRefused extends Error {
  constructor(
    readonly reason: "expired" | "invalid",
    message: string,
  ) {
    super(message);
    this.name = "PurposeTokenRefused";
  }
}

/** The payload of a valid token of `purpose` (signature, audience, `exp` and `required` claims checked). */
export async function verifyPurposeToken(
  secret: string,
  purpose: TokenPurpose,
  token: string,
  required: string[] = [],
): Promise<JWTPayload> {
  try {
    const { payload } = await jwtVerify(token, await purposeKey(secret, purpose), {
      algorithms: ["HS256"],
      audience: purpose,
      requiredClaims: ["exp", "sub", ...required],
    });
    return payload;
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) throw new PurposeTokenRefused("expired", `${purpose} token expired`);
    throw new PurposeTokenRefused("invalid", `${purpose} token refused: ${(err as Error).message}`);
  }
}
