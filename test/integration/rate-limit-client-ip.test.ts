/**
 * The anonymous rate-limit bucket is keyed by the client address only from the header named by
 * CLIENT_IP_HEADER (wrangler.toml: CF-Connecting-IP, which only Cloudflare's edge can set). With
 * no header trusted, forged addresses do not buy fresh buckets: every anonymous caller shares one.
 * Runs in the `workers-ratelimit` project (TEST_RATE_LIMIT requests per 60 s window).
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { clientAddress } from "../../src/auth/rate-limit";
import { problem } from "../helpers/api";
import { callWithEnv, statePath } from "../helpers/auth";

const LIMIT = env.TEST_RATE_LIMIT!;
const WINDOW_MS = 60_000;

/** Waits for the next window when too little of the current one is left for a test. */
async function freshWindow(neededMs = 10_000): Promise<void> {
  const left = WINDOW_MS - (Date.now() % WINDOW_MS);
  if (left < neededMs) await new Promise((resolve) => setTimeout(resolve, left + 250));
}

/** A documentation-range address (RFC 5737) of its own for each call, so no two tests share one. */
let next = 1;
const address = () => `198.51.100.${next++}`;

/** An anonymous request (401) under `vars`, with `headers`; the status (401 or 429). */
async function anonymous(vars: Record<string, string>, headers: Record<string, string>): Promise<number> {
  const res = await callWithEnv(vars, statePath("rl-client-ip"), { headers });
  await res.body?.cancel();
  return res.status;
}

describe("the client address the rate limiter trusts", { timeout: 30_000 }, () => {
  it("no header trusted (CLIENT_IP_HEADER empty): forged CF-Connecting-IP addresses share one bucket", async () => {
    await freshWindow();
    const untrusted = { CLIENT_IP_HEADER: "" };
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT + 1; i++)
      statuses.push(await anonymous(untrusted, { "CF-Connecting-IP": address(), "X-Forwarded-For": address() }));
    expect(statuses.slice(0, LIMIT)).toEqual(Array(LIMIT).fill(401));
    expect(statuses[LIMIT]).toBe(429);
    const last = await callWithEnv(untrusted, statePath("rl-client-ip"), { headers: { "CF-Connecting-IP": address() } });
    await problem(last, 429);
    expect(last.headers.get("retry-after")).toBeTruthy();
  });

  it("the named proxy header is trusted, CF-Connecting-IP then is not", async () => {
    await freshWindow();
    const proxied = { CLIENT_IP_HEADER: "X-Real-IP" };
    const client = address();
    for (let i = 0; i < LIMIT; i++) expect(await anonymous(proxied, { "X-Real-IP": client, "CF-Connecting-IP": address() })).toBe(401);
    expect(await anonymous(proxied, { "X-Real-IP": client, "CF-Connecting-IP": address() })).toBe(429);
    // Another client behind the same proxy has its own bucket.
    expect(await anonymous(proxied, { "X-Real-IP": address() })).toBe(401);
  });

  it("with X-Forwarded-For, the last entry (added by the proxy) counts, not what the client put before it", async () => {
    await freshWindow();
    const forwarded = { CLIENT_IP_HEADER: "X-Forwarded-For" };
    const client = address();
    for (let i = 0; i < LIMIT; i++) expect(await anonymous(forwarded, { "X-Forwarded-For": `${address()}, ${client}` })).toBe(401);
    expect(await anonymous(forwarded, { "X-Forwarded-For": `${address()}, ${client}` })).toBe(429);
  });
});

describe("clientAddress", () => {
  it("reads only the named header, the last entry of a list, trimmed and bounded", () => {
    const h = new Headers({ "CF-Connecting-IP": "203.0.113.1", "X-Forwarded-For": "10.0.0.1 , 203.0.113.9 " });
    expect(clientAddress("CF-Connecting-IP", h)).toBe("203.0.113.1");
    expect(clientAddress("X-Forwarded-For", h)).toBe("203.0.113.9");
    expect(clientAddress(undefined, h)).toBeUndefined();
    expect(clientAddress("X-Real-IP", h)).toBeUndefined();
    expect(clientAddress("X-Forwarded-For", new Headers({ "X-Forwarded-For": "1.2.3.4," }))).toBeUndefined();
    expect(clientAddress("X-Real-IP", new Headers({ "X-Real-IP": "x".repeat(500) }))!.length).toBe(64);
  });
});
