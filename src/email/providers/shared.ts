/**
 * What the providers share: the deadline on every call (their own timeout combined with the
 * caller's signal), RFC 5322 display-name formatting, and the mapping of fetch failures and HTTP
 * statuses to `ProviderError`.
 */
import { ProviderError, type Address, type ProviderName } from "../types";

/** Every provider gives up after this long unless told otherwise (`timeoutMs`). */
export const DEFAULT_TIMEOUT_MS = 10_000;

/** What the HTTP providers accept besides their credentials. */
export interface HttpProviderOptions {
  /** Injectable for tests; defaults to the global `fetch` (looked up at call time). */
  fetch?: typeof fetch;
  /** Per-send deadline, default {@link DEFAULT_TIMEOUT_MS}. */
  timeoutMs?: number;
}

/** The provider's own deadline combined with the caller's signal, whichever fires first. */
export function deadline(timeoutMs: number, signal?: AbortSignal): AbortSignal {
  const timeout = AbortSignal.timeout(timeoutMs);
  return signal ? AbortSignal.any([timeout, signal]) : timeout;
}

/** `"Name" <email>` (name quoted and escaped as RFC 5322 requires), or the bare address. */
export function formatAddress(address: Address): string {
  if (!address.name) return address.email;
  return `"${address.name.replace(/[\r\n]+/g, " ").replace(/(["\\])/g, "\\$1")}" <${address.email}>`;
}

/** A fetch (or binding call) that never answered: timeout, caller abort, DNS, reset. Always transient. */
export function networkError(provider: ProviderName, err: unknown, timeoutMs: number): ProviderError {
  const name = err instanceof Error ? err.name : "";
  if (name === "TimeoutError") return new ProviderError(provider, `no answer within ${timeoutMs} ms`, { transient: true, cause: err });
  if (name === "AbortError") return new ProviderError(provider, "send aborted by the caller", { transient: true, cause: err });
  const message = err instanceof Error ? err.message : String(err);
  return new ProviderError(provider, `request failed: ${message}`, { transient: true, cause: err });
}

/**
 * POSTs to a provider's API under its deadline; a request that never got an answer becomes a
 * transient ProviderError. HTTP error statuses are left to the provider, which knows its error body.
 */
export async function providerPost(
  provider: ProviderName,
  options: { fetch?: typeof fetch; timeoutMs?: number },
  url: string,
  init: { headers: Record<string, string>; body: BodyInit },
  signal?: AbortSignal,
): Promise<Response> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  try {
    return await (options.fetch ?? globalThis.fetch)(url, { method: "POST", ...init, signal: deadline(timeoutMs, signal) });
  } catch (err) {
    throw networkError(provider, err, timeoutMs);
  }
}

/** 429 and 5xx are worth another try (or another provider); any other 4xx will fail the same way again. */
export function isTransientStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

/** The response body as text, cut to a length that fits a log line and an attempt record. */
export async function readBody(res: Response): Promise<string> {
  try {
    const text = await res.text();
    return text.length > 500 ? `${text.slice(0, 500)}…` : text;
  } catch {
    return "";
  }
}

/** `fn` with its deadline: rejects with the signal's reason as soon as `signal` aborts. */
export function withDeadline<T>(signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    fn().then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
