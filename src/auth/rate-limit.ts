/**
 * Per-principal rate limiting through the Workers rate-limit binding. The limit and period live
 * in wrangler.toml (`[[ratelimits]]`); `RATE_LIMIT=off` (or 0) disables it, e.g. for benchmarks.
 * Anonymous requests, and requests whose credentials were refused, are keyed by client address.
 * Counters are per Cloudflare location and approximate, which is what the binding offers.
 * @see https://developers.cloudflare.com/workers/runtime-apis/bindings/rate-limit/
 */
import type { Context, MiddlewareHandler } from "hono";
import { getConfig } from "../config";
import { AppError } from "../lib/problem";
import type { AppEnv } from "../http/app-env";
import type { Principal } from "./principal";

/** The binding's window (`simple.period` in wrangler.toml): the longest a client must wait. */
export const RATE_LIMIT_PERIOD_SECONDS = 60;

/**
 * The bucket of a principal. Namespaced by how it authenticated, so a JWT whose `sub` happens to
 * be `admin` or a `key_…` id never shares (or drains) the bucket of the admin key or an API key.
 */
export function principalBucket(principal: Principal): string {
  return `${principal.via}:${principal.id}`;
}

/** The bucket of an unauthenticated caller: its address as Cloudflare reports it. */
export function clientBucket(c: Context<AppEnv>): string {
  return `ip:${c.req.header("cf-connecting-ip") ?? "local"}`;
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
