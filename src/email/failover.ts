/**
 * The configured providers, in failover order, and sending through them.
 *
 * `EMAIL_PROVIDERS` (comma-separated, default `cloudflare`) names them in the order they are tried.
 * An unknown name is a configuration error. A known provider whose settings are missing (sendgrid
 * without `SENDGRID_API_KEY`, mailgun without `MAILGUN_API_KEY` or `MAILGUN_DOMAIN`, …) stays in the
 * list as an {@link UnconfiguredProvider}: `sendWithFailover` records it as skipped, with the reason,
 * and goes on to the next one. Any failure of a provider, transient or not, moves to the next.
 */
import { AppError } from "../lib/problem";
import { cloudflareProvider } from "./providers/cloudflare";
import { mailgunProvider } from "./providers/mailgun";
import { sendgridProvider } from "./providers/sendgrid";
import { smtpProviderFromEnv } from "./providers/smtp";
import { EmailConfigError, emailSetting } from "./settings";
import { PROVIDER_NAMES, ProviderError, type EmailProvider, type OutgoingEmail, type ProviderName, type SendResult } from "./types";

/** One provider's turn: sent, failed (with the HTTP status when there was one), or skipped. */
export interface Attempt {
  provider: ProviderName;
  ok: boolean;
  error?: string;
  status?: number;
  /** The provider was not configured and was not called; `error` says what is missing. */
  skipped?: true;
  duration_ms: number;
}

/** What a factory gives back: a provider, or the reason it cannot be built from this env. */
export type ProviderFactoryResult = EmailProvider | { skip: string };
export type ProviderFactory = (env: Env) => ProviderFactoryResult;

/** Stands in for a provider whose settings are missing; never sends. */
export class UnconfiguredProvider implements EmailProvider {
  constructor(
    readonly name: ProviderName,
    readonly reason: string,
  ) {}

  async send(): Promise<SendResult> {
    throw new ProviderError(this.name, `not configured: ${this.reason}`, { transient: false });
  }
}

/** Every provider failed (or none was usable); `attempts` lists each one's turn. Renders as 503. */
export class EmailDeliveryError extends AppError {
  readonly attempts: Attempt[];

  constructor(attempts: Attempt[], reason?: string) {
    const summary =
      attempts.length === 0 ? "no email provider is configured" : attempts.map((a) => `${a.provider}: ${a.error ?? "failed"}`).join("; ");
    super("service_unavailable", `Email could not be sent (${reason ? `${reason}; ` : ""}${summary})`, { extensions: { attempts } });
    this.name = "EmailDeliveryError";
    this.attempts = attempts;
  }
}

function httpUrl(env: Env, name: "SENDGRID_BASE_URL" | "MAILGUN_BASE_URL"): string | undefined {
  const value = emailSetting(env, name);
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new EmailConfigError(`${name}: not a URL: ${value}`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new EmailConfigError(`${name}: must be an http(s) URL`);
  return value;
}

/** A factory for every provider name; `smtp` lives in ./providers/smtp (our client over cloudflare:sockets). */
export const BUILTIN_PROVIDER_FACTORIES: Partial<Record<ProviderName, ProviderFactory>> = {
  cloudflare: (env) => (env.EMAIL ? cloudflareProvider(env.EMAIL) : { skip: "the EMAIL send_email binding is missing" }),
  sendgrid: (env) => {
    const apiKey = emailSetting(env, "SENDGRID_API_KEY");
    const baseUrl = httpUrl(env, "SENDGRID_BASE_URL");
    return apiKey ? sendgridProvider({ apiKey, baseUrl }) : { skip: "SENDGRID_API_KEY is not set" };
  },
  mailgun: (env) => {
    const apiKey = emailSetting(env, "MAILGUN_API_KEY");
    const domain = emailSetting(env, "MAILGUN_DOMAIN");
    const baseUrl = httpUrl(env, "MAILGUN_BASE_URL");
    const missing = [apiKey ? undefined : "MAILGUN_API_KEY", domain ? undefined : "MAILGUN_DOMAIN"].filter(Boolean);
    if (!apiKey || !domain) return { skip: `${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} not set` };
    return mailgunProvider({ apiKey, domain, baseUrl });
  },
  smtp: smtpProviderFromEnv,
};

/** The names in `EMAIL_PROVIDERS`, in order, without repeats; default `["cloudflare"]`. */
export function providerNamesFromEnv(env: Env): ProviderName[] {
  const raw = emailSetting(env, "EMAIL_PROVIDERS") ?? "cloudflare";
  const names = raw
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const unknown = names.filter((n) => !(PROVIDER_NAMES as readonly string[]).includes(n));
  if (unknown.length > 0) {
    throw new EmailConfigError(
      `EMAIL_PROVIDERS: unknown provider${unknown.length > 1 ? "s" : ""} ${unknown.map((n) => `"${n}"`).join(", ")} (known: ${PROVIDER_NAMES.join(", ")})`,
    );
  }
  return [...new Set(names as ProviderName[])];
}

/**
 * The providers of `EMAIL_PROVIDERS`, in failover order. A provider that cannot be built from
 * this env is an {@link UnconfiguredProvider} carrying the reason.
 *
 * `extraFactories` replace or add factories (tests, or a provider built elsewhere); a name with
 * no factory at all is listed as unconfigured.
 */
export function providersFromEnv(env: Env, extraFactories: Partial<Record<ProviderName, ProviderFactory>> = {}): EmailProvider[] {
  return providersNamed(env, providerNamesFromEnv(env), extraFactories);
}

/** The named providers, built from this env (see {@link providersFromEnv}). */
export function providersNamed(
  env: Env,
  names: readonly ProviderName[],
  extraFactories: Partial<Record<ProviderName, ProviderFactory>> = {},
): EmailProvider[] {
  const factories = { ...BUILTIN_PROVIDER_FACTORIES, ...extraFactories };
  return names.map((name) => {
    const factory = factories[name];
    if (!factory) return new UnconfiguredProvider(name, `no ${name} provider is registered in this build`);
    const built = factory(env);
    return "skip" in built ? new UnconfiguredProvider(name, built.skip) : built;
  });
}

function failureOf(err: unknown): { error: string; status?: number } {
  if (err instanceof ProviderError) return { error: err.message, ...(err.status !== undefined ? { status: err.status } : {}) };
  return { error: err instanceof Error ? err.message : String(err) };
}

/**
 * Tries each provider in turn until one sends. Resolves with the first success and every attempt;
 * throws {@link EmailDeliveryError} with all attempts when none did. A caller's abort stops the
 * round (the remaining providers are not tried).
 */
export async function sendWithFailover(
  providers: readonly EmailProvider[],
  message: OutgoingEmail,
  signal?: AbortSignal,
): Promise<{ result: SendResult; attempts: Attempt[] }> {
  const attempts: Attempt[] = [];
  for (const provider of providers) {
    if (signal?.aborted) throw new EmailDeliveryError(attempts, "aborted by the caller");
    if (provider instanceof UnconfiguredProvider) {
      attempts.push({ provider: provider.name, ok: false, skipped: true, error: `not configured: ${provider.reason}`, duration_ms: 0 });
      continue;
    }
    const started = Date.now();
    try {
      const result = await provider.send(message, signal);
      attempts.push({ provider: provider.name, ok: true, duration_ms: Date.now() - started });
      return { result, attempts };
    } catch (err) {
      attempts.push({ provider: provider.name, ok: false, ...failureOf(err), duration_ms: Date.now() - started });
    }
  }
  throw new EmailDeliveryError(attempts, signal?.aborted ? "aborted by the caller" : undefined);
}
