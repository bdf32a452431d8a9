/** Where in the SMTP conversation a send failed. */
export type SmtpStage = "config" | "connect" | "greeting" | "ehlo" | "starttls" | "auth" | "mail-from" | "rcpt-to" | "data" | "data-end";

/**
 * A failed SMTP send. `code` is the server's reply code when there was one. `transient` says
 * whether trying again (later, or through another provider) could succeed: 4xx replies, timeouts
 * and connection failures are transient; 5xx replies and configuration errors (including a server
 * that does not offer the STARTTLS we require) are not.
 */
export class SmtpError extends Error {
  readonly stage: SmtpStage;
  readonly code?: number;
  readonly transient: boolean;

  constructor(stage: SmtpStage, message: string, options: { code?: number; transient?: boolean; cause?: unknown } = {}) {
    super(`${stage}: ${options.code !== undefined ? `${options.code} ` : ""}${message}`, { cause: options.cause });
    this.name = "SmtpError";
    this.stage = stage;
    this.code = options.code;
    this.transient = options.transient ?? (options.code === undefined || (options.code >= 400 && options.code < 500));
  }
}
