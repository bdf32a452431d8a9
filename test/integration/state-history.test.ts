import { describe, expect, it } from "vitest";
import { call, callWith, json, mintToken, problem } from "../helpers/api";
import { currentVersion, load, save } from "../helpers/state";

type VersionPage = {
  current_version: number;
  versions: { version: number; size_bytes: number; restored_from: number | null }[];
  next_cursor: string | null;
};

async function saveMany(agent: string, n: number) {
  for (let i = 1; i <= n; i++) expect((await save(agent, { i })).status).toBe(200);
}

describe("state history", () => {
  it("lists versions newest first, page by page", async () => {
    await saveMany("hist", 7);
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const res = await call(`/api/v2/agents/hist/state/versions?limit=3${cursor ? `&cursor=${cursor}` : ""}`);
      const page = await json<VersionPage>(res);
      expect(page.current_version).toBe(7);
      seen.push(...page.versions.map((v) => v.version));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual([7, 6, 5, 4, 3, 2, 1]);
    const first = await json<VersionPage>(await call("/api/v2/agents/hist/state/versions?limit=1"));
    expect(first.versions[0]!.size_bytes).toBe(JSON.stringify({ i: 7 }).length);
  });

  it("reads one old version with its own ETag", async () => {
    await saveMany("old", 3);
    const res = await call("/api/v2/agents/old/state/versions/2");
    expect(res.headers.get("etag")).toBe('"2"');
    expect(await json(res)).toMatchObject({ agent_id: "old", version: 2, state_data: { i: 2 } });
    await problem(await call("/api/v2/agents/old/state/versions/9"), 404);
    await problem(await call("/api/v2/agents/old/state/versions/zero"), 422);
    await problem(await call("/api/v2/agents/never-saved/state/versions"), 404);
  });

  it("restores an old version as a new version", async () => {
    await saveMany("rest", 3);
    const res = await call("/api/v2/agents/rest/state/restore", { body: { version: 1 } });
    expect(res.status).toBe(200);
    expect(res.headers.get("etag")).toBe('"4"');
    expect(await json(res)).toMatchObject({ success: true, version: 4, restored_from: 1 });
    expect((await load("rest")).body).toMatchObject({ version: 4, state_data: { i: 1 }, restored_from: 1 });
    const page = await json<VersionPage>(await call("/api/v2/agents/rest/state/versions?limit=1"));
    expect(page.versions[0]).toMatchObject({ version: 4, restored_from: 1 });
  });

  it("refuses restores of unknown versions, stale preconditions and bad bodies without changing anything", async () => {
    await saveMany("rest-bad", 2);
    await problem(await call("/api/v2/agents/rest-bad/state/restore", { body: { version: 5 } }), 404);
    await problem(await call("/api/v2/agents/rest-bad/state/restore", { body: { version: 1 }, headers: { "If-Match": '"1"' } }), 412);
    await problem(await call("/api/v2/agents/rest-bad/state/restore", { body: { version: "1" } }), 422);
    const unknown = await problem(await call("/api/v2/agents/rest-bad/state/restore", { body: { version: 1, extra: true } }), 422);
    expect(unknown.errors).toEqual([{ path: "extra", message: "unknown field" }]);
    await problem(await call("/api/v2/agents/nobody/state/restore", { body: { version: 1 } }), 404);
    expect(await currentVersion("rest-bad")).toBe(2);
    expect(await currentVersion("nobody")).toBeNull();
  });

  it("keeps only the last STATE_HISTORY_LIMIT versions", async () => {
    const token = await mintToken({ role: "user" });
    for (let i = 1; i <= 5; i++) {
      const res = await callWith({ STATE_HISTORY_LIMIT: "3" }, "/api/v2/agents/pruned/state", { token, body: { state_data: { i } } });
      expect(res.status).toBe(200);
    }
    const page = await json<VersionPage>(await call("/api/v2/agents/pruned/state/versions"));
    expect(page.versions.map((v) => v.version)).toEqual([5, 4, 3]);
    await problem(await call("/api/v2/agents/pruned/state/versions/2"), 404);
    await problem(await call("/api/v2/agents/pruned/state/restore", { body: { version: 1 } }), 404);
  });
});
