/**
 * Task metadata is not a secret store, yet an http_request task needs its `Authorization` header
 * at run time. So metadata is stored as given, and every read of a task (GET, list, the answers
 * of progress/complete/cancel, SSE events, the approval of a gated task and its mail) goes through
 * `readRedacted`: in any object named `headers` (any letter case, at any depth, in metadata and
 * in a result), the value of a credential-bearing header becomes "[redacted]".
 *
 * Credential-bearing: a name (case-insensitive) that is one of SECRET_HEADERS, or that contains
 * one of SECRET_NAME_PARTS (`X-Auth-Token`, `X-Upstream-Secret`, `X-Session-Id`…). A `headers`
 * value may be an object (`{"Authorization": "…"}`) or a list of `[name, value]` pairs.
 */

export const REDACTED = "[redacted]";

/** Headers that carry a credential by definition. */
export const SECRET_HEADERS = ["authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"] as const;

/** Name fragments that mark a header as carrying a credential in practice. */
export const SECRET_NAME_PARTS = [
  "auth",
  "token",
  "secret",
  "password",
  "passwd",
  "api-key",
  "api_key",
  "apikey",
  "cookie",
  "session",
  "signature",
  "credential",
] as const;

export function isSecretHeader(name: string): boolean {
  const lower = name.trim().toLowerCase();
  return (SECRET_HEADERS as readonly string[]).includes(lower) || SECRET_NAME_PARTS.some((part) => lower.includes(part));
}

/**
 * Parses stored JSON (metadata or a result) and redacts it. The text was written by
 * JSON.stringify, which never escapes a letter, so a text without `"headers"` has nothing to
 * redact and is returned as parsed without a walk.
 */
export function readRedacted(json: string): unknown {
  const value: unknown = JSON.parse(json);
  return /"headers"/i.test(json) ? redactHeadersInPlace(value) : value;
}

/**
 * Redacts a value the caller owns (a fresh parse), in place. Iterative: stored JSON may be
 * nested deeper than the call stack allows.
 */
export function redactHeadersInPlace<T>(value: T): T {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const node = pending.pop();
    if (typeof node !== "object" || node === null) continue;
    if (Array.isArray(node)) {
      for (const item of node) pending.push(item);
      continue;
    }
    const record = node as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const child = record[key];
      if (key.toLowerCase() === "headers") redactHeaderSet(child);
      pending.push(child);
    }
  }
  return value;
}

function redactHeaderSet(headers: unknown): void {
  if (typeof headers !== "object" || headers === null) return;
  if (Array.isArray(headers)) {
    for (const pair of headers) {
      if (Array.isArray(pair) && pair.length >= 2 && typeof pair[0] === "string" && isSecretHeader(pair[0])) pair[1] = REDACTED;
    }
    return;
  }
  const record = headers as Record<string, unknown>;
  for (const name of Object.keys(record)) if (isSecretHeader(name)) record[name] = REDACTED;
}
