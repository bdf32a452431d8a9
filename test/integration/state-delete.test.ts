import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, json, problem } from "../helpers/api";
import { currentVersion, indexRow, load, save } from "../helpers/state";

describe("deleting state", () => {
  it("erases the state, its history, the KV snapshot and the index row for good", async () => {
    for (let i = 1; i <= 3; i++) await save("doomed", { i });
    // Both copies exist (the first save writes them at once; later versions follow on their intervals).
    await expect.poll(() => indexRow("doomed")).not.toBeNull();
    await expect.poll(() => env.STATE_SNAPSHOTS.get("agent_state:doomed")).not.toBeNull();

    const res = await call("/api/v2/agents/doomed/state", { method: "DELETE" });
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ success: true, agent_id: "doomed" });

    // The answer comes after the derived stores are cleared, so no poll is needed here.
    expect(await env.STATE_SNAPSHOTS.get("agent_state:doomed")).toBeNull();
    expect(await indexRow("doomed")).toBeNull();
    await problem(await call("/api/v2/agents/doomed/state"), 404);
    await problem(await call("/api/v2/agents/doomed/state?consistency=eventual"), 404);
    await problem(await call("/api/v2/agents/doomed/state/versions"), 404);
    await problem(await call("/api/v2/agents/doomed/state/versions/1"), 404);

    // Nothing comes back from a pending alarm either.
    await runDurableObjectAlarm(env.AGENT.getByName("doomed"));
    expect(await currentVersion("doomed")).toBeNull();
    expect(await env.STATE_SNAPSHOTS.get("agent_state:doomed")).toBeNull();
    expect(await indexRow("doomed")).toBeNull();
  });

  it("starts again at version 1 with a new created_at, and a second delete is 404", async () => {
    await save("reborn", { life: 1 });
    const before = (await load("reborn")).body!;
    expect((await call("/api/v2/agents/reborn/state", { method: "DELETE" })).status).toBe(200);
    await problem(await call("/api/v2/agents/reborn/state", { method: "DELETE" }), 404);
    await new Promise((r) => setTimeout(r, 5));
    expect(await json(await save("reborn", { life: 2 }))).toMatchObject({ version: 1 });
    const after = (await load("reborn")).body!;
    expect(after.state_data).toEqual({ life: 2 });
    expect(after.created_at > before.created_at).toBe(true);
    const page = await json<{ versions: { version: number }[] }>(await call("/api/v2/agents/reborn/state/versions"));
    expect(page.versions.map((v) => v.version)).toEqual([1]);
  });

  it("answers 404 for an agent that never had state", async () => {
    expect((await problem(await call("/api/v2/agents/ghost/state", { method: "DELETE" }), 404)).code).toBe("not_found");
  });
});
