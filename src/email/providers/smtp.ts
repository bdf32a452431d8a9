/**
 * SMTP through our own client over `cloudflare:sockets` (`../smtp/client`). Settings (vars or
 * secrets; absent from the generated `Env`, so read here):
 * - `SMTP_HOST` (required; without it the provider is skipped),
 * - `SMTP_PORT` (default 587 for starttls, 465 for tls, 25 for none),
 * - `SMTP_SECURITY`: `starttls` (default), `tls` (implicit, port 465) or `none` (loopback only),
 * - `SMTP_USERNAME` and `SMTP_PASSWORD` (together, or neither),
 * - `SMTP_HELO_NAME` (the EHLO name, default `localhost`), `SMTP_TIMEOUT_MS` (per step, default 30 s).
 *
 * The message is built by `buildMime` with a Message-ID `<uuid@sender-domain>` we choose, so the
 * returned `messageId` is the one replies reference in In-Reply-To/References.
 */
import { EmailConfigError } from "../settings";
import { buildMime, newMessageId } from "../mime";
import { DEFAULT_SMTP_TIMEOUT_MS, isLoopbackHost, sendSmtp, SmtpError, type SmtpConfig, type SmtpSecurity } from "../smtp/client";
import { ProviderError, type EmailProvider, type OutgoingEmail, type SendResult } from "../types";

const DEFAULT_PORTS: Record<SmtpSecurity, number> = { starttls: 587, tls: 465, none: 25 };

type SmtpSetting = "SMTP_HOST" | "SMTP_PORT" | "SMTP_SECURITY" | "SMTP_USERNAME" | "SMTP_PASSWORD" | "SMTP_HELO_NAME" | "SMTP_TIMEOUT_MS";

function setting(env: Env, name: SmtpSetting): string | undefined {
  const value = (env as unknown as Record<string, unknown>)[name];
  if (typeof value === "number") return String(value);
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

/**
 * The SmtpConfig the env describes, or undefined without `SMTP_HOST`. A malformed setting throws
 * an EmailConfigError naming it (including `none` to a host that is not loopback).
 */
export function smtpConfigFromEnv(env: Env): SmtpConfig | undefined {
  const host = setting(env, "SMTP_HOST");
  if (host === undefined) return undefined;
  const security = (setting(env, "SMTP_SECURITY") ?? "starttls").toLowerCase();
  if (security !== "starttls" && security !== "tls" && security !== "none") {
    throw new EmailConfigError(`SMTP_SECURITY: must be starttls, tls or none, not "${security}"`);
  }
  if (security === "none" && !isLoopbackHost(host)) {
    throw new EmailConfigError(`SMTP_SECURITY: "none" is only allowed for loopback hosts, not ${host}`);
  }
  const portText = setting(env, "SMTP_PORT");
  const port = portText === undefined ? DEFAULT_PORTS[security] : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new EmailConfigError(`SMTP_PORT: not a port: ${portText}`);
  const username = setting(env, "SMTP_USERNAME");
  // A password is used as given (spaces may be part of it); only an empty one counts as absent.
  const rawPassword = (env as unknown as Record<string, unknown>).SMTP_PASSWORD;
  const password = typeof rawPassword === "string" && rawPassword !== "" ? rawPassword : undefined;
  if ((username === undefined) !== (password === undefined)) {
    throw new EmailConfigError("SMTP_USERNAME and SMTP_PASSWORD must be set together");
  }
  const timeoutText = setting(env, "SMTP_TIMEOUT_MS");
  const timeoutMs = timeoutText === undefined ? DEFAULT_SMTP_TIMEOUT_MS : Number(timeoutText);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new EmailConfigError(`SMTP_TIMEOUT_MS: not a positive integer: ${timeoutText}`);
  return {
    host,
    port,
    security,
    timeoutMs,
    ...(username !== undefined && password !== undefined ? { username, password } : {}),
    ...(setting(env, "SMTP_HELO_NAME") ? { heloName: setting(env, "SMTP_HELO_NAME") } : {}),
  };
}

/** The factory for `providersFromEnv` (`{ smtp: smtpProviderFromEnv }`). */
export function smtpProviderFromEnv(env: Env): EmailProvider | { skip: string } {
  const config = smtpConfigFromEnv(env);
  return config ? smtpProvider(config) : { skip: "SMTP_HOST is not set" };
}

/** An `smtp` provider sending every message over its own connection to `config`. */
export function smtpProvider(config: SmtpConfig): EmailProvider {
  return {
    name: "smtp",
    async send(message: OutgoingEmail, signal?: AbortSignal): Promise<SendResult> {
      const messageId = newMessageId(message.from.email);
      let raw: string;
      try {
        raw = buildMime(message, messageId);
      } catch (err) {
        throw new ProviderError("smtp", `cannot build the message: ${err instanceof Error ? err.message : String(err)}`, {
          transient: false,
          cause: err,
        });
      }
      try {
        await sendSmtp(config, { from: message.from.email, to: message.to }, raw, signal ? { signal } : {});
      } catch (err) {
        if (err instanceof SmtpError) {
          throw new ProviderError("smtp", err.message, {
            transient: err.transient,
            ...(err.code !== undefined ? { status: err.code } : {}),
            cause: err,
          });
        }
        throw new ProviderError("smtp", err instanceof Error ? err.message : String(err), { transient: true, cause: err });
      }
      // SMTP has no message id of its own (a queue id, if any, is free text in the reply).
      return { provider: "smtp", providerMessageId: messageId, messageId };
    },
  };
}
