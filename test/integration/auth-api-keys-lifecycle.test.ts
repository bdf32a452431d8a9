/**
 * An API key's life after creation — expiry, revocation (which works at once), the
 * paginated list — and the problems a bad request gets. A refused request creates nothing.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, json, mintToken, problem } from "../helpers/api";
import { apiKeyIds, apiKeyRows, createKey, seedState, statePath } from "../helpers/auth";

const KEYS = "/api/v2/auth/api-keys";
const DAY_MS = 86_400_000;

interface Page {
  api_keys: { key_id: string; name: string; agents: string[] | null; expires_at: string | null; revoked_at: string | null }[];
  next_cursor: string | null;
}

describe("expiry", () => {
  it("expires_in_days sets expires_at that many days after creation; the key works until then", async () => {
    const created = await createKey({ name: "month", role: "guest", expires_in_days: 30 });
    expect(Date.parse(created.expires_at!) - Date.parse(created.created_at)).toBe(30 * DAY_MS);
    await seedState("exp-agent", { v: 1 });
    expect((await call(statePath("exp-agent"), { token: created.key })).status).toBe(200);
  });

  it("an expired key is refused with 401", async () => {
    const created = await createKey({ name: "short", role: "guest", expires_in_days: 1 });
    await seedState("exp-past", { v: 1 });
    expect((await call(statePath("exp-past"), { token: created.key })).status).toBe(200);
    await env.DB.prepare("UPDATE api_keys SET expires_at = ? WHERE key_id = ?")
      .bind(Date.now() - 1000, created.key_id)
      .run();
    const res = await call(statePath("exp-past"), { token: created.key });
    await problem(res, 401);
    expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
    await problem(await call(statePath("exp-past"), { token: null, headers: { "X-API-Key": created.key } }), 401);
  });
});

describe("revocation", () => {
  it("revokes with 200; the key stops working at once, both ways of presenting it", async () => {
    const created = await createKey({ name: "to revoke", role: "user" });
    await seedState("rev-agent", { v: 1 });
    expect((await call(statePath("rev-agent"), { token: created.key })).status).toBe(200);

    const res = await call(`${KEYS}/${created.key_id}`, { method: "DELETE" });
    expect(res.status).toBe(200);
    const body = await json<{ success: boolean; key_id: string; revoked_at: string }>(res);
    expect(body).toMatchObject({ success: true, key_id: created.key_id });
    expect(Date.parse(body.revoked_at)).toBeGreaterThan(Date.parse(created.created_at) - 1);

    await problem(await call(statePath("rev-agent"), { token: created.key }), 401);
    await problem(await call(statePath("rev-agent"), { token: null, headers: { "X-API-Key": created.key } }), 401);
    await problem(await call(statePath("rev-agent"), { token: created.key, body: { state_data: { v: 2 } } }), 401);

    const listed = (await json<Page>(await call(`${KEYS}?limit=100`))).api_keys.find((k) => k.key_id === created.key_id);
    expect(listed?.revoked_at).toBe(body.revoked_at);
  });

  it("revoking again is 409 and keeps the first revocation time", async () => {
    const created = await createKey({ name: "twice" });
    expect((await call(`${KEYS}/${created.key_id}`, { method: "DELETE" })).status).toBe(200);
    const first = (await apiKeyRows()).find((r) => r.key_id === created.key_id)!.revoked_at;
    const doc = await problem(await call(`${KEYS}/${created.key_id}`, { method: "DELETE" }), 409);
    expect(doc.code).toBe("conflict");
    expect((await apiKeyRows()).find((r) => r.key_id === created.key_id)!.revoked_at).toBe(first);
  });

  it("an unknown id is 404, a malformed id 422 naming the parameter", async () => {
    const before = await apiKeyRows();
    expect((await problem(await call(`${KEYS}/key_0123456789abcdef01234567`, { method: "DELETE" }), 404)).code).toBe("not_found");
    const doc = await problem(await call(`${KEYS}/not-a-key-id`, { method: "DELETE" }), 422);
    expect(doc.errors).toEqual([expect.objectContaining({ path: "path.key_id" })]);
    expect(await apiKeyRows()).toEqual(before);
  });

  it("a key may revoke itself, and is refused from then on", async () => {
    const created = await createKey({ name: "self", role: "admin" });
    expect((await call(`${KEYS}/${created.key_id}`, { method: "DELETE", token: created.key })).status).toBe(200);
    await problem(await call(KEYS, { token: created.key }), 401);
  });

  it("nobody revokes a key stronger than their own credential (403, key keeps working)", async () => {
    const strong = await createKey({ name: "strong", role: "super_admin" });
    const doc = await problem(await call(`${KEYS}/${strong.key_id}`, { method: "DELETE", token: await mintToken({ role: "admin" }) }), 403);
    expect(doc.detail).toContain("super_admin");
    expect((await call(KEYS, { token: strong.key })).status).toBe(200);
    expect((await apiKeyRows()).find((r) => r.key_id === strong.key_id)?.revoked_at).toBeNull();
  });

  it("an agent-limited credential sees and revokes only keys limited to its agents", async () => {
    const mine = await createKey({ name: "mine", role: "user", agents: ["scope-1"] });
    const wide = await createKey({ name: "wide", role: "user" });
    const other = await createKey({ name: "other", role: "user", agents: ["scope-1", "scope-2"] });
    const token = await mintToken({ role: "admin", agents: ["scope-1"] });

    const seen = (await json<Page>(await call(`${KEYS}?limit=100`, { token }))).api_keys.map((k) => k.key_id);
    expect(seen).toContain(mine.key_id);
    expect(seen).not.toContain(wide.key_id);
    expect(seen).not.toContain(other.key_id);
    for (const k of (await json<Page>(await call(`${KEYS}?limit=100`, { token }))).api_keys) {
      expect(k.agents?.every((a) => a === "scope-1")).toBe(true);
    }

    for (const hidden of [wide, other]) {
      await problem(await call(`${KEYS}/${hidden.key_id}`, { method: "DELETE", token }), 404);
      expect((await apiKeyRows()).find((r) => r.key_id === hidden.key_id)?.revoked_at).toBeNull();
    }
    expect((await call(`${KEYS}/${mine.key_id}`, { method: "DELETE", token })).status).toBe(200);
  });
});

describe("listing", () => {
  it("pages through every key with limit and cursor, in id order, without repeats", async () => {
    for (let i = 0; i < 5; i++) await createKey({ name: `page-${i}` });
    const stored = await apiKeyIds();
    expect(stored.length).toBeGreaterThanOrEqual(5);

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: Response = await call(`${KEYS}?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      expect(res.status).toBe(200);
      const page: Page = await json<Page>(res);
      expect(page.api_keys.length).toBeLessThanOrEqual(2);
      seen.push(...page.api_keys.map((k) => k.key_id));
      cursor = page.next_cursor;
      if (cursor) expect(cursor).toBe(page.api_keys.at(-1)?.key_id);
      pages++;
    } while (cursor && pages < 100);
    expect(seen).toEqual(stored);
    // next_cursor is null on the last page itself: no empty page at the end.
    expect(pages).toBe(Math.ceil(stored.length / 2));
  });

  it.each(["limit=0", "limit=101", "limit=two"])("refuses %s with 422", async (query) => {
    const doc = await problem(await call(`${KEYS}?${query}`), 422);
    expect(doc.errors).toEqual([expect.objectContaining({ path: "query.limit" })]);
  });
});

describe("bad creation requests create nothing", () => {
  const cases: [string, { body?: unknown; rawBody?: string; headers?: Record<string, string> }, number, string?][] = [
    ["malformed JSON", { rawBody: '{"name": "x",', headers: { "content-type": "application/json" } }, 400],
    ["no body", { rawBody: "", headers: { "content-type": "application/json" } }, 400],
    ["a form body", { rawBody: "name=x", headers: { "content-type": "application/x-www-form-urlencoded" } }, 415],
    ["a name of the wrong type", { body: { name: 5 } }, 422, "name"],
    ["no name", { body: { role: "user" } }, 422, "name"],
    ["a blank name", { body: { name: "   " } }, 422, "name"],
    ["an unknown role", { body: { name: "x", role: "root" } }, 422, "role"],
    ["agents that are not a list", { body: { name: "x", agents: "a1" } }, 422, "agents"],
    ["an empty agents list", { body: { name: "x", agents: [] } }, 422, "agents"],
    ["an invalid agent id", { body: { name: "x", agents: ["has space"] } }, 422, "agents.0"],
    ["expires_in_days of 0", { body: { name: "x", expires_in_days: 0 } }, 422, "expires_in_days"],
    ["fractional expires_in_days", { body: { name: "x", expires_in_days: 1.5 } }, 422, "expires_in_days"],
    ["expires_in_days as a string", { body: { name: "x", expires_in_days: "30" } }, 422, "expires_in_days"],
    ["an unknown field", { body: { name: "x", key: "dmsa_chosen_by_client" } }, 422],
    ["an array", { body: [{ name: "x" }] }, 422],
  ];

  it.each(cases)("%s", async (_what, request, status, field) => {
    const before = await apiKeyIds();
    const res = await call(KEYS, { method: "POST", ...request });
    const doc = await problem(res, status);
    if (status === 422) {
      expect(doc.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: field ?? expect.any(String) })]));
    }
    expect(await apiKeyIds()).toEqual(before);
  });
});
