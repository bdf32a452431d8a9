import { describe, expect, it } from "vitest";
import { call, json, mintToken } from "../helpers/api";
import { load, save } from "../helpers/state";

describe("concurrent conditional saves", () => {
  it("let exactly one of 50 racing If-Match saves win; the rest get 412", async () => {
    await save("race", { writer: "seed" });
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => save("race", { writer: i }, { "If-Match": '"1"' })));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 412)).toHaveLength(49);
    const winner = statuses.indexOf(200);
    expect((await load("race")).body).toMatchObject({ version: 2, state_data: { writer: winner } });
  });

  it("lose no update when 50 writers retry on 412: versions stay contiguous", async () => {
    await save("counter", { writers: [] });
    const writer = async (id: number) => {
      // One principal per writer, as in real life, so the per-principal rate limit stays out of the way.
      const auth = { authorization: `Bearer ${await mintToken({ sub: `writer-${id}`, role: "user" })}` };
      for (let attempt = 0; attempt < 200; attempt++) {
        const current = await call("/api/v2/agents/counter/state", { headers: auth });
        const body = await json<{ version: number; state_data: { writers: number[] } }>(current);
        const writers = [...body.state_data.writers, id];
        const res = await save("counter", { writers }, { ...auth, "If-Match": `"${body.version}"` });
        if (res.status === 200) return attempt;
        expect(res.status).toBe(412);
      }
      throw new Error(`writer ${id} never won`);
    };
    await Promise.all(Array.from({ length: 50 }, (_, i) => writer(i)));

    const { body } = await load("counter");
    expect(body!.version).toBe(51);
    expect([...(body!.state_data.writers as number[])].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    const page = await json<{ versions: { version: number }[] }>(await call("/api/v2/agents/counter/state/versions?limit=100"));
    expect(page.versions.map((v) => v.version)).toEqual(Array.from({ length: 51 }, (_, i) => 51 - i));
    for (let v = 2; v <= 51; v++) {
      const version = await json<{ state_data: { writers: number[] } }>(await call(`/api/v2/agents/counter/state/versions/${v}`));
      expect(version.state_data.writers).toHaveLength(v - 1);
    }
  }, 60_000);
});
