/**
 * ES256/RS256 JWTs verified against the JWKS at JWT_JWKS_URL, and the JWT_ISSUER /
 * JWT_AUDIENCE checks. The JWKS endpoint is faked at the fetch boundary; the Worker runs with a
 * modified env (a fresh env object gets a freshly parsed configuration).
 */
import { exportJWK, generateKeyPair, type CryptoKey, type JWK } from "jose";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { call, json, mintToken, problem } from "../helpers/api";
import { callWithEnv, claims, nowSeconds, seedState, signJwt, statePath, storedVersion } from "../helpers/auth";

const JWKS_URL = "https://issuer.test/.well-known/jwks.json";
const DOWN_URL = "https://down.issuer.test/jwks.json";
const BROKEN_URL = "https://broken.issuer.test/jwks.json";
const UNREACHABLE_URL = "https://unreachable.issuer.test/jwks.json";
const WITH_JWKS = { JWT_JWKS_URL: JWKS_URL };

let es: { privateKey: CryptoKey; publicJwk: JWK };
let rs: { privateKey: CryptoKey; publicJwk: JWK };
let fetched: string[] = [];

async function keyPair(alg: "ES256" | "RS256", kid: string) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
}

beforeAll(async () => {
  es = await keyPair("ES256", "es-1");
  rs = await keyPair("RS256", "rs-1");
});

beforeEach(() => {
  fetched = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const url = new Request(input, init).url;
    fetched.push(url);
    // Responses are built inside the implementation (a shared Response cannot cross requests).
    if (url === JWKS_URL) return Response.json({ keys: [es.publicJwk, rs.publicJwk] });
    if (url === DOWN_URL) return new Response("upstream error", { status: 502 });
    if (url === BROKEN_URL) return new Response("<html>not json</html>", { status: 200, headers: { "content-type": "text/html" } });
    throw new TypeError(`network unreachable: ${url}`);
  });
});

afterEach(() => {
  vi.restoreAllMocks();
});

async function expect401(res: Response) {
  const doc = await problem(res, 401);
  expect(res.headers.get("www-authenticate")).toMatch(/^Bearer realm="[^"]+", error="invalid_token"/);
  return doc;
}

const es256 = (payload = claims(), kid = "es-1", key?: CryptoKey) => signJwt(payload, { alg: "ES256", kid, key: key ?? es.privateKey });

