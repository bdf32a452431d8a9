/**
 * Crash durability (docs/state.md; the project runs and persists locally): every save the server acknowledged with 200
 * survives a SIGKILL of the whole `wrangler dev` process group (workerd included, no graceful
 * shutdown), version for version and byte for byte, and the history continues where it stopped.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { client, eventually, mintJwt, type Client } from "./helpers/http";
import { startLocalServer, type LocalServer } from "./helpers/local-server";

type AgentType = "worker" | "analytics" | "email";
interface Acked {
  version: number;
  agent_type: AgentType;
  state_data: Record<string, unknown>;
  restored_from?: number;
}

const AGENTS: { id: string; type: AgentType }[] = [
  { id: "durable-worker-1", type: "worker" },
  { id: "durable.analytics:2", type: "analytics" },
  { id: "Durable_mail-3", type: "email" },
];
const SAVES_PER_AGENT = 10;

/** Varied documents: nesting, unicode, numbers at the edges of JSON, and some bulk. */
function stateFor(agentId: string, i: number): Record<string, unknown> {
  return {
    agent: agentId,
    step: i,
    note: `save ${i} of ${agentId}: héllo wörld ✓ 🚀 "quoted" \\ back\nslash`,
    numbers: [0, -1, 0.1 + 0.2, 1e-7, Number.MAX_SAFE_INTEGER, 2 ** 53 - 1],
    flags: { even: i % 2 === 0, nothing: null },
    nested: { level1: { level2: { items: Array.from({ length: i + 1 }, (_, k) => ({ k, sq: k * k })) } } },
    bulk: "x".repeat(2_000 * (i + 1)),
  };
}

let server: LocalServer | undefined;
let api: Client;

beforeAll(async () => {
  server = await startLocalServer();
  api = client(server.baseUrl, await mintJwt(server.jwtSecret, { sub: "durability", role: "developer" }));
});

afterAll(async () => {
  await server?.dispose();
});

