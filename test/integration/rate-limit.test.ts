/**
 * Requests are rate limited per principal (docs/security.md); 429 problem+json with `Retry-After`.
 * Runs in the `workers-ratelimit` project, where RATE_LIMITER allows TEST_RATE_LIMIT requests
 * per 60 s window. The binding's windows are aligned to the wall clock (local simulation and
 * Cloudflare alike), so each test starts well inside a window to stay deterministic.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ADMIN_KEY, call, mintToken, problem } from "../helpers/api";
import { callWithEnv, statePath, storedVersion } from "../helpers/auth";

const LIMIT = env.TEST_RATE_LIMIT!;
const WINDOW_MS = 60_000;
const NO_LIMIT = { RATE_LIMIT: "off" };

/** Waits for the next window when too little of the current one is left for a test. */
async function freshWindow(neededMs = 10_000): Promise<void> {
  const left = WINDOW_MS - (Date.now() % WINDOW_MS);
  if (left < neededMs) await new Promise((resolve) => setTimeout(resolve, left + 250));
}

const unique = (name: string) => `${name}-${crypto.randomUUID().slice(0, 8)}`;

/** Seeds state without spending any principal's budget. */
async function seed(agentId: string): Promise<void> {
  const res = await callWithEnv(NO_LIMIT, statePath(agentId), {
    token: await mintToken({ role: "super_admin" }),
    body: { state_data: { v: 1 } },
  });
  expect(res.status).toBe(200);
}

async function expect429(res: Response) {
  const doc = await problem(res, 429);
  expect(doc.code).toBe("rate_limited");
  const retryAfter = Number(res.headers.get("retry-after"));
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(60);
  return doc;
}

describe("per-principal rate limit", { timeout: 30_000 }, () => {
  it("the test project really runs with a small limit", () => {
    expect(LIMIT).toBeGreaterThan(0);
    expect(LIMIT).toBeLessThan(20);
  });

  it("allows the limit, then answers 429 with Retry-After and changes nothing", async () => {
    const agent = unique("rl-one");
    await seed(agent);
    await freshWindow();
    const token = await mintToken({ sub: unique("busy"), role: "user" });
    for (let i = 0; i < LIMIT; i++) expect((await call(statePath(agent), { token })).status).toBe(200);
    await expect429(await call(statePath(agent), { token, body: { state_data: { v: 2 } } }));
    await expect429(await call(statePath(agent), { token }));
    expect(await storedVersion(agent)).toBe(1);
  });

  it("other principals are not affected by one principal's limit", async () => {
    const agent = unique("rl-others");
    await seed(agent);
    await freshWindow();
    const busy = await mintToken({ sub: unique("busy"), role: "user" });
    for (let i = 0; i < LIMIT; i++) await call(statePath(agent), { token: busy });
    await expect429(await call(statePath(agent), { token: busy }));

    const calm = await mintToken({ sub: unique("calm"), role: "user" });
    const saved = await call(statePath(agent), { token: calm, body: { state_data: { v: 2 } } });
    expect(saved.status).toBe(200);
    expect(await storedVersion(agent)).toBe(2);
  });

  it("a JWT whose sub is `admin` does not drain the ADMIN_API_KEY's budget", async () => {
    const agent = unique("rl-admin");
    await seed(agent);
    await freshWindow();
    const impostor = await mintToken({ sub: "admin", role: "guest" });
    for (let i = 0; i < LIMIT; i++) await call(statePath(agent), { token: impostor });
    await expect429(await call(statePath(agent), { token: impostor }));
    expect((await call(statePath(agent), { token: null, headers: { "X-API-Key": ADMIN_KEY } })).status).toBe(200);
  });

  it("anonymous requests are limited per client address", async () => {
    await freshWindow();
    const ip = "203.0.113.7";
    for (let i = 0; i < LIMIT; i++) {
      await problem(await call(statePath("rl-anon"), { token: null, headers: { "cf-connecting-ip": ip } }), 401);
    }
    await expect429(await call(statePath("rl-anon"), { token: null, headers: { "cf-connecting-ip": ip } }));
    await problem(await call(statePath("rl-anon"), { token: null, headers: { "cf-connecting-ip": "203.0.113.8" } }), 401);
  });

  it("refused credentials count against the client address, so guessing is limited too", async () => {
    const agent = unique("rl-guess");
    await seed(agent);
    await freshWindow();
    const ip = "198.51.100.23";
    for (let i = 0; i < LIMIT; i++) {
      await problem(await call(statePath(agent), { token: `dmsa_guess${i}`, headers: { "cf-connecting-ip": ip } }), 401);
    }
    await expect429(await call(statePath(agent), { token: "dmsa_guess-more", headers: { "cf-connecting-ip": ip } }));
    // A valid credential from the same address has its own budget.
    const token = await mintToken({ sub: unique("honest"), role: "guest" });
    expect((await call(statePath(agent), { token, headers: { "cf-connecting-ip": ip } })).status).toBe(200);
  });

  it("public routes outside /api are not limited", async () => {
    await freshWindow();
    for (let i = 0; i < LIMIT + 2; i++) {
      expect((await call("/health", { token: null, headers: { "cf-connecting-ip": "192.0.2.99" } })).status).toBe(200);
    }
  });

  it.each(["off", "0", "false"])("RATE_LIMIT=%s disables the limit", async (value) => {
    const agent = unique("rl-off");
    await seed(agent);
    await freshWindow();
    const token = await mintToken({ sub: unique("unlimited"), role: "user" });
    for (let i = 0; i < LIMIT + 3; i++) {
      expect((await callWithEnv({ RATE_LIMIT: value }, statePath(agent), { token })).status).toBe(200);
    }
    // The same principal under the default configuration is limited again.
    for (let i = 0; i < LIMIT; i++) await call(statePath(agent), { token });
    await expect429(await call(statePath(agent), { token }));
  });
});
