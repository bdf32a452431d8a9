/**
 * http_request: calls `metadata.url` and records what came back.
 *
 * Input: { url (http/https only), method? (default GET), headers? (string values),
 * body? (a string is sent as is; any other JSON value is sent as JSON with
 * content-type application/json unless the headers set one), timeout_seconds? (per attempt,
 * redirects included; default 30, at most 300), max_body_bytes? (excerpt limit, default 4096, at most 65536) }.
 * Invalid input, or a body with GET/HEAD, is a NonRetryableError.
 *
 * The URL and every redirect hop go through the outbound policy (src/lib/outbound-policy.ts):
 * task creation refuses a URL the policy refuses (checkHttpRequestTarget), and the handler checks
 * again at run time (the allow-list may have changed) and on every hop, at most MAX_REDIRECTS of
 * them, before sending anything there. A refusal or too many redirects is a NonRetryableError.
 *
 * Outcomes:
 * - 1xx–4xx (and a 3xx without a Location): the task completes with the status recorded. A 4xx means the request itself is
 *   wrong (or forbidden, or the thing is gone); sending it again would get the same answer, so
 *   it is a result for the caller to read, not a failure to retry.
 * - 5xx, a network error or the per-request timeout: a plain Error, so the consumer retries
 *   with backoff up to max_attempts (the server or the path to it may recover).
 * - ctx.signal aborted (task cancelled or timed out): TaskCancelled when cancelled, else a plain
 *   Error (see abortedError).
 *
 * The body excerpt is read from the stream and the stream cancelled once the limit is reached,
 * so a large response is never buffered whole. It is decoded as UTF-8 with a multi-byte
 * character cut at the limit dropped, so the excerpt is at most max_body_bytes bytes.
 *
 * Result: { url, method, status, ok, headers: { "content-type"?, "content-length"? },
 * body_excerpt, truncated, duration_ms }.
 */
import { env } from "cloudflare:workers";
import { z } from "zod";
import { MAX_REDIRECTS, OutboundRefused, policedFetch, TooManyRedirects } from "../../lib/outbound-fetch";
import { describeRefusal, outboundRefusal, policyFrom } from "../../lib/outbound-policy";
import type { FieldError } from "../../lib/problem";
import { NonRetryableError, type TaskContext, type TaskHandler } from "../handler";
import { abortedError, parseMetadata } from "./common";

const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;
const RECORDED_HEADERS = ["content-type", "content-length"] as const;
/** How much of a 5xx body goes into the error message, to help whoever reads the failure. */
const ERROR_EXCERPT_CHARS = 200;

/** The handler's input (task metadata): what it parses at run time and task creation checks. */
export const HttpRequestInput = z
  .object({
    url: z
      .string({ error: "is required: an http or https URL" })
      .refine((u) => URL.canParse(u) && ["http:", "https:"].includes(new URL(u).protocol), "must be an absolute http or https URL")
      .describe(
        "The URL to call. Subject to the outbound policy, at creation and on every redirect: no credentials in the URL, no loopback, private, " +
          `link-local or other non-public address or local-only name unless allow-listed (OUTBOUND_ALLOW_HOSTS); at most ${MAX_REDIRECTS} redirects.`,
      ),
    method: z
      .string({ error: "must be a string" })
      .transform((m) => m.toUpperCase())
      .pipe(z.enum(METHODS, { error: `must be one of ${METHODS.join(", ")}` }))
      .default("GET"),
    headers: z.record(z.string(), z.string({ error: "header values must be strings" })).optional(),
    body: z.unknown().optional(),
    timeout_seconds: z.number().positive().max(300).default(30),
    max_body_bytes: z.number().int().min(0).max(65_536).default(4096),
  })
  .refine((m) => m.body === undefined || (m.method !== "GET" && m.method !== "HEAD"), {
    path: ["body"],
    message: "is not allowed with GET or HEAD",
  });

export type HttpRequestInput = z.output<typeof HttpRequestInput>;

