/**
 * The HTTP application: middleware order matters and is the whole point of this file.
 * request metrics → request id → CORS → body limit → Origin check (/mcp) → authentication (/api, /mcp) → rate limit (/api, /mcp) → routes.
 */
import { Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { requestId } from "hono/request-id";
import { authenticate } from "./auth/authenticate";
import { rateLimit } from "./auth/rate-limit";
import { getConfig, type Config } from "./lib/config";
import type { AppEnv } from "./http/app-env";
import { originAllowed } from "./http/origin";
import { renderError, renderNotFound } from "./http/errors";
import { MAX_AUDIO_BYTES } from "./speech/types";
import { AppError } from "./lib/problem";
import { registerAgentRoutes } from "./state/routes";
import { registerApiKeyRoutes } from "./auth/api-key-routes";
import { registerApprovalRoutes } from "./approvals/routes";
import { registerCallPageRoutes } from "./calls/page/routes";
import { registerCallRoutes } from "./calls/routes";
import { SFU_PROXY_BEARER, registerCallSfuRoutes } from "./calls/sfu-routes";
import { registerCallSfuAudioRoutes } from "./calls/sfu-audio-routes";
import { INBOUND_MAIL_BEARER } from "./approvals/inbound-mail";
import { registerInboundMailRoutes } from "./approvals/inbound-routes";
import { registerEmailRoutes } from "./email/routes";
import { registerHealthRoutes } from "./meta/health";
import { registerMetaRoutes } from "./meta/routes";
import { recordRequests } from "./metrics/record-requests";
import { registerMetricsRoutes } from "./metrics/routes";
import { registerMcpRoutes } from "./mcp/routes";
import { requireAllowedOrigin } from "./mcp/origin-guard";
import { registerScalingRoutes } from "./scaling/routes";
import { registerCallMediaRoutes } from "./calls/media-routes";
import { registerRecordingRoutes } from "./calls/recordings/routes";
import { registerDeployRoutes } from "./deploy/routes";
import { registerSpeechRoutes } from "./speech/routes";
import { registerTaskEventRoutes } from "./tasks/event-routes";
import { registerTaskRoutes } from "./tasks/routes";
import { registerTaskTypeRoutes } from "./tasks/type-routes";

const REQUEST_ID = /^[\w.:-]{1,128}$/;

// Middleware built once per configuration, not once per request.
const corsByConfig = new WeakMap<Config, MiddlewareHandler>();
const bodyLimitByConfig = new WeakMap<Config, MiddlewareHandler>();

function corsFor(config: Config): MiddlewareHandler {
  let handler = corsByConfig.get(config);
  if (!handler) {
    const allowed = config.corsAllowedOrigins;
    handler = cors({
      origin: (origin) => (originAllowed(allowed, origin) ? origin : null),
      allowHeaders: [
        "Authorization",
        "Content-Type",
        "If-Match",
        "If-None-Match",
        "Idempotency-Key",
        "Mcp-Protocol-Version",
        "X-API-Key",
        "X-Request-Id",
      ],
      allowMethods: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
      exposeHeaders: ["ETag", "Location", "Retry-After", "X-Request-Id", "WWW-Authenticate"],
      maxAge: 600,
    });
    corsByConfig.set(config, handler);
  }
  return handler;
}

const TRANSCRIBE_PATH = /^\/api\/v2\/calls\/[^/]+\/transcribe$/;
const audioBodyLimit = bodyLimit({
  maxSize: MAX_AUDIO_BYTES,
  onError: () => {
    throw new AppError("payload_too_large", `Audio is limited to ${MAX_AUDIO_BYTES} bytes (25 MiB).`);
  },
});

function bodyLimitFor(config: Config): MiddlewareHandler {
  let handler = bodyLimitByConfig.get(config);
  if (!handler) {
    const maxSize = config.maxBodyBytes;
    handler = bodyLimit({
      maxSize,
      onError: () => {
        throw new AppError("payload_too_large", `The request body exceeds ${maxSize} bytes.`);
      },
    });
    bodyLimitByConfig.set(config, handler);
  }
  return handler;
}

export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  // First, so its time and count cover every answer, refusals by the middleware below included.
  app.use(recordRequests());
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
    // Only browsers send Origin; everything else skips CORS work entirely.
    if (!c.req.header("origin")) {
      await next();
      return;
    }
    return corsFor(getConfig(c.env))(c, next);
  });
  app.use(async function limitBodySize(c, next) {
    if (c.req.method === "GET" || c.req.method === "HEAD") {
      await next();
      return;
    }
    // Audio for speech-to-text has its own, larger limit (MAX_AUDIO_BYTES, checked while reading).
    if (TRANSCRIBE_PATH.test(c.req.path)) return audioBodyLimit(c, next);
    return bodyLimitFor(getConfig(c.env))(c, next);
  });
  // Purpose tokens are never API credentials; only the SFU proxy takes the join token as its bearer,
  // and the inbound mail route its own INBOUND_MAIL_TOKEN.
  app.use("/api/*", authenticate([SFU_PROXY_BEARER, INBOUND_MAIL_BEARER]));
  app.use("/api/*", rateLimit());
  // MCP: a page from another origin is refused before anything runs, then the API's credentials and limit.
  app.use("/mcp", requireAllowedOrigin);
  app.use("/mcp", authenticate());
  app.use("/mcp", rateLimit());

  registerHealthRoutes(app);
  registerMetaRoutes(app);
  registerMetricsRoutes(app);
  registerApiKeyRoutes(app);
  registerAgentRoutes(app);
  registerTaskRoutes(app);
  registerTaskEventRoutes(app);
  registerTaskTypeRoutes(app);
  registerScalingRoutes(app);
  registerApprovalRoutes(app);
  registerInboundMailRoutes(app);
  registerEmailRoutes(app);
  registerCallRoutes(app);
  registerCallSfuRoutes(app);
  registerCallSfuAudioRoutes(app);
  registerCallMediaRoutes(app);
  registerRecordingRoutes(app);
  registerSpeechRoutes(app);
  registerCallPageRoutes(app);
  registerDeployRoutes(app);
  registerMcpRoutes(app);

  app.onError(renderError);
  app.notFound(renderNotFound);
  return app;
}
