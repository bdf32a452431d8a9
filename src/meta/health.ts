/**
 * `GET /health`: each feature reports true only when what it needs is bound, configured and (for
 * stores) answering. `self_hosting` is true on the self-hosted server (RUNTIME=selfhost) only.
 *
 * Anyone (a load balancer, an uptime probe) gets the status, time, version and features. The
 * `checks`, which tell how the deployment is configured, need a valid credential of any role,
 * resolved here with the same resolver as /api (an invalid one is treated as none). A store's
 * own error text is logged, never answered.
 */
import type { Hono } from "hono";
import { z } from "zod";
import { principalOf } from "../auth/authenticate";
import { liveTranscriptionCheck } from "../calls/live-transcription";
import { realtimeCredentials, turnCredentials } from "../calls/settings";
import { recordingsCheck } from "../calls/recordings/health";
import { answeringAgentCheck } from "../llm/health";
import { speechFromEnv } from "../speech/service";
import { getConfig, optionalSetting } from "../lib/config";
import { providersFromEnv, UnconfiguredProvider } from "../email/failover";
import type { AppEnv } from "../http/app-env";
import { defineRoute } from "../http/route";
import { warn } from "../lib/log";
import { outboundScope, unreachableServers, unreachableWhy, type Unreachable } from "../selfhost/reach";
import { VERSION } from "../version";

const Check = z.object({ ok: z.boolean(), detail: z.string() });
type Check = z.infer<typeof Check>;

const HealthResponse = z.object({
  status: z.enum(["healthy", "degraded"]),
  timestamp: z.string(),
  version: z.string(),
  features: z.object({
    persistent_state: z.boolean(),
    long_running_tasks: z.boolean(),
    horizontal_scaling: z.boolean(),
    email_integration: z.boolean(),
    webrtc_integration: z.boolean(),
    self_hosting: z.boolean().describe("True on the self-hosted server (`npm start`, RUNTIME=selfhost) with its stores answering."),
  }),
  checks: z.record(z.string(), Check).optional().describe("Only with a valid credential (any role): what each feature rests on."),
});

async function probe(what: string, fn: () => Promise<unknown>, requestId: string | undefined): Promise<Check> {
  try {
    await fn();
    return { ok: true, detail: `${what} answered` };
  } catch (err) {
    warn({ event: "health.probe_failed", request_id: requestId, store: what, error: (err as Error).message });
    return { ok: false, detail: `${what} did not answer` };
  }
}

/** Calls need only the CALL_SESSION binding (peer-to-peer signalling); SFU, TURN and speech are reported as extras. */
function callsCheck(env: Env, unreachable: readonly Unreachable[]): Check {
  if (typeof env.CALL_SESSION?.getByName !== "function") return { ok: false, detail: "the CALL_SESSION Durable Object binding is missing" };
  const media = realtimeCredentials(env)
    ? "media through the Realtime SFU (REALTIME_APP_ID + REALTIME_APP_SECRET)"
    : "peer-to-peer media (no REALTIME_APP_ID + REALTIME_APP_SECRET for SFU mode)";
  const ice = turnCredentials(env) ? "TURN credentials (TURN_KEY_ID)" : "STUN only";
  const speech = speechFromEnv(env);
  const speechServer = unreachableWhy(unreachable, "SPEECH_BASE_URL");
  const speechDetail = speechServer
    ? `speech server not reachable here (${speechServer}; ${outboundScope(env)})`
    : speech.provider
      ? `speech through ${speech.provider.name}`
      : `speech not configured (${speech.reason})`;
  return { ok: true, detail: `CallSessionDO bound; ${media}; ${ice}; ${speechDetail}` };
}

/**
 * Ready when at least one provider of EMAIL_PROVIDERS is configured (and, self-hosted, names a
 * server this runtime can reach); the others are listed with why not.
 */
function emailCheck(env: Env, unreachable: readonly Unreachable[]): Check {
  try {
    const providers = providersFromEnv(env);
    const blocked = (name: string) => unreachable.find((u) => u.provider === name);
    const ready = providers.filter((p) => !(p instanceof UnconfiguredProvider) && !blocked(p.name)).map((p) => p.name);
    const skipped = providers.flatMap((p) => {
      if (p instanceof UnconfiguredProvider) return [`${p.name} not configured (${p.reason})`];
      const server = blocked(p.name);
      return server ? [`${p.name} not reachable here (${server.why}; ${outboundScope(env)})`] : [];
    });
    const detail = [
      ready.length > 0 ? `sends through ${ready.join(", ")}` : "no provider of EMAIL_PROVIDERS is configured",
      ...skipped,
    ].join("; ");
    return { ok: ready.length > 0, detail };
  } catch (err) {
    return { ok: false, detail: (err as Error).message };
  }
}

