/**
 * DNS-rebinding protection for `/mcp`: a request that carries an `Origin` (a browser page) is
 * refused with 403 unless that origin is in `CORS_ALLOWED_ORIGINS`, before authentication or
 * anything else runs. Clients outside a browser send no `Origin` and pass.
 * @see https://modelcontextprotocol.io/specification/2025-11-25/basic/transports#security-warning
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../http/app-env";
import { originAllowed } from "../http/origin";
import { getConfig } from "../lib/config";
import { AppError } from "../lib/problem";

export const requireAllowedOrigin: MiddlewareHandler<AppEnv> = async function requireAllowedOrigin(c, next) {
  const origin = c.req.header("origin");
  if (origin !== undefined && !originAllowed(getConfig(c.env).corsAllowedOrigins, origin)) {
    throw new AppError(
      "forbidden",
      `Requests from the origin '${origin.slice(0, 200)}' are refused: /mcp answers only origins listed in CORS_ALLOWED_ORIGINS.`,
    );
  }
  await next();
};
