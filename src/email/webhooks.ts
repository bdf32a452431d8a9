/**
 * Delivery webhooks: SendGrid's Event Webhook and Mailgun's webhooks move a logged message to
 * `delivered` or `bounced`. Both are public routes protected by the provider's signature,
 * verified over the raw request before anything is parsed, and by a freshness window against
 * replays.
 *
 * - SendGrid (Signed Event Webhook): ECDSA P-256 / SHA-256 over `timestamp + raw body`, the
 *   timestamp from `X-Twilio-Email-Event-Webhook-Timestamp`, the signature (base64, ASN.1 DER)
 *   from `X-Twilio-Email-Event-Webhook-Signature`, the public key (base64 DER SubjectPublicKeyInfo,
 *   as the SendGrid dashboard shows it) in `SENDGRID_WEBHOOK_PUBLIC_KEY`. A timestamp more than
 *   5 minutes from now is refused, so a captured request cannot be replayed later; within the
 *   window a replay can only repeat the same signed events (the body is signed).
 *   Events: `delivered` → delivered; `bounce`, `dropped` → bounced; others are ignored. A message
 *   is matched by `sg_message_id`, whose part before the first `.` is the `X-Message-Id` we stored.
 *   @see https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features
 * - Mailgun: HMAC-SHA256 of `timestamp + token` with `MAILGUN_WEBHOOK_SIGNING_KEY`, hex, in the
 *   body's `signature` object; a timestamp more than 5 minutes from now is refused. The event
 *   data is not signed, so each token is accepted once: it is remembered (D1
 *   `email_webhook_tokens`) until its timestamp leaves the window, and a second request with it
 *   is refused, whatever event it carries.
 *   Events: `delivered` → delivered; `failed` with `severity: permanent` → bounced (temporary
 *   failures are retried by Mailgun and change nothing). Matched by the `message-id` header.
 *   @see https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks
 *
 * Answers: a bad or missing signature 401; the key not configured 503 (the provider retries,
 * and the operator sees why); an unparsable signed body 400; otherwise 200 with counts, also
 * for events about messages we do not know (acknowledged, so the provider does not retry them
 * forever).
 */
import { tryBase64ToBytes } from "../lib/base64";
import { warn } from "../lib/log";
import { AppError } from "../lib/problem";
import { advanceStatus } from "./outbox";
import { emailSetting } from "./settings";

export const SENDGRID_SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature";
export const SENDGRID_TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp";
/** How far a signed timestamp may be from now, either way (both providers). */
export const WEBHOOK_MAX_AGE_SECONDS = 300;

export interface WebhookOutcome {
  received: number;
  updated: number;
  unchanged: number;
  unknown: number;
  ignored: number;
}

function refused(provider: string, reason: string, requestId?: string): AppError {
  warn({ event: "email.webhook_refused", request_id: requestId, provider, reason });
  return new AppError("unauthenticated", `The ${provider} webhook signature is ${reason}.`);
}

/** Whether a signed timestamp (Unix seconds) is within the window around now. */
function isFresh(timestamp: string, nowMs: number): boolean {
  return /^\d{1,12}$/.test(timestamp) && Math.abs(nowMs / 1000 - Number(timestamp)) <= WEBHOOK_MAX_AGE_SECONDS;
}

const STALE = `stale (timestamp more than ${WEBHOOK_MAX_AGE_SECONDS} s from now)`;

/** An ASN.1 DER ECDSA signature (SEQUENCE of two INTEGERs) as the 64-byte r‖s WebCrypto verifies. */
export function derToP1363(der: Uint8Array, size = 32): Uint8Array | null {
  let i = 0;
  const byte = () => (i < der.length ? (der[i++] as number) : -1);
  const length = () => {
    const first = byte();
    if (first < 0x80) return first;
    const n = first & 0x7f;
    if (n < 1 || n > 2) return -1;
    let len = 0;
    for (let k = 0; k < n; k++) len = (len << 8) | byte();
    return len;
  };
  if (byte() !== 0x30) return null;
  const seqLength = length();
  if (seqLength < 0 || i + seqLength !== der.length) return null;
  const out = new Uint8Array(size * 2);
  for (const offset of [0, size]) {
    if (byte() !== 0x02) return null;
    const len = length();
    if (len < 1 || i + len > der.length) return null;
    let int = der.subarray(i, i + len);
    i += len;
    while (int.length > size && int[0] === 0) int = int.subarray(1);
    if (int.length > size) return null;
    out.set(int, offset + size - int.length);
  }
  return i === der.length ? out : null;
}

