/**
 * Roles → permissions, the `agents` restriction, and the ADMIN_API_KEY bootstrap key.
 * Every refusal is a problem document and leaves state and keys as they were.
 */
import { describe, expect, it, vi } from "vitest";
import type { Role } from "../../src/auth/principal";
import { ADMIN_KEY, call, json, mintToken, problem } from "../helpers/api";
import { apiKeyRows, callWithEnv, seedState, statePath, storedVersion } from "../helpers/auth";

const KEYS = "/api/v2/auth/api-keys";

async function expect403(res: Response) {
  const doc = await problem(res, 403);
  expect(doc.code).toBe("forbidden");
  expect(doc.type).toBe("/problems/forbidden");
  return doc;
}

describe("roles → permissions", () => {
  const matrix: { role: Role; write: boolean; keys: boolean }[] = [
    { role: "guest", write: false, keys: false },
    { role: "user", write: true, keys: false },
    { role: "developer", write: true, keys: false },
    { role: "admin", write: true, keys: true },
    { role: "super_admin", write: true, keys: true },
  ];

  it.each(matrix)("$role: reads state", async ({ role }) => {
    await seedState(`read-${role}`, { r: 1 });
    const res = await call(statePath(`read-${role}`), { token: await mintToken({ role }) });
    expect(res.status).toBe(200);
    expect((await json<{ state_data: unknown }>(res)).state_data).toEqual({ r: 1 });
  });

  it.each(matrix)("$role: writes state only with state:write", async ({ role, write }) => {
    const agent = `write-${role}`;
    await seedState(agent, { v: 1 });
    const res = await call(statePath(agent), { token: await mintToken({ role }), body: { state_data: { v: 2 } } });
    if (write) {
      expect(res.status).toBe(200);
      expect(await storedVersion(agent)).toBe(2);
    } else {
      const doc = await expect403(res);
      expect(doc.detail).toContain("state:write");
      expect(await storedVersion(agent)).toBe(1);
      // Deleting is a write too.
      await expect403(await call(statePath(agent), { method: "DELETE", token: await mintToken({ role }) }));
      expect(await storedVersion(agent)).toBe(1);
    }
  });

  it.each(matrix)("$role: manages API keys only with api_keys:manage", async ({ role, keys }) => {
    const token = await mintToken({ sub: `keys-${role}`, role });
    const before = (await apiKeyRows()).length;
    const created = await call(KEYS, { token, body: { name: `by ${role}`, role: "guest" } });
    const listed = await call(KEYS, { token });
    if (keys) {
      expect(created.status).toBe(201);
      expect(listed.status).toBe(200);
      expect((await apiKeyRows()).length).toBe(before + 1);
    } else {
      expect((await expect403(created)).detail).toContain("api_keys:manage");
      await expect403(listed);
      await expect403(await call(`${KEYS}/key_0123456789abcdef01234567`, { method: "DELETE", token }));
      expect((await apiKeyRows()).length).toBe(before);
    }
  });

  it("an invalid credential is 401 before any permission check", async () => {
    const res = await call(KEYS, { token: await mintToken({ role: "guest" }, { secret: "wrong-secret-0123456789abcdefghij" }) });
    await problem(res, 401);
  });

  it("a 403 is not a challenge: no WWW-Authenticate", async () => {
    const res = await call(KEYS, { token: await mintToken({ role: "developer" }) });
    await expect403(res);
    expect(res.headers.get("www-authenticate")).toBeNull();
  });
});

