/**
 * Every setting the server reads, with what each environment's generated files give it: the
 * `.env.<env>` file, the Kubernetes ConfigMap (settings) and Secret (secrets). Every secret is left
 * empty ("not configured"), with a comment saying how to make one: a placeholder such as `change-me`
 * would be a working, guessable credential on a server whose operator forgot it. Without JWT_SECRET
 * and ADMIN_API_KEY the server reports itself degraded (/health 503) instead.
 */
import type { Environment } from "./environments";
import { DATA_DIR, IMAGE_ENV } from "./runtime";

export interface Variable {
  name: string;
  secret: boolean;
  /** Why it is set this way (a comment in the `.env` file). */
  comment: string;
  /** The value in `.env.<env>` (Docker, Compose: clients reach the app directly). */
  value(env: Environment): string;
  /** The value in the Kubernetes ConfigMap, when it differs (behind the Ingress). */
  inCluster?(env: Environment): string;
}

const fixed = (value: string) => () => value;
const secret = { secret: true, value: fixed("") };
/** Development mail goes to the catcher, which listens on the app's own loopback (see compose.ts). */
const devMail = (dev: string, other: string) => (env: Environment) => (env.mailCatcher ? dev : other);

export const MAIL_CATCHER_SMTP_PORT = "1025";

