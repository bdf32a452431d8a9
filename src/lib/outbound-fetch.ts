/**
 * fetch for user-supplied URLs: the first URL and every redirect hop go through the outbound
 * policy before anything is sent. Redirects are followed by hand (`redirect: "manual"`), as the
 * fetch standard would follow them: 303 (and 301/302 after a POST) become a GET without a body,
 * 307/308 repeat the method and body, and credentials headers are dropped when the origin changes.
 */
import { describeRefusal, outboundRefusal, type OutboundPolicy, type OutboundRefusal } from "./outbound-policy";

/** Redirects followed before giving up (browsers allow 20; a webhook or API needs one or two). */
export const MAX_REDIRECTS = 5;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Sent only to the origin they were meant for. */
const CREDENTIAL_HEADERS = ["authorization", "cookie", "proxy-authorization"];
/** Describe a body that a redirect to GET no longer has. */
const BODY_HEADERS = ["content-type", "content-length", "content-encoding", "content-language", "content-location"];

/** The policy refused a URL: the first one (`hop` 0) or the target of redirect number `hop`. */
export class OutboundRefused extends Error {
  readonly refusal: OutboundRefusal;
  readonly hop: number;
  /** Origin only: a path or query may carry tokens. */
  readonly origin: string;

  constructor(refusal: OutboundRefusal, hop: number, origin: string) {
    super(hop === 0 ? `${origin} is ${describeRefusal(refusal)}` : `redirect ${hop} to ${origin} is ${describeRefusal(refusal)}`);
    this.name = "OutboundRefused";
    this.refusal = refusal;
    this.hop = hop;
    this.origin = origin;
  }
}

export class TooManyRedirects extends Error {
  constructor(limit: number) {
    super(`more than ${limit} redirects`);
    this.name = "TooManyRedirects";
  }
}

export interface PolicedInit {
  method?: string;
  headers?: HeadersInit;
  /** A string, so that a 307/308 can send it again. */
  body?: string;
  signal?: AbortSignal;
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(an invalid URL)";
  }
}

/**
 * Fetches `url` under `policy`, following at most `maxRedirects` redirects. Throws
 * OutboundRefused before sending to a refused URL and TooManyRedirects past the limit; a
 * redirect without a Location header is returned as the response.
 */
export async function policedFetch(
  url: string,
  init: PolicedInit,
  policy: OutboundPolicy,
  maxRedirects = MAX_REDIRECTS,
): Promise<Response> {
  let current = url;
  let method = (init.method ?? "GET").toUpperCase();
  let body = init.body;
  const headers = new Headers(init.headers);
  for (let hop = 0; ; hop++) {
    const refusal = outboundRefusal(current, policy);
    if (refusal) throw new OutboundRefused(refusal, hop, originOf(current));
    // The canonical spelling: what was checked is what is fetched.
    const target = new URL(current);
    const response = await fetch(target.href, { method, headers, body, signal: init.signal, redirect: "manual" });
    const location = response.headers.get("location");
    if (!REDIRECTS.has(response.status) || location === null) return response;
    await response.body?.cancel().catch(() => {});
    if (hop >= maxRedirects) throw new TooManyRedirects(maxRedirects);
    let next: URL;
    try {
      next = new URL(location, target);
    } catch {
      throw new OutboundRefused({ rule: "invalid_url", detail: "the Location header is not a URL" }, hop + 1, target.origin);
    }
    if (response.status === 303 ? method !== "HEAD" : (response.status === 301 || response.status === 302) && method === "POST") {
      method = "GET";
      body = undefined;
      for (const name of BODY_HEADERS) headers.delete(name);
    }
    if (next.origin !== target.origin) for (const name of CREDENTIAL_HEADERS) headers.delete(name);
    current = next.href;
  }
}
