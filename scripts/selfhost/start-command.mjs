// The one description of how the self-hosted server starts: `npm start` runs it after building,
// and a container image runs exactly `START_ARGV` (from the project folder, with `START_ENV`
// defaults and the files in `RUNTIME_FILES`). Other scripts import this file instead of
// repeating any of it.
// Plain JavaScript with JSDoc types: node scripts import it as it is and TypeScript checks it.

/** The production command, run from the project folder. Needs Node ≥ 20 and nothing but `RUNTIME_FILES`. */
export const START_ARGV = ["node", "scripts/selfhost/start.mjs"];

/**
 * The build that produces what `START_ARGV` runs (needs the dev dependencies): the client assets
 * (dist/client/), the bundled Worker and its runtime config (dist/selfhost/). `npm start` runs it
 * first (`prestart`); an image runs it in a build stage.
 */
export const BUILD_ARGV = ["npm", "run", "build:selfhost"];

/**
 * Environment the server reads, with its defaults. Every `[vars]` name of wrangler.toml and every
 * name in `SECRET_NAMES` is also read from the environment (a set variable wins over the default).
 */
export const START_ENV = {
  /** Every store (Durable Objects, KV, D1, queues) lives under this folder; keep it on a volume. */
  DATA_DIR: "./data",
  /** The HTTP port. */
  PORT: "8787",
  /** The listening address: all interfaces. */
  HOST: "0.0.0.0",
  /** How long a stop waits for open requests (event streams, WebSockets) before it kills them; keep it below the container's stop grace period. */
  SHUTDOWN_GRACE_SECONDS: "20",
  /**
   * What the Worker may connect to (fetch, SMTP sockets) besides public addresses, comma-separated:
   * `private` (every private and loopback address), `local` (loopback) or CIDR ranges such as
   * `10.0.5.25/32`. Empty: public addresses only, which keeps a user-supplied URL that resolves to a
   * private address from reaching anything inside (see outbound-network.mjs).
   */
  OUTBOUND_PRIVATE_NETWORKS: "",
};

/** The Worker sees `RUNTIME=selfhost` under this server (`/health` reports it); the server sets it, the environment cannot change it. */
export const RUNTIME_VAR = { RUNTIME: "selfhost" };

/** Paths (relative to the project folder) the server needs at run time; a folder ends in "/". */
export const RUNTIME_FILES = [
  "package.json",
  "scripts/selfhost/",
  "dist/selfhost/",
  "dist/client/",
  "node_modules/workerd/",
  "node_modules/@cloudflare/",
];

/**
 * Settings that are not in wrangler.toml's `[vars]` but are read from the environment when set
 * (secrets and optional settings, docs/configuration.md). Never written into a generated file.
 */
export const SECRET_NAMES = [
  "JWT_SECRET",
  "ADMIN_API_KEY",
  "METRICS_TOKEN",
  "INBOUND_MAIL_TOKEN",
  "APPROVAL_SIGNING_SECRET",
  "CALL_SIGNING_SECRET",
  "SENDGRID_API_KEY",
  "SENDGRID_WEBHOOK_PUBLIC_KEY",
  "MAILGUN_API_KEY",
  "MAILGUN_WEBHOOK_SIGNING_KEY",
  "SMTP_HOST",
  "SMTP_SECURITY",
  "SMTP_PORT",
  "SMTP_USERNAME",
  "SMTP_PASSWORD",
  "SMTP_HELO_NAME",
  "SMTP_TIMEOUT_MS",
  "REALTIME_APP_SECRET",
  "TURN_KEY_ID",
  "TURN_KEY_API_TOKEN",
  "SPEECH_API_KEY",
  "LLM_API_KEY",
];

/** `/health` answers 200 here once the server is ready (a container HEALTHCHECK or probe). */
export const HEALTH_PATH = "/health";
