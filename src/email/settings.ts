/**
 * The email settings in vars and secrets. The vars (`EMAIL_PROVIDERS`, `EMAIL_FROM`,
 * `EMAIL_FROM_NAME`, `SENDGRID_BASE_URL`, `MAILGUN_BASE_URL`, `MAILGUN_DOMAIN`) are declared in
 * wrangler.toml; the API keys are optional secrets (`wrangler secret put SENDGRID_API_KEY`,
 * `… MAILGUN_API_KEY`) and therefore absent from the generated `Env`: they are read here. Empty
 * strings mean "not configured".
 */
import { optionalSetting } from "../lib/config";
import type { Address } from "./types";

/** An email setting is malformed, or names a provider we do not know. */
export class EmailConfigError extends Error {
  constructor(message: string) {
    super(`Invalid configuration: ${message}`);
    this.name = "EmailConfigError";
  }
}

/** Secrets (and vars) a deployment may leave out; `Env` only types the declared ones. */
export type OptionalEmailSetting =
  | "EMAIL_PROVIDERS"
  | "EMAIL_FROM"
  | "EMAIL_FROM_NAME"
  | "SENDGRID_API_KEY"
  | "SENDGRID_BASE_URL"
  | "MAILGUN_API_KEY"
  | "MAILGUN_BASE_URL"
  | "MAILGUN_DOMAIN"
  | "SENDGRID_WEBHOOK_PUBLIC_KEY"
  | "MAILGUN_WEBHOOK_SIGNING_KEY";

/** A trimmed, non-empty string setting, or undefined. */
export function emailSetting(env: Env, name: OptionalEmailSetting): string | undefined {
  return optionalSetting(env, name);
}

/** The default sender (`EMAIL_FROM`, `EMAIL_FROM_NAME`); must be an address the sending provider accepts. */
export function defaultSender(env: Env): Address {
  const email = emailSetting(env, "EMAIL_FROM") ?? "agent@localhost";
  const name = emailSetting(env, "EMAIL_FROM_NAME");
  return name ? { email, name } : { email };
}
