/**
 * Outgoing mail behind one interface. Providers: `cloudflare` (the send_email
 * binding), `sendgrid` and `mailgun` (HTTP APIs), `smtp` (our client over cloudflare:sockets).
 * `EMAIL_PROVIDERS` lists them in failover order.
 */

export const PROVIDER_NAMES = ["cloudflare", "sendgrid", "mailgun", "smtp"] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

export interface Address {
  email: string;
  name?: string;
}

export interface OutgoingEmail {
  from: Address;
  to: string[];
  subject: string;
  text: string;
  html?: string;
  replyTo?: string;
  /** Extra headers (e.g. `In-Reply-To`, `References`, `X-Request-Id`); never From/To/Subject. */
  headers?: Record<string, string>;
}

export interface SendResult {
  provider: ProviderName;
  /** The id the provider gives the message (SendGrid `X-Message-Id`, Mailgun `id`, …). */
  providerMessageId: string;
  /** The RFC 5322 Message-ID the message went out with, when known (for reply threading). */
  messageId?: string;
}

export interface EmailProvider {
  readonly name: ProviderName;
  send(message: OutgoingEmail, signal?: AbortSignal): Promise<SendResult>;
}

/** A failed send. `transient` failures (timeouts, 5xx, 429) are worth trying on the next provider. */
export class ProviderError extends Error {
  readonly provider: ProviderName;
  readonly transient: boolean;
  readonly status?: number;

  constructor(provider: ProviderName, message: string, options: { transient: boolean; status?: number; cause?: unknown }) {
    super(`${provider}: ${message}`, { cause: options.cause });
    this.name = "ProviderError";
    this.provider = provider;
    this.transient = options.transient;
    this.status = options.status;
  }
}
