/**
 * Typed configuration read from vars and secrets. Parsed once per isolate per distinct env
 * object, so request handling never re-parses strings. Empty strings mean "not configured".
 */
import { z } from "zod";
import { LOG_LEVELS, setLogLevel, type LogLevel } from "./log";

const csv = z
  .string()
  .optional()
  .transform((v) =>
    (v ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  );
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v && v.trim() !== "" ? v.trim() : undefined));
const positiveInt = (fallback: number) =>
  z
    .string()
    .optional()
    .transform((v) => (v && v.trim() !== "" ? Number(v) : fallback))
    .pipe(z.number().int().positive());

const ConfigSchema = z.object({
  PUBLIC_BASE_URL: z
    .string()
    .optional()
    .transform((v) => (v ?? "http://localhost:8787").replace(/\/+$/, "")),
  CORS_ALLOWED_ORIGINS: csv,
  JWT_SECRET: optionalString,
  JWT_JWKS_URL: optionalString,
  JWT_ISSUER: optionalString,
  JWT_AUDIENCE: optionalString,
  ADMIN_API_KEY: optionalString,
  CLIENT_IP_HEADER: optionalString,
  RATE_LIMIT: z
    .string()
    .optional()
    .transform((v) => !["off", "0", "false"].includes((v ?? "on").trim().toLowerCase())),
  LOG_LEVEL: z.enum(LOG_LEVELS).optional().default("info"),
  STATE_HISTORY_LIMIT: positiveInt(100),
  STATE_SNAPSHOT_INTERVAL_SECONDS: positiveInt(10),
  AGENT_INDEX_REFRESH_SECONDS: positiveInt(300),
  METRICS_ROLLUP_INTERVAL_SECONDS: positiveInt(60),
  MAX_BODY_BYTES: positiveInt(2 * 1024 * 1024),
  MAX_INSTANCES: positiveInt(32),
  TASK_CONCURRENCY_PER_INSTANCE: positiveInt(1),
  SSE_MAX_STREAMS_PER_AGENT: positiveInt(100),
  SSE_MAX_STREAMS_PER_CREDENTIAL: positiveInt(20),
  OUTBOUND_ALLOW_HOSTS: csv,
});

export type Config = {
  publicBaseUrl: string;
  corsAllowedOrigins: string[];
  jwtSecret?: string;
  jwtJwksUrl?: string;
  jwtIssuer?: string;
  jwtAudience?: string;
  adminApiKey?: string;
  /** The request header that carries the client's address, set by the platform or a trusted proxy; undefined: none is trusted. */
  clientIpHeader?: string;
  rateLimitEnabled: boolean;
  logLevel: LogLevel;
  stateHistoryLimit: number;
  /** Least time between two KV snapshot writes of one agent (the snapshot's lag behind a busy agent). */
  stateSnapshotIntervalMs: number;
  /** Least time between two refreshes of an agent's version and updated_at in the D1 index. */
  agentIndexRefreshMs: number;
  /** Least time between two publishes of an agent's task counts to D1 (the lag of /metrics' task figures). */
  metricsRollupIntervalMs: number;
  maxBodyBytes: number;
  maxInstances: number;
  taskConcurrencyPerInstance: number;
  /** Open task event streams per agent (counted exactly, in the agent's Durable Object). */
  sseMaxStreamsPerAgent: number;
  /** Open task event streams per credential, counted per isolate (see src/tasks/events.ts). */
  sseMaxStreamsPerCredential: number;
  /** Raw `OUTBOUND_ALLOW_HOSTS` entries; parsed by policyFrom (src/lib/outbound-policy.ts). */
  outboundAllowHosts: string[];
};

const cache = new WeakMap<object, Config>();

/** Reads the configuration; a malformed value throws at once with the variable's name. */
export function getConfig(env: Env): Config {
  const hit = cache.get(env);
  if (hit) return hit;
  const parsed = ConfigSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`Invalid configuration: ${issue?.path.join(".")}: ${issue?.message}`);
  }
  const v = parsed.data;
  const config: Config = {
    publicBaseUrl: v.PUBLIC_BASE_URL,
    corsAllowedOrigins: v.CORS_ALLOWED_ORIGINS,
    jwtSecret: v.JWT_SECRET,
    jwtJwksUrl: v.JWT_JWKS_URL,
    jwtIssuer: v.JWT_ISSUER,
    jwtAudience: v.JWT_AUDIENCE,
    adminApiKey: v.ADMIN_API_KEY,
    clientIpHeader: v.CLIENT_IP_HEADER,
    rateLimitEnabled: v.RATE_LIMIT,
    logLevel: v.LOG_LEVEL,
    stateHistoryLimit: v.STATE_HISTORY_LIMIT,
    stateSnapshotIntervalMs: v.STATE_SNAPSHOT_INTERVAL_SECONDS * 1000,
    agentIndexRefreshMs: v.AGENT_INDEX_REFRESH_SECONDS * 1000,
    metricsRollupIntervalMs: v.METRICS_ROLLUP_INTERVAL_SECONDS * 1000,
    maxBodyBytes: v.MAX_BODY_BYTES,
    maxInstances: v.MAX_INSTANCES,
    taskConcurrencyPerInstance: v.TASK_CONCURRENCY_PER_INSTANCE,
    sseMaxStreamsPerAgent: v.SSE_MAX_STREAMS_PER_AGENT,
    sseMaxStreamsPerCredential: v.SSE_MAX_STREAMS_PER_CREDENTIAL,
    outboundAllowHosts: v.OUTBOUND_ALLOW_HOSTS,
  };
  cache.set(env, config);
  setLogLevel(config.logLevel);
  return config;
}

/**
 * A trimmed, non-empty string setting, or undefined. For settings a capability reads on its own:
 * optional secrets are absent from the generated `Env`, so they are read by name here, and a
 * plain object can stand in for the environment in tests.
 */
export function optionalSetting(env: object, name: string): string | undefined {
  const value = (env as Record<string, unknown>)[name];
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}
