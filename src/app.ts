/**
 * The HTTP application: middleware order matters and is the whole point of this file.
 * request id → CORS → body limit → authentication (/api) → rate limit (/api) → routes.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { requestId } from "hono/request-id";
import { authenticate } from "./auth/authenticate";
import { rateLimit } from "./auth/rate-limit";
import { getConfig } from "./config";
import type { AppEnv } from "./http/app-env";
import { renderError, renderNotFound } from "./http/errors";
import { AppError } from "./lib/problem";
import { registerAgentRoutes } from "./routes/agents";
import { registerApiKeyRoutes } from "./routes/api-keys";
import { registerHealthRoutes } from "./routes/health";
import { registerMetaRoutes } from "./routes/meta";

const REQUEST_ID = /^[\w.:-]{1,128}$/;

export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.use(
    requestId({
      // Echo a client's id only when it is safe to put in logs and headers.
      generator: (c) => {
        const given = c.req.header("x-request-id");
        return given && REQUEST_ID.test(given) ? given : crypto.randomUUID();
      },
    }),
  );
  app.use(async function corsFromAllowList(c, next) {
    const allowed = getConfig(c.env).corsAllowedOrigins;
    return cors({
      origin: (origin) => (allowed.includes("*") || allowed.includes(origin) ? origin : null),
      allowHeaders: ["Authorization", "Content-Type", "If-Match", "If-None-Match", "Idempotency-Key", "X-API-Key", "X-Request-Id"],
      allowMethods: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
      exposeHeaders: ["ETag", "Location", "Retry-After", "X-Request-Id", "WWW-Authenticate"],
      maxAge: 600,
    })(c, next);
  });
  app.use(async function limitBodySize(c, next) {
    const maxSize = getConfig(c.env).maxBodyBytes;
    return bodyLimit({
      maxSize,
      onError: () => {
        throw new AppError("payload_too_large", `The request body exceeds ${maxSize} bytes.`);
      },
    })(c, next);
  });
  app.use("/api/*", authenticate());
  app.use("/api/*", rateLimit());

  registerHealthRoutes(app);
  registerMetaRoutes(app);
  registerApiKeyRoutes(app);
  registerAgentRoutes(app);

  app.onError(renderError);
  app.notFound(renderNotFound);
  return app;
}
