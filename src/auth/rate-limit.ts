/**
 * Per-principal rate limiting through the Workers rate-limit binding. The limit and period live
 * in wrangler.toml (`[[ratelimits]]`); `RATE_LIMIT=off` (or 0) disables it, e.g. for benchmarks.
 * Anonymous requests, and requests whose credentials were refused, are keyed by client address,
 * read only from the header named by `CLIENT_IP_HEADER` (see `clientBucket`).
 * Counters are per Cloudflare location and approximate, which is what the binding offers.
 * @see https://developers.cloudflare.com/workers/runtime-apis/bindings/rate-limit/
 */
import type { Context, MiddlewareHandler } from "hono";
import { getConfig } from "../lib/config";
import { AppError } from "../lib/problem";
import type { AppEnv } from "../http/app-env";
import { principalLabel, type Principal } from "./principal";

/** The binding's window (`simple.period` in wrangler.toml): the longest a client must wait. */
export const RATE_LIMIT_PERIOD_SECONDS = 60;

/**
 * The bucket of a principal: its label, namespaced by how it authenticated, so a JWT whose `sub`
 * happens to be `admin` or a `key_…` id never shares (or drains) the bucket of the admin key or
 * an API key.
 */
export function principalBucket(principal: Principal): string {
  return principalLabel(principal);
}

/** The one bucket every anonymous caller shares when no address can be trusted. */
export const SHARED_CLIENT_BUCKET = "ip:untrusted";
const MAX_ADDRESS_CHARS = 64;

/**
 * The client's address from the header named by `CLIENT_IP_HEADER`, or undefined. A header is
 * only as good as whoever sets it: on Cloudflare the edge always sets `CF-Connecting-IP` and a
 * client cannot forge it (wrangler.toml's default); under `wrangler dev` or a self-hosted workerd
 * any client can send it, so there the variable is empty (no header trusted) or names the header
 * a proxy in front overwrites. For a list header (X-Forwarded-For) the last entry counts: the one
 * the nearest proxy added, not the ones the client sent.
 */
export function clientAddress(headerName: string | undefined, headers: Headers): string | undefined {
  if (!headerName) return undefined;
  const value = headers.get(headerName);
  if (!value) return undefined;
  const last = value.split(",").pop()!.trim();
  return last === "" ? undefined : last.slice(0, MAX_ADDRESS_CHARS);
}

/** The bucket of an unauthenticated caller: its trusted address, else the shared bucket. */
export function clientBucket(c: Context<AppEnv>): string {
  const address = clientAddress(getConfig(c.env).clientIpHeader, c.req.raw.headers);
  return address === undefined ? SHARED_CLIENT_BUCKET : `ip:${address}`;
}

/** Counts one request against `bucket`; true when the bucket is over its limit. */
export async function overLimit(env: Env, bucket: string): Promise<boolean> {
  if (!getConfig(env).rateLimitEnabled) return false;
  const { success } = await env.RATE_LIMITER.limit({ key: bucket });
  return !success;
}

export function rateLimitedError(): AppError {
  return new AppError("rate_limited", `Too many requests for this credential; try again within ${RATE_LIMIT_PERIOD_SECONDS} seconds.`, {
    headers: { "Retry-After": String(RATE_LIMIT_PERIOD_SECONDS) },
  });
}

export function rateLimit(): MiddlewareHandler<AppEnv> {
  return async function rateLimitRequest(c, next) {
    const principal = c.var.principal;
    if (await overLimit(c.env, principal ? principalBucket(principal) : clientBucket(c))) throw rateLimitedError();
    await next();
  };
}
