/**
 * HS256 JWTs with JWT_SECRET (docs/auth.md). Every refused token is a 401 problem with
 * `WWW-Authenticate`, and a refused write leaves the stored state as it was.
 */
import { UnsecuredJWT, base64url, exportJWK, generateKeyPair } from "jose";
import { describe, expect, it } from "vitest";
import { call, json, mintToken, problem } from "../helpers/api";
import { callWithEnv, claims, nowSeconds, seedState, signJwt, statePath, storedVersion } from "../helpers/auth";

const enc = new TextEncoder();

/** Asserts the answer is a 401 problem that names the Bearer scheme and realm. */
async function expect401(res: Response, invalidToken = true) {
  const doc = await problem(res, 401);
  expect(doc.code).toBe("unauthenticated");
  const challenge = res.headers.get("www-authenticate") ?? "";
  expect(challenge).toMatch(/^Bearer realm="[^"]+"/);
  if (invalidToken) expect(challenge).toContain('error="invalid_token"');
  return doc;
}

/** Tries a save with `token` and asserts it is refused with 401 and changes nothing. */
async function expectRefusedWrite(agentId: string, token: string) {
  const before = await storedVersion(agentId);
  await expect401(await call(statePath(agentId), { token, body: { state_data: { hacked: true } } }));
  expect(await storedVersion(agentId)).toBe(before);
}

describe("no credentials", () => {
  it("a protected route answers 401 problem+json with a Bearer challenge", async () => {
    const res = await call(statePath("anon-1"), { token: null });
    const doc = await expect401(res, false);
    expect(doc.instance).toBe(statePath("anon-1"));
    expect(res.headers.get("x-request-id")).toBeTruthy();
  });

  it("a refused anonymous save stores nothing", async () => {
    await expect401(await call(statePath("anon-2"), { token: null, body: { state_data: { a: 1 } } }), false);
    expect(await storedVersion("anon-2")).toBeNull();
  });

  it("the API key routes need credentials too", async () => {
    await expect401(await call("/api/v2/auth/api-keys", { token: null }), false);
    await expect401(await call("/api/v2/auth/api-keys", { token: null, body: { name: "x" } }), false);
  });

  it.each(["/health", "/openapi.json", "/docs"])("public route %s works without credentials", async (path) => {
    const res = await call(path, { token: null });
    expect(res.status).toBe(200);
    if (path === "/openapi.json") expect((await json<{ openapi: string }>(res)).openapi).toBe("3.1.0");
    else if (path === "/docs") expect(await res.text()).toContain("<html");
    else expect((await json<{ status: string }>(res)).status).toBe("healthy");
  });

  it("public routes ignore even invalid credentials", async () => {
    const res = await call("/health", { token: "garbage" });
    expect(res.status).toBe(200);
  });
});

