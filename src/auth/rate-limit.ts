/**
 * Per-principal rate limiting through the Workers rate-limit binding. The limit and period live
 * in wrangler.toml (`[[ratelimits]]`); `RATE_LIMIT=off` (or 0) disables it, e.g. for benchmarks.
 * Anonymous requests are keyed by client address. Counters are per Cloudflare location and
 * approximate, which is what the binding offers.
 * @see https://developers.cloudflare.com/workers/runtime-apis/bindings/rate-limit/
 */
import type { MiddlewareHandler } from "hono";
import { getConfig } from "../config";
import { AppError } from "../lib/problem";
import type { AppEnv } from "../http/app-env";

/** The binding's window (`simple.period` in wrangler.toml): the longest a client must wait. */
export const RATE_LIMIT_PERIOD_SECONDS = 60;

export function rateLimit(): MiddlewareHandler<AppEnv> {
  return async function rateLimitRequest(c, next) {
    if (getConfig(c.env).rateLimitEnabled) {
      const principal = c.var.principal;
      const key = principal ? `p:${principal.id}` : `ip:${c.req.header("cf-connecting-ip") ?? "local"}`;
      const { success } = await c.env.RATE_LIMITER.limit({ key });
      if (!success) {
        throw new AppError("rate_limited", `Too many requests for this credential; try again within ${RATE_LIMIT_PERIOD_SECONDS} seconds.`, {
          headers: { "Retry-After": String(RATE_LIMIT_PERIOD_SECONDS) },
        });
      }
    }
    await next();
  };
}