describe("the agents claim", () => {
  it("a token limited to one agent uses it and gets 403 on another, which stays unchanged", async () => {
    await seedState("lim-a2", { owner: "someone else" });
    const token = await mintToken({ sub: "limited", role: "user", agents: ["lim-a1"] });

    const saved = await call(statePath("lim-a1"), { token, body: { state_data: { mine: true } } });
    expect(saved.status).toBe(200);
    expect((await call(statePath("lim-a1"), { token })).status).toBe(200);

    const doc = await expect403(await call(statePath("lim-a2"), { token, body: { state_data: { stolen: true } } }));
    expect(doc.detail).toContain("lim-a2");
    await expect403(await call(statePath("lim-a2"), { token }));
    await expect403(await call(`${statePath("lim-a2")}/versions`, { token }));
    await expect403(await call(statePath("lim-a2"), { method: "DELETE", token }));
    await expect403(await call(statePath("lim-never"), { token, body: { state_data: { x: 1 } } }));

    expect(await storedVersion("lim-a2")).toBe(1);
    expect(await storedVersion("lim-never")).toBeNull();
    const a2 = await json<{ state_data: unknown }>(await call(statePath("lim-a2")));
    expect(a2.state_data).toEqual({ owner: "someone else" });
  });

  it("GET /api/v2/agents lists only the token's agents", async () => {
    await seedState("list-a1", { n: 1 });
    await seedState("list-a2", { n: 2 });
    await seedState("list-a3", { n: 3 });
    // The D1 index follows each Durable Object asynchronously.
    const everyone = async () =>
      (await json<{ agents: { agent_id: string }[] }>(await call("/api/v2/agents?limit=100"))).agents.map((a) => a.agent_id);
    await vi.waitFor(async () => expect(await everyone()).toEqual(expect.arrayContaining(["list-a1", "list-a2", "list-a3"])), {
      timeout: 10_000,
    });

    const token = await mintToken({ role: "guest", agents: ["list-a1", "list-a3", "list-missing"] });
    const limited = await json<{ agents: { agent_id: string }[] }>(await call("/api/v2/agents?limit=100", { token }));
    expect(limited.agents.map((a) => a.agent_id)).toEqual(["list-a1", "list-a3"]);

    const single = await json<{ agents: { agent_id: string }[] }>(
      await call("/api/v2/agents", { token: await mintToken({ role: "guest", agents: ["list-a2"] }) }),
    );
    expect(single.agents.map((a) => a.agent_id)).toEqual(["list-a2"]);
  });

  it("an empty agents list reaches no agent at all", async () => {
    await seedState("lim-empty", { v: 1 });
    const token = await mintToken({ role: "super_admin", agents: [] });
    await expect403(await call(statePath("lim-empty"), { token }));
    const listed = await json<{ agents: unknown[] }>(await call("/api/v2/agents", { token }));
    expect(listed.agents).toEqual([]);
  });
});

describe("ADMIN_API_KEY", () => {
  it.each([
    ["Authorization: Bearer", { Authorization: `Bearer ${ADMIN_KEY}` }],
    ["X-API-Key", { "X-API-Key": ADMIN_KEY }],
  ])("works as super_admin via %s", async (_how, headers) => {
    const agent = `admin-${Object.keys(headers)[0]!.toLowerCase()}`;
    const saved = await call(statePath(agent), { token: null, headers, body: { state_data: { by: "admin" } } });
    expect(saved.status).toBe(200);
    expect(await storedVersion(agent)).toBe(1);
    // Only a super_admin may mint a super_admin key.
    const created = await call(KEYS, { token: null, headers, body: { name: "bootstrap", role: "super_admin" } });
    expect(created.status).toBe(201);
    const body = await json<{ role: string; created_by: string }>(created);
    expect(body).toMatchObject({ role: "super_admin", created_by: "admin" });
  });

  it("a near miss of the admin key is refused", async () => {
    const before = (await apiKeyRows()).length;
    for (const key of [`${ADMIN_KEY}x`, ADMIN_KEY.slice(0, -1), ADMIN_KEY.toUpperCase()]) {
      await problem(await call(KEYS, { token: null, headers: { "X-API-Key": key }, body: { name: "nope", role: "guest" } }), 401);
    }
    expect((await apiKeyRows()).length).toBe(before);
  });

  it("is not accepted once ADMIN_API_KEY is unset", async () => {
    await problem(await callWithEnv({ ADMIN_API_KEY: "" }, statePath("admin-unset"), { headers: { "X-API-Key": ADMIN_KEY } }), 401);
  });
});