describe("ES256/RS256 through JWT_JWKS_URL", () => {
  it("an ES256 token whose kid is in the set can write and read", async () => {
    const token = await es256(claims({ sub: "es-user", role: "user" }));
    const saved = await callWithEnv(WITH_JWKS, statePath("jwks-es"), { token, body: { state_data: { by: "es" } } });
    expect(saved.status).toBe(200);
    expect(await storedVersion("jwks-es")).toBe(1);
    const loaded = await callWithEnv(WITH_JWKS, statePath("jwks-es"), { token });
    expect((await json<{ state_data: unknown }>(loaded)).state_data).toEqual({ by: "es" });
    expect(fetched).toContain(JWKS_URL);
  });

  it("an RS256 token from the same set is accepted", async () => {
    const token = await signJwt(claims({ role: "user" }), { alg: "RS256", kid: "rs-1", key: rs.privateKey });
    const res = await callWithEnv(WITH_JWKS, statePath("jwks-rs"), { token, body: { state_data: { by: "rs" } } });
    expect(res.status).toBe(200);
    expect(await storedVersion("jwks-rs")).toBe(1);
  });

  it("the key set is fetched once and then served from memory", async () => {
    const token = await es256(claims({ role: "guest", sub: "cache-check" }));
    await seedState("jwks-cached", { a: 1 });
    expect((await callWithEnv(WITH_JWKS, statePath("jwks-cached"), { token })).status).toBe(200);
    fetched = [];
    const other = await es256(claims({ role: "guest", sub: "cache-check-2" }));
    expect((await callWithEnv(WITH_JWKS, statePath("jwks-cached"), { token: other })).status).toBe(200);
    expect(fetched).toEqual([]);
  });

  it("a token signed by a key outside the set (same kid) is refused and changes nothing", async () => {
    await seedState("jwks-forged", { v: 1 });
    const { privateKey } = await generateKeyPair("ES256");
    const token = await es256(claims({ role: "super_admin" }), "es-1", privateKey);
    await expect401(await callWithEnv(WITH_JWKS, statePath("jwks-forged"), { token, body: { state_data: { hacked: true } } }));
    expect(await storedVersion("jwks-forged")).toBe(1);
  });

  it("a token with a kid that is not in the set is refused", async () => {
    await seedState("jwks-kid", { v: 1 });
    const token = await es256(claims({ role: "super_admin" }), "unknown-kid");
    await expect401(await callWithEnv(WITH_JWKS, statePath("jwks-kid"), { token, body: { state_data: { hacked: true } } }));
    expect(await storedVersion("jwks-kid")).toBe(1);
  });

  it("an ES256 token claiming alg RS256 is refused (the key type must match the algorithm)", async () => {
    await seedState("jwks-algswap", { v: 1 });
    const good = await es256(claims({ role: "super_admin" }));
    const [, payload, sig] = good.split(".");
    const header = btoa(JSON.stringify({ alg: "RS256", kid: "es-1" }))
      .replace(/=+$/, "")
      .replace(/\+/g, "-")
      .replace(/\//g, "_");
    await expect401(
      await callWithEnv(WITH_JWKS, statePath("jwks-algswap"), { token: `${header}.${payload}.${sig}`, body: { state_data: { x: 1 } } }),
    );
    expect(await storedVersion("jwks-algswap")).toBe(1);
  });

  it("expired and exp-less asymmetric tokens are refused", async () => {
    await seedState("jwks-exp", { v: 1 });
    for (const token of [
      await es256(claims({ role: "super_admin", exp: nowSeconds() - 30 })),
      await es256({ sub: "x", role: "super_admin" }),
    ]) {
      await expect401(await callWithEnv(WITH_JWKS, statePath("jwks-exp"), { token, body: { state_data: { v: 2 } } }));
    }
    expect(await storedVersion("jwks-exp")).toBe(1);
  });

  it("HS256 tokens keep working beside the JWKS when JWT_SECRET is set", async () => {
    const token = await mintToken({ role: "user" });
    const res = await callWithEnv(WITH_JWKS, statePath("jwks-hs"), { token, body: { state_data: { by: "hs" } } });
    expect(res.status).toBe(200);
  });

  it("an ES256 token is refused when no JWT_JWKS_URL is configured", async () => {
    await seedState("jwks-none", { v: 1 });
    await expect401(
      await call(statePath("jwks-none"), { token: await es256(claims({ role: "super_admin" })), body: { state_data: { v: 2 } } }),
    );
    expect(await storedVersion("jwks-none")).toBe(1);
    expect(fetched).toEqual([]);
  });
});

describe("an unavailable key set is a 503, not a 401", () => {
  it.each([
    ["answers 502", DOWN_URL],
    ["answers something that is not JSON", BROKEN_URL],
    ["cannot be reached", UNREACHABLE_URL],
  ])("the JWKS endpoint %s", async (_what, url) => {
    const agent = `jwks-down-${new URL(url).hostname.split(".")[0]}`;
    await seedState(agent, { v: 1 });
    const token = await es256(claims({ role: "super_admin" }));
    const res = await callWithEnv({ JWT_JWKS_URL: url }, statePath(agent), { token, body: { state_data: { v: 2 } } });
    const doc = await problem(res, 503);
    expect(doc.code).toBe("service_unavailable");
    expect(doc.detail).toContain("JWT_JWKS_URL");
    expect(fetched).toContain(url);
    expect(await storedVersion(agent)).toBe(1);
  });
});

describe("JWT_ISSUER and JWT_AUDIENCE", () => {
  const ISS = "https://issuer.test/";
  const AUD = "datamcpserveragent-api";
  const CHECKED = { ...WITH_JWKS, JWT_ISSUER: ISS, JWT_AUDIENCE: AUD };

  it("tokens with the configured issuer and audience are accepted (HS256 and ES256)", async () => {
    for (const token of [await signJwt(claims({ iss: ISS, aud: AUD })), await es256(claims({ iss: ISS, aud: [AUD, "another-api"] }))]) {
      const res = await callWithEnv(CHECKED, statePath("iss-ok"), { token, body: { state_data: { ok: true } } });
      expect(res.status).toBe(200);
    }
    expect(await storedVersion("iss-ok")).toBe(2);
  });

  it.each([
    ["no issuer", { aud: AUD }],
    ["another issuer", { iss: "https://evil.test/", aud: AUD }],
    ["no audience", { iss: ISS }],
    ["another audience", { iss: ISS, aud: "some-other-api" }],
  ])("a token with %s is refused", async (_what, extra) => {
    await seedState("iss-bad", { v: 1 });
    const before = await storedVersion("iss-bad");
    for (const token of [
      await signJwt(claims({ role: "super_admin", ...extra })),
      await es256(claims({ role: "super_admin", ...extra })),
    ]) {
      await expect401(await callWithEnv(CHECKED, statePath("iss-bad"), { token, body: { state_data: { hacked: true } } }));
    }
    expect(await storedVersion("iss-bad")).toBe(before);
  });

  it("without JWT_ISSUER/JWT_AUDIENCE, iss and aud are not required", async () => {
    await seedState("iss-free", { v: 1 });
    const res = await call(statePath("iss-free"), { token: await signJwt(claims({ role: "guest" })) });
    expect(res.status).toBe(200);
  });
});
