/**
 * Authentication for `/api/*` (middleware) and for routes outside it that want to know the
 * caller (`principalOf`, e.g. /health): resolves `Authorization: Bearer …` or `X-API-Key` to a
 * principal. Requests without credentials pass through unauthenticated (public routes allow
 * that; every other route answers 401). Presented but invalid credentials are always 401, with
 * one generic message; the reason is logged. Refused attempts count against the caller's address
 * in the rate limiter, so guessing credentials is as limited as any other traffic. A JWKS that
 * cannot be fetched is 503: the fault is ours, not the token's.
 *
 * Purpose tokens (approval links, call join tokens: src/auth/purpose-tokens.ts) are never API
 * credentials: presented as either header they are refused like any invalid credential (401).
 * The one exception is declared where the app is put together: a route family that takes one
 * purpose's token as its own bearer (the SFU proxy takes the call's join token) gets the request
 * without a principal and verifies the token itself.
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 */
import type { Context, MiddlewareHandler } from "hono";
import { getConfig, optionalSetting, type Config } from "../lib/config";
import { log } from "../lib/log";
import { AppError } from "../lib/problem";
import { sameSecret } from "../lib/secret-compare";
import type { AppEnv } from "../http/app-env";
import { API_KEY_PREFIX, principalForApiKey, sha256Hex } from "./api-key-store";
import { JwksUnavailable, JwtRefused, verifyJwt } from "./jwt";
import { WWW_AUTHENTICATE, type Principal } from "./principal";
import { claimedPurpose, type TokenPurpose } from "./purpose-tokens";
import { clientBucket, overLimit, rateLimitedError } from "./rate-limit";

/**
 * Routes (by path) that take a bearer token of their own and verify it themselves: a purpose
 * token of `purpose`, or exactly the secret configured in the setting named `setting` (a token
 * that opens that route only, e.g. INBOUND_MAIL_TOKEN). Any other credential on those paths is
 * resolved as usual.
 */
export type OwnBearerRoutes = { path: RegExp; purpose: TokenPurpose } | { path: RegExp; setting: string };

/**
 * Verified JWTs: verifying HMAC/ECDSA on every request is the auth hot path. Keyed by the
 * verifier settings *and* the token, so a verdict reached under one secret, issuer or audience
 * is never reused under another (e.g. after a secret rotation or with a second env object).
 */
const jwtCache = new Map<string, Principal & { exp: number }>();
const JWT_CACHE_MAX = 1000;

const verifierFingerprints = new WeakMap<Config, string>();

function jwtCacheKey(config: Config, token: string): string {
  let fingerprint = verifierFingerprints.get(config);
  if (fingerprint === undefined) {
    fingerprint = JSON.stringify([
      config.jwtSecret ?? null,
      config.jwtJwksUrl ?? null,
      config.jwtIssuer ?? null,
      config.jwtAudience ?? null,
    ]);
    verifierFingerprints.set(config, fingerprint);
  }
  return fingerprint + token;
}

export function credentialsFrom(req: Request): string | undefined {
  const header = req.headers.get("authorization");
  if (header) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return match ? match[1] : header;
  }
  return req.headers.get("x-api-key")?.trim() || undefined;
}

/** The admin key's hash, once per configuration (the presented token is hashed once per request). */
const adminKeyHashes = new WeakMap<Config, Promise<string>>();

/** Constant-time comparison of two hex digests of equal length. */
function sameHash(a: string, b: string): boolean {
  const enc = new TextEncoder();
  return crypto.subtle.timingSafeEqual(enc.encode(a), enc.encode(b));
}

/**
 * Resolves a presented credential; throws `JwtRefused` when it is not valid. `defer` receives
 * bookkeeping that must not delay the request (an API key's `last_used_at`).
 */