const keyCache = new Map<string, Promise<CryptoKey>>();

function sendgridKey(base64: string): Promise<CryptoKey> {
  let key = keyCache.get(base64);
  if (!key) {
    const bytes = tryBase64ToBytes(base64);
    key = bytes
      ? crypto.subtle.importKey("spki", bytes, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"])
      : Promise.reject(new Error("not base64"));
    key.catch(() => keyCache.delete(base64));
    keyCache.set(base64, key);
  }
  return key;
}

/** Verifies a SendGrid Event Webhook request; throws 401/503. Returns the raw body. */
export async function verifySendGrid(env: Env, req: Request, requestId?: string, nowMs = Date.now()): Promise<string> {
  const publicKey = emailSetting(env, "SENDGRID_WEBHOOK_PUBLIC_KEY");
  if (!publicKey) throw new AppError("service_unavailable", "SendGrid webhooks are not configured: set SENDGRID_WEBHOOK_PUBLIC_KEY.");
  const signature = req.headers.get(SENDGRID_SIGNATURE_HEADER);
  const timestamp = req.headers.get(SENDGRID_TIMESTAMP_HEADER);
  const body = new Uint8Array(await req.arrayBuffer());
  if (!signature || !timestamp) throw refused("sendgrid", "missing", requestId);
  if (!isFresh(timestamp, nowMs)) throw refused("sendgrid", STALE, requestId);
  const raw = tryBase64ToBytes(signature);
  const sig = raw && (raw.length === 64 ? raw : derToP1363(raw));
  if (!sig) throw refused("sendgrid", "malformed", requestId);
  let key: CryptoKey;
  try {
    key = await sendgridKey(publicKey);
  } catch {
    throw new AppError("service_unavailable", "SENDGRID_WEBHOOK_PUBLIC_KEY is not a base64 DER P-256 public key.");
  }
  const ts = new TextEncoder().encode(timestamp);
  const data = new Uint8Array(ts.length + body.length);
  data.set(ts);
  data.set(body, ts.length);
  const ok = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, sig, data);
  if (!ok) throw refused("sendgrid", "invalid", requestId);
  return new TextDecoder().decode(body);
}

function malformed(detail: string): AppError {
  return new AppError("malformed_request", detail);
}

const SENDGRID_STATUS: Record<string, "delivered" | "bounced"> = { delivered: "delivered", bounce: "bounced", dropped: "bounced" };

export async function handleSendGridEvents(env: Env, rawBody: string, requestId?: string): Promise<WebhookOutcome> {
  let events: unknown;
  try {
    events = JSON.parse(rawBody);
  } catch {
    throw malformed("The SendGrid webhook body is not JSON.");
  }
  if (!Array.isArray(events)) throw malformed("The SendGrid webhook body must be a JSON array of events.");
  const outcome: WebhookOutcome = { received: events.length, updated: 0, unchanged: 0, unknown: 0, ignored: 0 };
  for (const event of events as unknown[]) {
    const e = (typeof event === "object" && event !== null ? event : {}) as Record<string, unknown>;
    const status = typeof e.event === "string" ? SENDGRID_STATUS[e.event] : undefined;
    const sgId = typeof e.sg_message_id === "string" ? e.sg_message_id : "";
    const providerMessageId = sgId.split(".")[0];
    if (!status || !providerMessageId) {
      outcome.ignored++;
      continue;
    }
    const smtpId = typeof e["smtp-id"] === "string" ? e["smtp-id"] : undefined;
    tally(
      outcome,
      await advanceStatus(env, { provider: "sendgrid", providerMessageId, rfcMessageId: smtpId }, status, e.event as string, requestId),
    );
  }
  return outcome;
}

function tally(outcome: WebhookOutcome, result: string | null): void {
  if (result === null) outcome.unknown++;
  else if (result === "unchanged") outcome.unchanged++;
  else outcome.updated++;
}

function hexBytes(hex: string): Uint8Array | null {
  if (!/^(?:[0-9a-f]{2})+$/i.test(hex)) return null;
  return Uint8Array.from(hex.match(/../g) as string[], (h) => parseInt(h, 16));
}

