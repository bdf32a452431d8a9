/**
 * API keys (docs/auth.md): created once-visible, stored only as a SHA-256 hash, usable through
 * `Authorization: Bearer` and `X-API-Key`, bounded by their role and agents, and never minted
 * stronger or wider than the creator's own credential.
 */
import { describe, expect, it, vi } from "vitest";
import { call, json, mintToken, problem } from "../helpers/api";
import { apiKeyIds, apiKeyRows, createKey, seedState, sha256Hex, statePath, storedVersion } from "../helpers/auth";

const KEYS = "/api/v2/auth/api-keys";
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

describe("creating a key", () => {
  it("answers 201 with the key once, and stores only its SHA-256", async () => {
    const token = await mintToken({ sub: "key-admin", role: "admin" });
    const res = await call(KEYS, { token, body: { name: "  ci pipeline  ", role: "developer" } });
    expect(res.status).toBe(201);
    const created = await json<Record<string, unknown> & { key: string; key_id: string }>(res);
    expect(created.key).toMatch(/^dmsa_[A-Za-z0-9_-]{43}$/);
    expect(created).toMatchObject({
      name: "ci pipeline",
      role: "developer",
      agents: null,
      created_by: "key-admin",
      expires_at: null,
      revoked_at: null,
      last_used_at: null,
      prefix: created.key.slice(0, 12),
    });
    expect(created.key_id).toMatch(/^key_[0-9a-f]{24}$/);
    expect(created.created_at).toMatch(ISO);
    expect(created).not.toHaveProperty("key_hash");

    const rows = await apiKeyRows();
    const row = rows.find((r) => r.key_id === created.key_id);
    expect(row?.key_hash).toBe(await sha256Hex(created.key));
    expect(JSON.stringify(rows)).not.toContain(created.key);
    // The prefix is shown to recognise a key, but it is far too short to be one.
    expect(row?.prefix.length).toBeLessThan(created.key.length / 3);
  });

  it("lists the key afterwards without the key and without its hash", async () => {
    const created = await createKey({ name: "listed", role: "guest" });
    const res = await call(`${KEYS}?limit=100`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain(created.key);
    expect(text).not.toContain(await sha256Hex(created.key));
    const listed = (JSON.parse(text) as { api_keys: Record<string, unknown>[] }).api_keys.find((k) => k.key_id === created.key_id);
    expect(listed).toEqual({
      key_id: created.key_id,
      name: "listed",
      prefix: created.prefix,
      role: "guest",
      agents: null,
      created_by: created.created_by,
      created_at: created.created_at,
      expires_at: null,
      revoked_at: null,
      last_used_at: null,
    });
    expect(listed).not.toHaveProperty("key");
    expect(listed).not.toHaveProperty("key_hash");
  });

  it("defaults the role to user", async () => {
    const created = await createKey({ name: "default role" });
    expect(created.role).toBe("user");
  });

  it("mints a different key every time", async () => {
    const a = await createKey({ name: "twin" });
    const b = await createKey({ name: "twin" });
    expect(a.key).not.toBe(b.key);
    expect(a.key_id).not.toBe(b.key_id);
  });
});

describe("using a key", () => {
  it("works through Authorization: Bearer and through X-API-Key", async () => {
    const { key } = await createKey({ name: "writer", role: "user" });
    const bearer = await call(statePath("key-use"), { token: key, body: { state_data: { via: "bearer" } } });
    expect(bearer.status).toBe(200);
    const header = await call(statePath("key-use"), {
      token: null,
      headers: { "X-API-Key": key },
      body: { state_data: { via: "x-api-key" } },
    });
    expect(header.status).toBe(200);
    expect(await storedVersion("key-use")).toBe(2);
  });

  it("is refused when unknown, with nothing stored", async () => {
    const res = await call(statePath("key-unknown"), { token: `dmsa_${"A".repeat(43)}`, body: { state_data: { x: 1 } } });
    await problem(res, 401);
    expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
    expect(await storedVersion("key-unknown")).toBeNull();
  });

  it("is bounded by its role: a guest key reads but cannot write or manage keys", async () => {
    await seedState("key-guest", { v: 1 });
    const { key } = await createKey({ name: "reader", role: "guest" });
    expect((await call(statePath("key-guest"), { token: key })).status).toBe(200);
    await problem(await call(statePath("key-guest"), { token: key, body: { state_data: { v: 2 } } }), 403);
    expect(await storedVersion("key-guest")).toBe(1);
    const before = (await apiKeyRows()).length;
    await problem(await call(KEYS, { token: key, body: { name: "escalate", role: "guest" } }), 403);
    expect((await apiKeyRows()).length).toBe(before);
  });

  it("is bounded by its agents", async () => {
    await seedState("key-other", { v: 1 });
    const { key, agents } = await createKey({ name: "one agent", role: "user", agents: ["key-mine"] });
    expect(agents).toEqual(["key-mine"]);
    expect((await call(statePath("key-mine"), { token: key, body: { state_data: { ok: true } } })).status).toBe(200);
    await problem(await call(statePath("key-other"), { token: key, body: { state_data: { stolen: true } } }), 403);
    await problem(await call(statePath("key-other"), { token: key }), 403);
    expect(await storedVersion("key-other")).toBe(1);
  });

  it("records when it was last used (shown in the list, never per request in the hot path)", async () => {
    const created = await createKey({ name: "used", role: "guest" });
    await seedState("key-last-used", { v: 1 });
    expect((await call(statePath("key-last-used"), { token: created.key })).status).toBe(200);
    // Written after the response (waitUntil), so poll.
    await vi.waitFor(async () => expect((await apiKeyRows()).find((r) => r.key_id === created.key_id)?.last_used_at).toBeTypeOf("number"), {
      timeout: 10_000,
    });
    const listed = (await json<{ api_keys: { key_id: string; last_used_at: string | null }[] }>(await call(`${KEYS}?limit=100`))).api_keys;
    expect(listed.find((k) => k.key_id === created.key_id)?.last_used_at).toMatch(ISO);
  });
});

describe("a creator cannot mint beyond its own credential", () => {
  it("an admin (JWT or API key) cannot mint a super_admin key: 422 naming `role`, nothing created", async () => {
    const adminKey = (await createKey({ name: "creator", role: "admin" })).key;
    for (const token of [await mintToken({ role: "admin" }), adminKey]) {
      const before = await apiKeyIds();
      const doc = await problem(await call(KEYS, { token, body: { name: "too strong", role: "super_admin" } }), 422);
      expect(doc.errors).toEqual([expect.objectContaining({ path: "role" })]);
      expect(await apiKeyIds()).toEqual(before);
    }
  });

  it("an admin may mint keys up to its own role", async () => {
    const token = await mintToken({ role: "admin" });
    for (const role of ["guest", "user", "developer", "admin"]) {
      const res = await call(KEYS, { token, body: { name: `as ${role}`, role } });
      expect(res.status).toBe(201);
      expect((await json<{ role: string }>(res)).role).toBe(role);
    }
  });

  it("an agent-limited creator mints only keys limited to (some of) its agents", async () => {
    const token = await mintToken({ sub: "scoped-admin", role: "admin", agents: ["sc-1", "sc-2"] });
    const before = await apiKeyIds();

    const unrestricted = await problem(await call(KEYS, { token, body: { name: "all agents" } }), 422);
    expect(unrestricted.errors).toEqual([expect.objectContaining({ path: "agents" })]);
    const wider = await problem(await call(KEYS, { token, body: { name: "wider", agents: ["sc-1", "sc-3"] } }), 422);
    expect(wider.errors).toEqual([{ path: "agents", message: expect.stringContaining("sc-3") }]);
    expect(await apiKeyIds()).toEqual(before);

    const ok = await call(KEYS, { token, body: { name: "narrow", agents: ["sc-2"] } });
    expect(ok.status).toBe(201);
    expect((await json<{ agents: string[] }>(ok)).agents).toEqual(["sc-2"]);
  });

  it("a key minted by a key is attributed to it and bounded by it", async () => {
    const parent = await createKey({ name: "parent", role: "admin", agents: ["kk-1"] });
    const child = await createKey({ name: "child", role: "user", agents: ["kk-1"] }, parent.key);
    expect(child.created_by).toBe(parent.key_id);
    const before = (await apiKeyRows()).length;
    await problem(await call(KEYS, { token: parent.key, body: { name: "grandchild", role: "super_admin", agents: ["kk-1"] } }), 422);
    await problem(await call(KEYS, { token: parent.key, body: { name: "grandchild", agents: ["kk-2"] } }), 422);
    expect((await apiKeyRows()).length).toBe(before);
  });
});