export async function resolvePrincipal(
  token: string,
  env: Env,
  nowMs: number,
  defer?: (work: Promise<unknown>) => void,
): Promise<Principal> {
  const config = getConfig(env);
  // A verified JWT is answered from memory first: hashing for the admin-key check costs more.
  const cacheKey = jwtCacheKey(config, token);
  const cached = jwtCache.get(cacheKey);
  if (cached && cached.exp * 1000 > nowMs) return cached;
  // One digest of the token serves both the admin-key comparison and the API-key lookup.
  const tokenHash = config.adminApiKey || token.startsWith(API_KEY_PREFIX) ? await sha256Hex(token) : "";
  if (config.adminApiKey) {
    let adminHash = adminKeyHashes.get(config);
    if (!adminHash) adminKeyHashes.set(config, (adminHash = sha256Hex(config.adminApiKey)));
    if (sameHash(tokenHash, await adminHash)) return { id: "admin", role: "super_admin", via: "admin_key" };
  }
  if (token.startsWith(API_KEY_PREFIX)) {
    const principal = await principalForApiKey(env.DB, tokenHash, nowMs, defer);
    if (!principal) throw new JwtRefused("unknown, revoked or expired API key");
    return principal;
  }
  if (cached) jwtCache.delete(cacheKey);
  const principal = await verifyJwt(token, config, nowMs);
  if (jwtCache.size >= JWT_CACHE_MAX) jwtCache.delete(jwtCache.keys().next().value as string);
  jwtCache.set(cacheKey, principal);
  return principal;
}

/** Runs `work` after the response when the runtime offers `waitUntil`; otherwise lets it float. */
function deferWork(c: Context<AppEnv>, work: Promise<unknown>): void {
  try {
    c.executionCtx.waitUntil(work);
  } catch {
    // No ExecutionContext (e.g. `app.request` in a unit test): the promise still runs.
  }
}

/**
 * The principal of the request's credentials, or undefined when it presents none. A refused
 * credential is logged and counted against the client's address (429 once that is over the
 * limit); then `onRefused: "reject"` answers 401 (503 when the JWKS is down) and `"anonymous"`
 * treats the request as one without credentials.
 */
export async function principalOf(
  c: Context<AppEnv>,
  onRefused: "reject" | "anonymous",
  token = credentialsFrom(c.req.raw),
): Promise<Principal | undefined> {
  if (!token) return undefined;
  try {
    return await resolvePrincipal(token, c.env, Date.now(), (work) => deferWork(c, work));
  } catch (err) {
    if (err instanceof JwksUnavailable) {
      log({ event: "auth.refused", request_id: c.var.requestId, reason: err.message });
      if (onRefused === "anonymous") return undefined;
      throw new AppError("service_unavailable", "The JWT key set (JWT_JWKS_URL) cannot be fetched right now; try again later.");
    }
    if (!(err instanceof JwtRefused)) throw err;
    log({ event: "auth.refused", request_id: c.var.requestId, reason: err.message });
    if (await overLimit(c.env, clientBucket(c))) throw rateLimitedError();
    if (onRefused === "anonymous") return undefined;
    throw new AppError("unauthenticated", "The credentials are invalid, expired or revoked.", {
      headers: { "WWW-Authenticate": `${WWW_AUTHENTICATE}, error="invalid_token"` },
    });
  }
}

/** True when the route takes this token as its own credential (decoded or compared only on those routes' paths). */
async function takesOwnBearer(routes: readonly OwnBearerRoutes[], env: Env, path: string, token: string): Promise<boolean> {
  for (const route of routes) {
    if (!route.path.test(path)) continue;
    if ("purpose" in route) {
      if (claimedPurpose(token) === route.purpose) return true;
      continue;
    }
    const expected = optionalSetting(env, route.setting);
    if (expected && (await sameSecret(token, expected))) return true;
  }
  return false;
}

export function authenticate(ownBearer: readonly OwnBearerRoutes[] = []): MiddlewareHandler<AppEnv> {
  return async function authenticateRequest(c, next) {
    const token = credentialsFrom(c.req.raw);
    if (token && !(await takesOwnBearer(ownBearer, c.env, c.req.path, token))) {
      const principal = await principalOf(c, "reject", token);
      if (principal) c.set("principal", principal);
    }
    await next();
  };
}