/** Verifies and applies a Mailgun webhook (JSON). */
export async function handleMailgunWebhook(env: Env, req: Request, requestId?: string, nowMs = Date.now()): Promise<WebhookOutcome> {
  const signingKey = emailSetting(env, "MAILGUN_WEBHOOK_SIGNING_KEY");
  if (!signingKey) throw new AppError("service_unavailable", "Mailgun webhooks are not configured: set MAILGUN_WEBHOOK_SIGNING_KEY.");
  let body: unknown;
  try {
    body = JSON.parse(await req.text());
  } catch {
    throw refused("mailgun", "missing (the body is not JSON)", requestId);
  }
  const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  const sig = (typeof b.signature === "object" && b.signature !== null ? b.signature : {}) as Record<string, unknown>;
  const timestamp = typeof sig.timestamp === "number" ? String(sig.timestamp) : sig.timestamp;
  const { token, signature } = sig;
  if (typeof timestamp !== "string" || typeof token !== "string" || typeof signature !== "string")
    throw refused("mailgun", "missing", requestId);
  if (!isFresh(timestamp, nowMs)) throw refused("mailgun", STALE, requestId);
  const expected = hexBytes(signature);
  if (!expected) throw refused("mailgun", "malformed", requestId);
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(signingKey), { name: "HMAC", hash: "SHA-256" }, false, [
    "verify",
  ]);
  // subtle.verify compares in constant time.
  const ok = await crypto.subtle.verify("HMAC", key, expected, new TextEncoder().encode(timestamp + token));
  if (!ok) throw refused("mailgun", "invalid", requestId);
  const forget = await rememberToken(env, "mailgun", token, (Number(timestamp) + WEBHOOK_MAX_AGE_SECONDS) * 1000, nowMs);
  if (!forget) throw refused("mailgun", "replayed (this token was already used)", requestId);
  try {
    return await applyMailgunEvent(env, b, requestId);
  } catch (err) {
    // Not applied: the provider's retry of this very request must not be taken for a replay.
    await forget().catch(() => undefined);
    throw err;
  }
}

/**
 * Records a signed token until `expiresAtMs` (when its timestamp leaves the window); prunes the
 * tokens whose window has passed. Returns how to forget it again, or null when it was already
 * recorded: a replay.
 */
async function rememberToken(
  env: Env,
  provider: string,
  token: string,
  expiresAtMs: number,
  nowMs: number,
): Promise<(() => Promise<unknown>) | null> {
  const [inserted] = await env.DB.batch([
    env.DB.prepare("INSERT INTO email_webhook_tokens (provider, token, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING").bind(
      provider,
      token,
      expiresAtMs,
    ),
    env.DB.prepare("DELETE FROM email_webhook_tokens WHERE expires_at < ?").bind(nowMs),
  ]);
  if (!inserted || inserted.meta.changes === 0) return null;
  return () => env.DB.prepare("DELETE FROM email_webhook_tokens WHERE provider = ? AND token = ?").bind(provider, token).run();
}

async function applyMailgunEvent(env: Env, b: Record<string, unknown>, requestId?: string): Promise<WebhookOutcome> {
  const outcome: WebhookOutcome = { received: 1, updated: 0, unchanged: 0, unknown: 0, ignored: 0 };
  const data = (typeof b["event-data"] === "object" && b["event-data"] !== null ? b["event-data"] : {}) as Record<string, unknown>;
  const event = typeof data.event === "string" ? data.event : "";
  const status = event === "delivered" ? "delivered" : event === "failed" && data.severity === "permanent" ? "bounced" : undefined;
  const message = (data.message ?? {}) as { headers?: Record<string, unknown> };
  const header = message.headers?.["message-id"];
  const messageId = typeof header === "string" ? header.trim().replace(/^<|>$/g, "") : "";
  if (!status || !messageId) {
    outcome.ignored++;
    return outcome;
  }
  // We store Mailgun's id as returned (`<…>`) in both provider_message_id and rfc_message_id.
  tally(
    outcome,
    await advanceStatus(
      env,
      { provider: "mailgun", providerMessageId: `<${messageId}>`, rfcMessageId: `<${messageId}>` },
      status,
      event,
      requestId,
    ),
  );
  return outcome;
}
