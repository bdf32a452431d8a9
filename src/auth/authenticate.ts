/**
 * Authentication middleware for `/api/*`: resolves `Authorization: Bearer …` or `X-API-Key` to
 * a principal. Requests without credentials pass through unauthenticated (public routes allow
 * that; every other route answers 401). Presented but invalid credentials are always 401, with
 * one generic message; the reason is logged.
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 */
import type { MiddlewareHandler } from "hono";
import { getConfig } from "../config";
import { log } from "../lib/log";
import { AppError } from "../lib/problem";
import type { AppEnv } from "../http/app-env";
import { API_KEY_PREFIX, principalForApiKey, sha256Hex } from "./api-key-store";
import { JwtRefused, verifyJwt } from "./jwt";
import type { Principal } from "./principal";

const REALM = 'Bearer realm="datamcpserveragent"';

/** Verified JWTs by token string: verifying HMAC/ECDSA on every request is the auth hot path. */
const jwtCache = new Map<string, Principal & { exp: number }>();
const JWT_CACHE_MAX = 1000;

export function credentialsFrom(req: Request): string | undefined {
  const header = req.headers.get("authorization");
  if (header) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return match ? match[1] : header;
  }
  return req.headers.get("x-api-key")?.trim() || undefined;
}

async function sameSecret(a: string, b: string): Promise<boolean> {
  const [ha, hb] = await Promise.all([sha256Hex(a), sha256Hex(b)]);
  const enc = new TextEncoder();
  return crypto.subtle.timingSafeEqual(enc.encode(ha), enc.encode(hb));
}

export async function resolvePrincipal(token: string, env: Env, nowMs: number): Promise<Principal> {
  const config = getConfig(env);
  if (config.adminApiKey && (await sameSecret(token, config.adminApiKey))) {
    return { id: "admin", role: "super_admin", via: "admin_key" };
  }
  if (token.startsWith(API_KEY_PREFIX)) {
    const principal = await principalForApiKey(env.DB, token, nowMs);
    if (!principal) throw new JwtRefused("unknown, revoked or expired API key");
    return principal;
  }
  const cached = jwtCache.get(token);
  if (cached && cached.exp * 1000 > nowMs) return cached;
  const principal = await verifyJwt(token, config, nowMs);
  if (jwtCache.size >= JWT_CACHE_MAX) jwtCache.delete(jwtCache.keys().next().value as string);
  jwtCache.set(token, principal);
  return principal;
}

export function authenticate(): MiddlewareHandler<AppEnv> {
  return async function authenticateRequest(c, next) {
    const token = credentialsFrom(c.req.raw);
    if (token) {
      try {
        c.set("principal", await resolvePrincipal(token, c.env, Date.now()));
      } catch (err) {
        if (!(err instanceof JwtRefused)) throw err;
        log({ event: "auth.refused", request_id: c.var.requestId, reason: err.message });
        throw new AppError("unauthenticated", "The credentials are invalid, expired or revoked.", {
          headers: { "WWW-Authenticate": `${REALM}, error="invalid_token"` },
        });
      }
    }
    await next();
  };
}

export const WWW_AUTHENTICATE = REALM;