/**
 * Where this Worker runs. The self-hosted server (scripts/selfhost/start.mjs) sets RUNTIME=selfhost;
 * there the platform's send_email binding, Workers AI and Email Routing do not exist, and the
 * detail names what stands in for each.
 */
function runtimeCheck(env: Env): Check & { unreachable: Unreachable[] } {
  if (optionalSetting(env, "RUNTIME") === "selfhost") {
    const unreachable = unreachableServers(env);
    return {
      ok: unreachable.length === 0,
      unreachable,
      detail:
        "self-hosted (workerd, every store under DATA_DIR, one process); not available off Cloudflare: the send_email binding " +
        "(send through smtp, sendgrid or mailgun in EMAIL_PROVIDERS), Workers AI (set SPEECH_BASE_URL), Email Routing " +
        `(post mail to POST /api/v2/email/inbound); ${outboundScope(env)}` +
        (unreachable.length > 0 ? `, so these cannot be reached: ${unreachable.map((u) => u.why).join("; ")}` : ""),
    };
  }
  return { ok: true, unreachable: [], detail: "Cloudflare Workers (or its local simulator, wrangler dev)" };
}

export function registerHealthRoutes(app: Hono<AppEnv>): void {
  defineRoute(
    app,
    {
      method: "get",
      path: "/health",
      operationId: "health",
      summary: "What works right now",
      description:
        "200 when the core stores answer and some credential can be verified; 503 (same body) otherwise. " +
        "Without credentials: status, timestamp, version and features. With a valid credential (any role), also `checks`.",
      tags: ["meta"],
      permission: "public",
      responses: { 200: { description: "Healthy.", schema: HealthResponse }, 503: { description: "Degraded." } },
    },
    async (c) => {
      const env = c.env;
      const config = getConfig(env);
      const viewer = await principalOf(c, "anonymous");
      const [d1, kv] = await Promise.all([
        probe("D1 (agents index)", () => env.DB.prepare("SELECT 1 FROM agents LIMIT 1").all(), c.var.requestId),
        probe("KV (state snapshots)", () => env.STATE_SNAPSHOTS.get("health:probe"), c.var.requestId),
      ]);
      const durableObjects: Check =
        typeof env.AGENT?.getByName === "function"
          ? { ok: true, detail: "AgentDO bound" }
          : { ok: false, detail: "the AGENT Durable Object binding is missing" };
      const methods = [
        config.jwtSecret && "JWT HS256 (JWT_SECRET)",
        config.jwtJwksUrl && "JWT ES256/RS256 (JWT_JWKS_URL)",
        config.adminApiKey && "ADMIN_API_KEY",
        "API keys (D1)",
      ].filter(Boolean);
      const auth: Check =
        config.jwtSecret || config.jwtJwksUrl || config.adminApiKey
          ? { ok: true, detail: `accepts ${methods.join(", ")}` }
          : { ok: false, detail: "no JWT_SECRET, JWT_JWKS_URL or ADMIN_API_KEY: no first credential can be issued" };
      const rateLimit: Check = config.rateLimitEnabled
        ? { ok: typeof env.RATE_LIMITER?.limit === "function", detail: "per-principal limit through the RATE_LIMITER binding" }
        : { ok: true, detail: "disabled (RATE_LIMIT=off)" };
      const queues: Check =
        typeof env.TASK_QUEUE?.send === "function" && typeof env.TASK_DLQ?.send === "function"
          ? { ok: true, detail: "TASK_QUEUE (agent-tasks) and TASK_DLQ (agent-tasks-dlq) bound" }
          : { ok: false, detail: "the TASK_QUEUE or TASK_DLQ queue binding is missing" };
      const selfHosted = optionalSetting(env, "RUNTIME") === "selfhost";
      const { unreachable, ...runtime } = runtimeCheck(env);
      const checks = {
        runtime,
        durable_objects: durableObjects,
        d1,
        kv,
        auth,
        rate_limit: rateLimit,
        queues,
        email: emailCheck(env, unreachable),
        calls: callsCheck(env, unreachable),
        answering_agent: answeringAgentCheck(env, (setting) => unreachableWhy(unreachable, setting)),
        live_transcription: liveTranscriptionCheck(env, unreachableWhy(unreachable, "SPEECH_BASE_URL")),
        recordings: recordingsCheck(env),
      };
      const persistent = durableObjects.ok && d1.ok && kv.ok;
      const healthy = persistent && auth.ok && rateLimit.ok;
      return c.json(
        {
          status: healthy ? "healthy" : "degraded",
          timestamp: new Date().toISOString(),
          version: VERSION,
          features: {
            persistent_state: persistent,
            long_running_tasks: persistent && queues.ok,
            horizontal_scaling: persistent && queues.ok,
            email_integration: persistent && checks.email.ok,
            webrtc_integration: persistent && checks.calls.ok,
            self_hosting: persistent && selfHosted,
          },
          ...(viewer ? { checks } : {}),
        },
        healthy ? 200 : 503,
      );
    },
  );
}
