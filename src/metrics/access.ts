/**
 * Who may read `/metrics`. With `METRICS_TOKEN` set, exactly that bearer token and nothing else:
 * it opens this route only, and no API credential stands in for it (one credential, one scope).
 * Without it, an admin API credential (role admin or super_admin, not limited to some agents),
 * so a deployment never shows its counts to anyone by accident. Refusals are 401 (403 for a
 * valid credential that is not an admin's), logged, and counted against the caller's address
 * like any refused credential.
 */
import type { Context } from "hono";
import { principalOf } from "../auth/authenticate";
import { WWW_AUTHENTICATE, roleRank } from "../auth/principal";
import { clientBucket, overLimit, rateLimitedError } from "../auth/rate-limit";
import { optionalSetting } from "../lib/config";
import { bearerToken, sameSecret } from "../lib/secret-compare";
import { log } from "../lib/log";
import { AppError } from "../lib/problem";
import type { AppEnv } from "../http/app-env";

export async function authorizeScrape(c: Context<AppEnv>): Promise<void> {
  const expected = optionalSetting(c.env, "METRICS_TOKEN");
  if (expected) {
    const presented = bearerToken(c.req.raw);
    if (presented !== undefined && (await sameSecret(presented, expected))) return;
    log({
      event: "auth.refused",
      request_id: c.var.requestId,
      reason: presented === undefined ? "metrics: no bearer token" : "metrics: not METRICS_TOKEN",
    });
    if (presented !== undefined && (await overLimit(c.env, clientBucket(c)))) throw rateLimitedError();
    throw new AppError(
      "unauthenticated",
      "/metrics needs `Authorization: Bearer <METRICS_TOKEN>`; API credentials are not accepted here.",
      {
        headers: { "WWW-Authenticate": presented === undefined ? WWW_AUTHENTICATE : `${WWW_AUTHENTICATE}, error="invalid_token"` },
      },
    );
  }
  const principal = await principalOf(c, "reject");
  if (!principal) {
    throw new AppError("unauthenticated", "/metrics needs an admin credential (METRICS_TOKEN is not set).", {
      headers: { "WWW-Authenticate": WWW_AUTHENTICATE },
    });
  }
  if (roleRank(principal.role) < roleRank("admin") || principal.agents !== undefined) {
    log({ event: "auth.refused", request_id: c.var.requestId, reason: `metrics: role ${principal.role} without METRICS_TOKEN` });
    throw new AppError("forbidden", "/metrics needs an admin credential not limited to some agents, or METRICS_TOKEN.");
  }
}