/** Task creation's check of the target against this deployment's outbound policy. */
export function checkHttpRequestTarget(input: Pick<HttpRequestInput, "url">, env: Env): FieldError[] {
  const refusal = outboundRefusal(input.url, policyFrom(env));
  return refusal ? [{ path: "metadata.url", message: describeRefusal(refusal) }] : [];
}

export interface HttpRequestResult {
  url: string;
  method: string;
  status: number;
  ok: boolean;
  headers: Partial<Record<(typeof RECORDED_HEADERS)[number], string>>;
  body_excerpt: string;
  truncated: boolean;
  duration_ms: number;
}

/** At most `limit` bytes of the body as text, reading only as much of the stream as that needs. */
export async function readExcerpt(body: ReadableStream<Uint8Array> | null, limit: number): Promise<{ text: string; truncated: boolean }> {
  if (body === null) return { text: "", truncated: false };
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let done = false;
  // Read one byte past the limit (in practice, one chunk) to know whether anything was left out.
  while (!done && size <= limit) {
    const next = await reader.read();
    if (next.done) done = true;
    else {
      chunks.push(next.value);
      size += next.value.byteLength;
    }
  }
  if (!done) await reader.cancel().catch(() => {});
  const bytes = new Uint8Array(Math.min(size, limit));
  let offset = 0;
  for (const chunk of chunks) {
    if (offset >= bytes.length) break;
    const part = chunk.subarray(0, bytes.length - offset);
    bytes.set(part, offset);
    offset += part.byteLength;
  }
  // stream: true holds back a character cut in half at the limit instead of emitting U+FFFD.
  const text = new TextDecoder().decode(bytes, { stream: size > limit });
  return { text, truncated: size > limit };
}

function requestInit(input: HttpRequestInput): { method: string; headers: Headers; body?: string } {
  const headers = new Headers(input.headers);
  let body: string | undefined;
  if (typeof input.body === "string") body = input.body;
  else if (input.body !== undefined) {
    body = JSON.stringify(input.body);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
  }
  return { method: input.method, headers, body };
}

export const httpRequest: TaskHandler = async (ctx: TaskContext): Promise<HttpRequestResult> => {
  const input = parseMetadata(HttpRequestInput, ctx.metadata, "http_request");
  // Messages name the origin only: a path or query string may carry tokens.
  const target = `${input.method} ${new URL(input.url).origin}`;
  // Already cancelled or timed out (e.g. while queued): do not send a request nobody will read.
  if (ctx.signal.aborted) throw await abortedError(ctx, target);
  const timeout = AbortSignal.timeout(input.timeout_seconds * 1000);
  const signal = AbortSignal.any([ctx.signal, timeout]);
  const started = Date.now();

  let response: Response;
  let excerpt: { text: string; truncated: boolean };
  try {
    response = await policedFetch(input.url, { ...requestInit(input), signal }, policyFrom(env));
    excerpt = await readExcerpt(response.body, input.max_body_bytes);
  } catch (error) {
    if (ctx.signal.aborted) throw await abortedError(ctx, target);
    // The same URL (or redirect) would be refused again: fail now instead of retrying.
    if (error instanceof OutboundRefused) {
      throw new NonRetryableError(error.hop === 0 ? `${input.method} ${error.message}` : `${target}: ${error.message}`);
    }
    if (error instanceof TooManyRedirects) throw new NonRetryableError(`${target}: ${error.message}`);
    if (timeout.aborted) throw new Error(`${target} timed out after ${input.timeout_seconds} s`);
    // A network failure: retryable, the next attempt may get through.
    throw new Error(`${target} failed: ${error instanceof Error ? error.message : String(error)}`);
  }

  if (response.status >= 500) {
    throw new Error(`${target} answered ${response.status}: ${excerpt.text.slice(0, ERROR_EXCERPT_CHARS)}`);
  }
  const headers: HttpRequestResult["headers"] = {};
  for (const name of RECORDED_HEADERS) {
    const value = response.headers.get(name);
    if (value !== null) headers[name] = value;
  }
  return {
    url: input.url,
    method: input.method,
    status: response.status,
    ok: response.ok,
    headers,
    body_excerpt: excerpt.text,
    truncated: excerpt.truncated,
    duration_ms: Date.now() - started,
  };
};
