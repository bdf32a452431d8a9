/** Helpers for the SMTP tests: the fixtures from test/global-setup/smtp.ts and its inbox. */
import { inject } from "vitest";
import type { AuthAttempt, LoggedServer, ReceivedMessage } from "../global-setup/smtp-context";

export const smtp = inject("smtp");

/** A unique EHLO name: each test finds its own messages and AUTH attempts by it. */
export function uniqueHelo(): string {
  return `t-${crypto.randomUUID().slice(0, 8)}.test`;
}

export async function received(server: LoggedServer, helo: string): Promise<ReceivedMessage[]> {
  const res = await fetch(`http://127.0.0.1:${smtp.inbox}/${server}/messages?helo=${encodeURIComponent(helo)}`);
  if (!res.ok) throw new Error(`inbox: ${res.status}`);
  return res.json();
}

export async function authAttempts(server: LoggedServer, helo: string): Promise<AuthAttempt[]> {
  const res = await fetch(`http://127.0.0.1:${smtp.inbox}/${server}/auth?helo=${encodeURIComponent(helo)}`);
  if (!res.ok) throw new Error(`inbox: ${res.status}`);
  return res.json();
}

/** The STARTTLS / implicit TLS tests fail (not skip) with the reason when the CA is not trusted. */
export function requireTestCa(): void {
  if (!smtp.tlsTrusted) throw new Error(smtp.tlsProblem ?? "NODE_EXTRA_CA_CERTS is missing");
}

/** The rejection of `promise`, which must reject; with the time it took. */
export async function rejection(promise: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = Date.now();
  try {
    await promise;
  } catch (error) {
    return { error, ms: Date.now() - started };
  }
  throw new Error("expected a rejection");
}