export const VARIABLES: readonly Variable[] = [
  { name: "PORT", secret: false, comment: "Set by the image; the port the server listens on.", value: fixed(IMAGE_ENV.PORT!) },
  { name: "HOST", secret: false, comment: "Set by the image: all interfaces.", value: fixed(IMAGE_ENV.HOST!) },
  { name: "DATA_DIR", secret: false, comment: "Set by the image: every store lives here, on the data volume.", value: fixed(DATA_DIR) },
  {
    name: "SHUTDOWN_GRACE_SECONDS",
    secret: false,
    comment: "Set by the image: how long a stop waits for open requests; keep it below the container's stop grace period.",
    value: fixed(IMAGE_ENV.SHUTDOWN_GRACE_SECONDS!),
  },
  {
    name: "PUBLIC_BASE_URL",
    secret: false,
    comment: "The public URL (links in mail, OpenAPI servers).",
    value: (env) => env.publicBaseUrl,
  },
  {
    name: "CORS_ALLOWED_ORIGINS",
    secret: false,
    comment: "Origins allowed to call the API from a browser (comma-separated); empty: none.",
    value: fixed(""),
  },
  { name: "JWT_JWKS_URL", secret: false, comment: "Your identity provider's JWKS for ES256/RS256 JWTs (optional).", value: fixed("") },
  { name: "JWT_ISSUER", secret: false, comment: "Required iss of JWTs when set.", value: fixed("") },
  { name: "JWT_AUDIENCE", secret: false, comment: "Required aud of JWTs when set.", value: fixed("") },
  { name: "RATE_LIMIT", secret: false, comment: "Per-credential rate limit: on or off.", value: fixed("on") },
  {
    name: "CLIENT_IP_HEADER",
    secret: false,
    comment:
      "The header a reverse proxy in front overwrites with the client's address (nginx: X-Real-IP); empty when clients reach the app directly.",
    value: fixed(""),
    // In the cluster every request comes through ingress-nginx, which overwrites X-Real-IP.
    inCluster: fixed("X-Real-IP"),
  },
  { name: "LOG_LEVEL", secret: false, comment: "debug, info, warn or error.", value: (env) => env.logLevel },
  { name: "STATE_HISTORY_LIMIT", secret: false, comment: "State versions kept per agent.", value: fixed("100") },
  {
    name: "STATE_SNAPSHOT_INTERVAL_SECONDS",
    secret: false,
    comment: "Least time between two writes of an agent's snapshot.",
    value: fixed("10"),
  },
  {
    name: "AGENT_INDEX_REFRESH_SECONDS",
    secret: false,
    comment: "Least time between two refreshes of an agent's index row.",
    value: fixed("300"),
  },
  { name: "METRICS_ROLLUP_INTERVAL_SECONDS", secret: false, comment: "Lag of the task figures in /metrics.", value: fixed("60") },
  { name: "MAX_BODY_BYTES", secret: false, comment: "Largest request body.", value: fixed("2097152") },
  { name: "MAX_INSTANCES", secret: false, comment: "Most instances an agent can be scaled to.", value: fixed("32") },
  { name: "TASK_CONCURRENCY_PER_INSTANCE", secret: false, comment: "Queued tasks one instance runs at once.", value: fixed("1") },
  { name: "SSE_MAX_STREAMS_PER_AGENT", secret: false, comment: "Open task event streams per agent.", value: fixed("100") },
  { name: "SSE_MAX_STREAMS_PER_CREDENTIAL", secret: false, comment: "Open task event streams per credential.", value: fixed("20") },
  {
    name: "OUTBOUND_ALLOW_HOSTS",
    secret: false,
    comment: "Exceptions to the outbound policy (host, host:port), comma-separated.",
    value: fixed(""),
  },
  {
    name: "EMAIL_PROVIDERS",
    secret: false,
    comment: "Mail providers in failover order (sendgrid, mailgun, smtp; cloudflare only works on Cloudflare).",
    value: fixed("smtp"),
  },
  {
    name: "EMAIL_FROM",
    secret: false,
    comment: "The sender; its domain is also the approval reply addresses' domain.",
    value: (env) => `agent@${env.domain}`,
  },
  { name: "EMAIL_FROM_NAME", secret: false, comment: "The sender's name.", value: fixed("DataMCPServerAgent") },
  { name: "SENDGRID_BASE_URL", secret: false, comment: "Empty: https://api.sendgrid.com.", value: fixed("") },
  {
    name: "MAILGUN_BASE_URL",
    secret: false,
    comment: "Empty: https://api.mailgun.net (EU: https://api.eu.mailgun.net).",
    value: fixed(""),
  },
  { name: "MAILGUN_DOMAIN", secret: false, comment: "The Mailgun sending domain.", value: fixed("") },
  {
    name: "SMTP_HOST",
    secret: false,
    comment: "The SMTP server (development: the mail catcher, on the app's loopback).",
    value: devMail("127.0.0.1", "smtp.example.com"),
  },
  { name: "SMTP_SECURITY", secret: false, comment: "starttls, tls, or none (loopback only).", value: devMail("none", "starttls") },
  { name: "SMTP_PORT", secret: false, comment: "Empty: 587 for starttls, 465 for tls.", value: devMail(MAIL_CATCHER_SMTP_PORT, "587") },
  { name: "SMTP_USERNAME", secret: false, comment: "SMTP AUTH user (with SMTP_PASSWORD), or empty.", value: fixed("") },
  { name: "SMTP_HELO_NAME", secret: false, comment: "The EHLO name.", value: (env) => env.domain },
  { name: "SMTP_TIMEOUT_MS", secret: false, comment: "Timeout of every SMTP step.", value: fixed("30000") },
  {
    name: "OUTBOUND_PRIVATE_NETWORKS",
    secret: false,
    comment:
      "What the app may connect to besides public addresses: private, local (loopback) or CIDR ranges, comma-separated " +
      "(development: the mail catcher on the app's loopback). Open only the servers you name in these settings.",
    value: devMail("127.0.0.1/32", ""),
  },
  {
    name: "REALTIME_APP_ID",
    secret: false,
    comment: "Cloudflare Realtime SFU app id (optional; calls run peer-to-peer without it).",
    value: fixed(""),
  },
  { name: "REALTIME_API_BASE_URL", secret: false, comment: "Empty: https://rtc.live.cloudflare.com/v1.", value: fixed("") },
  {
    name: "SPEECH_BASE_URL",
    secret: false,
    comment: "An OpenAI-compatible speech server (Workers AI is not available off Cloudflare).",
    value: fixed(""),
  },
  { name: "SPEECH_PROVIDER", secret: false, comment: "Leave empty off Cloudflare (workers-ai needs Cloudflare).", value: fixed("") },
  { name: "SPEECH_STT_MODEL", secret: false, comment: "The speech server's transcription model (empty: whisper-1).", value: fixed("") },
  { name: "SPEECH_TTS_MODEL", secret: false, comment: "The speech server's speech model (empty: tts-1).", value: fixed("") },
  {
    name: "LLM_BASE_URL",
    secret: false,
    comment: "An OpenAI-compatible chat completions server for a call's answering agent (Workers AI is not available off Cloudflare).",
    value: fixed(""),
  },
  { name: "LLM_PROVIDER", secret: false, comment: "Leave empty off Cloudflare (workers-ai needs Cloudflare).", value: fixed("") },
  { name: "LLM_MODEL", secret: false, comment: "The language model (empty: gpt-4o-mini).", value: fixed("") },
  {
    name: "RECORDING_CHUNK_SECONDS",
    secret: false,
    comment: "Seconds of audio per stored chunk of a call recording (unused here: recordings need an R2 bucket, which this runtime lacks).",
    value: fixed("5"),
  },
  { name: "JWT_SECRET", comment: "REQUIRED. HS256 key for JWTs: openssl rand -base64 32", ...secret },
  { name: "ADMIN_API_KEY", comment: "REQUIRED. The bootstrap super_admin key: echo dmsa_$(openssl rand -hex 24)", ...secret },
  {
    name: "METRICS_TOKEN",
    comment: "REQUIRED for the Prometheus scrape. The bearer token it sends to /metrics: openssl rand -base64 32",
    ...secret,
  },
  {
    name: "INBOUND_MAIL_TOKEN",
    comment: "The token an MTA or webhook sends with raw inbound mail (approval replies): openssl rand -base64 32",
    ...secret,
  },
  { name: "APPROVAL_SIGNING_SECRET", comment: "Approval link and reply keys (empty: derived from JWT_SECRET).", ...secret },
  { name: "CALL_SIGNING_SECRET", comment: "Call join token key (empty: derived from JWT_SECRET).", ...secret },
  { name: "SENDGRID_API_KEY", comment: "SendGrid v3 key (optional).", ...secret },
  { name: "SENDGRID_WEBHOOK_PUBLIC_KEY", comment: "SendGrid signed event webhook key (optional).", ...secret },
  { name: "MAILGUN_API_KEY", comment: "Mailgun key (optional).", ...secret },
  { name: "MAILGUN_WEBHOOK_SIGNING_KEY", comment: "Mailgun webhook signing key (optional).", ...secret },
  { name: "SMTP_PASSWORD", comment: "SMTP AUTH password (with SMTP_USERNAME), or empty.", ...secret },
  { name: "REALTIME_APP_SECRET", comment: "Realtime SFU app secret (optional).", ...secret },
  { name: "TURN_KEY_ID", comment: "Cloudflare TURN key id (optional).", ...secret },
  { name: "TURN_KEY_API_TOKEN", comment: "Cloudflare TURN key token (optional).", ...secret },
  { name: "SPEECH_API_KEY", comment: "The speech server's key, if it needs one.", ...secret },
  { name: "LLM_API_KEY", comment: "The language model server's key, if it needs one.", ...secret },
];