describe("state survives a SIGKILL of the server", () => {
  const acked = new Map<string, Acked[]>(AGENTS.map((a) => [a.id, []]));

  it("acknowledges 30 saves (some conditional), then is killed and restarted on the same folder", async () => {
    // One chain of saves per agent, the three chains running concurrently.
    await Promise.all(
      AGENTS.map(async ({ id, type }) => {
        const history = acked.get(id)!;
        for (let i = 0; i < SAVES_PER_AGENT; i++) {
          const current = history.at(-1)?.version ?? 0;
          const data = stateFor(id, i);
          let res;
          if (i === 6) {
            // A restore writes an old version's data as a new version.
            res = await api.post(`/api/v2/agents/${encodeURIComponent(id)}/state/restore`, { version: 2 }, { "If-Match": `"${current}"` });
            expect(res.status, res.text).toBe(200);
            history.push({ version: res.body.version, agent_type: type, state_data: history[1]!.state_data, restored_from: 2 });
            continue;
          }
          if (i % 3 === 1) {
            res = await api.post(
              `/api/v2/agents/${encodeURIComponent(id)}/state`,
              { agent_type: type, state_data: data },
              { "If-Match": `"${current}"` },
            );
          } else if (i % 3 === 2) {
            res = await api.post(`/api/v2/agents/${encodeURIComponent(id)}/state`, {
              agent_type: type,
              state_data: data,
              expected_version: current,
            });
          } else {
            res = await api.post(`/api/v2/agents/${encodeURIComponent(id)}/state`, { agent_type: type, state_data: data });
          }
          expect(res.status, res.text).toBe(200);
          expect(res.body.version).toBe(current + 1);
          expect(res.headers.get("etag")).toBe(`"${current + 1}"`);
          history.push({ version: res.body.version, agent_type: type, state_data: data });
          if (i === 4) {
            // A stale precondition changes nothing: this data must never appear.
            const stale = await api.post(
              `/api/v2/agents/${encodeURIComponent(id)}/state`,
              { state_data: { must_not_exist: true } },
              { "If-Match": `"${current}"` },
            );
            expect(stale.status, stale.text).toBe(412);
          }
        }
      }),
    );
    // Kill right after the last acknowledgement: no graceful shutdown, workerd dies with the group.
    server = await server!.restart("SIGKILL");
    expect([...acked.values()].flat()).toHaveLength(AGENTS.length * SAVES_PER_AGENT);
  });

  it("serves every acknowledged version with identical data after the restart", async () => {
    for (const { id, type } of AGENTS) {
      const history = acked.get(id)!;
      const path = `/api/v2/agents/${encodeURIComponent(id)}/state`;
      const last = history.at(-1)!;

      const current = await api.get(path);
      expect(current.status, current.text).toBe(200);
      expect(current.headers.get("etag")).toBe(`"${last.version}"`);
      expect(current.body).toMatchObject({ agent_id: id, agent_type: type, version: last.version });
      expect(current.body.state_data).toStrictEqual(last.state_data);
      const createdAt = current.body.created_at;

      let previousUpdate = "";
      for (const want of history) {
        const got = await api.get(`${path}/versions/${want.version}`);
        expect(got.status, got.text).toBe(200);
        expect(got.headers.get("etag")).toBe(`"${want.version}"`);
        expect(got.body.version).toBe(want.version);
        expect(got.body.agent_type).toBe(want.agent_type);
        expect(got.body.state_data).toStrictEqual(want.state_data);
        expect(got.body.restored_from).toBe(want.restored_from);
        expect(got.body.created_at).toBe(createdAt);
        expect(got.body.updated_at >= previousUpdate).toBe(true);
        previousUpdate = got.body.updated_at;
      }

      const listed = await api.get(`${path}/versions?limit=100`);
      expect(listed.status, listed.text).toBe(200);
      expect(listed.body.current_version).toBe(last.version);
      expect(listed.body.versions.map((v: { version: number }) => v.version)).toStrictEqual(history.map((h) => h.version).reverse());

      // The KV snapshot may trail the truth, but it can only ever hold an acknowledged version.
      const eventual = await api.get(`${path}?consistency=eventual`);
      expect(eventual.status, eventual.text).toBe(200);
      const snap = history.find((h) => h.version === eventual.body.version);
      expect(snap, `snapshot version ${eventual.body.version} was never acknowledged`).toBeDefined();
      expect(eventual.body.state_data).toStrictEqual(snap!.state_data);
    }
  });

  it("lists the agents from the D1 index after the restart", async () => {
    // The index is derived from each Durable Object after the answer: a write cut off by the
    // kill is repaired by the backstop alarm (30 s after the save), so allow for it.
    await expectIndexMatches(40_000);
  });

  it("continues each history at the next version", async () => {
    for (const { id } of AGENTS) {
      const last = acked.get(id)!.at(-1)!;
      const data = { after_restart: true, agent: id };
      const res = await api.post(
        `/api/v2/agents/${encodeURIComponent(id)}/state`,
        { state_data: data },
        { "If-Match": `"${last.version}"` },
      );
      expect(res.status, res.text).toBe(200);
      expect(res.body.version).toBe(last.version + 1);
      acked.get(id)!.push({ version: res.body.version, agent_type: last.agent_type, state_data: data });
      const loaded = await api.get(`/api/v2/agents/${encodeURIComponent(id)}/state`);
      expect(loaded.body.version).toBe(last.version + 1);
      expect(loaded.body.state_data).toStrictEqual(data);
      expect(loaded.body.agent_type).toBe(last.agent_type);
    }
    await expectIndexMatches(10_000);
  });

  async function expectIndexMatches(timeoutMs: number): Promise<void> {
    const want = AGENTS.map(({ id, type }) => ({ agent_id: id, agent_type: type, version: acked.get(id)!.at(-1)!.version })).sort((a, b) =>
      a.agent_id < b.agent_id ? -1 : 1,
    );
    let seen: unknown;
    const ok = await eventually(async () => {
      const res = await api.get("/api/v2/agents?limit=100");
      seen = res.body;
      if (res.status !== 200) return false;
      const rows = (res.body.agents as { agent_id: string; agent_type: string; version: number }[])
        .filter((a) => AGENTS.some((x) => x.id === a.agent_id))
        .map(({ agent_id, agent_type, version }) => ({ agent_id, agent_type, version }));
      return JSON.stringify(rows) === JSON.stringify(want);
    }, timeoutMs);
    expect(ok, `GET /api/v2/agents never matched ${JSON.stringify(want)}; last: ${JSON.stringify(seen)}`).toBe(true);
  }
});

describe("a graceful stop", () => {
  it("keeps everything too (SIGTERM, same folder and port)", async () => {
    const before = server!.port;
    server = await server!.restart("SIGTERM");
    expect(server.port).toBe(before);
    for (const { id } of AGENTS) {
      const res = await api.get(`/api/v2/agents/${encodeURIComponent(id)}/state`);
      expect(res.status, res.text).toBe(200);
      expect(res.body.state_data).toStrictEqual({ after_restart: true, agent: id });
    }
  });
});