describe("HS256 tokens", () => {
  it("a valid token can read and write", async () => {
    const token = await mintToken({ sub: "alice", role: "user" });
    const saved = await call(statePath("hs-valid"), { token, body: { state_data: { n: 1 } } });
    expect(saved.status).toBe(200);
    expect((await json<{ version: number }>(saved)).version).toBe(1);
    const loaded = await call(statePath("hs-valid"), { token });
    expect(loaded.status).toBe(200);
    expect((await json<{ state_data: unknown }>(loaded)).state_data).toEqual({ n: 1 });
  });

  it("lowercase `bearer` and extra spaces are accepted (RFC 6750 scheme is case-insensitive)", async () => {
    const token = await mintToken({ role: "guest" });
    await seedState("hs-scheme", { a: 1 });
    const res = await call(statePath("hs-scheme"), { token: null, headers: { Authorization: `bearer   ${token}` } });
    expect(res.status).toBe(200);
  });

  it("an expired token is refused", async () => {
    await seedState("hs-expired", { v: 1 });
    await expectRefusedWrite("hs-expired", await mintToken({ role: "super_admin" }, { expiresIn: nowSeconds() - 60 }));
  });

  it("a token without exp is refused", async () => {
    await seedState("hs-noexp", { v: 1 });
    await expectRefusedWrite("hs-noexp", await signJwt({ sub: "alice", role: "super_admin" }));
  });

  it("a token without sub is refused", async () => {
    await seedState("hs-nosub", { v: 1 });
    await expectRefusedWrite("hs-nosub", await signJwt({ role: "super_admin", exp: nowSeconds() + 600 }));
  });

  it("a token not yet valid (nbf in the future) is refused", async () => {
    await seedState("hs-nbf", { v: 1 });
    await expectRefusedWrite("hs-nbf", await signJwt(claims({ role: "super_admin", nbf: nowSeconds() + 600 })));
  });

  it("a token signed with another secret (forged) is refused", async () => {
    await seedState("hs-forged", { v: 1 });
    await expectRefusedWrite("hs-forged", await mintToken({ role: "super_admin" }, { secret: "not-the-server-secret-0123456789abcdef" }));
  });

  it("a token whose payload was changed after signing is refused", async () => {
    await seedState("hs-tampered", { v: 1 });
    const [header, , signature] = (await mintToken({ sub: "mallory", role: "guest" })).split(".");
    const payload = base64url.encode(JSON.stringify(claims({ sub: "mallory", role: "super_admin" })));
    await expectRefusedWrite("hs-tampered", `${header}.${payload}.${signature}`);
  });

  it("an unsigned token (alg: none) is refused", async () => {
    await seedState("hs-none", { v: 1 });
    const unsigned = new UnsecuredJWT({ role: "super_admin" }).setSubject("mallory").setExpirationTime("10m").encode();
    await expectRefusedWrite("hs-none", unsigned);
    // The same with a trailing signature made with the real secret stays refused.
    const [h, p] = unsigned.split(".");
    await expectRefusedWrite("hs-none", `${h}.${p}.${(await mintToken({ role: "super_admin" })).split(".")[2]}`);
  });

  it("HS384/HS512 tokens signed with the real secret are refused (only HS256 is accepted)", async () => {
    await seedState("hs-other-hmac", { v: 1 });
    for (const alg of ["HS384", "HS512"]) {
      await expectRefusedWrite("hs-other-hmac", await signJwt(claims({ role: "super_admin" }), { alg }));
    }
  });

  it("ES256 and RS256 tokens are refused when only JWT_SECRET is configured", async () => {
    await seedState("hs-asym", { v: 1 });
    for (const alg of ["ES256", "RS256"]) {
      const { privateKey } = await generateKeyPair(alg);
      await expectRefusedWrite("hs-asym", await signJwt(claims({ role: "super_admin" }), { alg, key: privateKey }));
    }
  });

  it("garbage is refused", async () => {
    await seedState("hs-garbage", { v: 1 });
    for (const token of ["garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30.", "....", "dmsa_"]) {
      await expectRefusedWrite("hs-garbage", token);
    }
  });

  it("a non-Bearer Authorization scheme is refused", async () => {
    const token = await mintToken({ role: "super_admin" });
    const before = await storedVersion("hs-basic");
    const res = await call(statePath("hs-basic"), {
      token: null,
      headers: { Authorization: `Basic ${btoa(`user:${token}`)}` },
      body: { state_data: { a: 1 } },
    });
    await expect401(res);
    expect(await storedVersion("hs-basic")).toBe(before);
  });

  it("an unknown role claim is refused", async () => {
    await seedState("hs-badrole", { v: 1 });
    await expectRefusedWrite("hs-badrole", await signJwt(claims({ role: "root" })));
    await expectRefusedWrite("hs-badrole", await signJwt(claims({ role: ["super_admin"] })));
  });

  it("a malformed agents claim is refused", async () => {
    await seedState("hs-badagents", { v: 1 });
    await expectRefusedWrite("hs-badagents", await signJwt(claims({ agents: "hs-badagents" })));
    await expectRefusedWrite("hs-badagents", await signJwt(claims({ agents: [""] })));
  });

  it("a token without a role claim is a guest: it can read but not write", async () => {
    await seedState("hs-guest", { v: 1 });
    const token = await signJwt({ sub: "visitor", exp: nowSeconds() + 600 });
    expect((await call(statePath("hs-guest"), { token })).status).toBe(200);
    const doc = await problem(await call(statePath("hs-guest"), { token, body: { state_data: { v: 2 } } }), 403);
    expect(doc.code).toBe("forbidden");
    expect(doc.detail).toContain("guest");
    expect(await storedVersion("hs-guest")).toBe(1);
  });

  it("an HS256 token signed with the public JWK text is refused when a JWKS is configured", async () => {
    const { publicKey } = await generateKeyPair("ES256", { extractable: true });
    const jwkText = JSON.stringify(await exportJWK(publicKey));
    const token = await signJwt(claims({ role: "super_admin" }), { key: enc.encode(jwkText) });
    await seedState("hs-confusion", { v: 1 });
    for (const overrides of [
      { JWT_JWKS_URL: "https://issuer.test/confusion/jwks.json" },
      { JWT_JWKS_URL: "https://issuer.test/confusion/jwks.json", JWT_SECRET: "" },
    ]) {
      const res = await callWithEnv(overrides, statePath("hs-confusion"), { token, body: { state_data: { hacked: true } } });
      await expect401(res);
    }
    expect(await storedVersion("hs-confusion")).toBe(1);
  });

  it("HS256 tokens are refused when JWT_SECRET is not configured", async () => {
    await seedState("hs-nosecret", { v: 1 });
    const token = await mintToken({ role: "super_admin" });
    await expect401(await callWithEnv({ JWT_SECRET: "" }, statePath("hs-nosecret"), { token, body: { state_data: { v: 2 } } }));
    expect(await storedVersion("hs-nosecret")).toBe(1);
  });

  it("a token accepted under one configuration is checked again under another", async () => {
    // Verified tokens are cached; the cache must not carry a verdict across configurations.
    await seedState("hs-cache", { v: 1 });
    const token = await mintToken({ role: "guest" });
    expect((await call(statePath("hs-cache"), { token })).status).toBe(200);
    await expect401(await callWithEnv({ JWT_SECRET: "a-different-secret-0123456789abcdef" }, statePath("hs-cache"), { token }));
    await expect401(await callWithEnv({ JWT_ISSUER: "https://issuer.test" }, statePath("hs-cache"), { token }));
    expect((await call(statePath("hs-cache"), { token })).status).toBe(200);
  });
});
