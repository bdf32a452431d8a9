import { describe, expect, it } from "vitest";
import { call, json, problem } from "../helpers/api";
import { currentVersion, load, save } from "../helpers/state";

describe("saving and loading agent state", () => {
  it("numbers versions from 1, keeps created_at, answers with an ETag", async () => {
    const first = await save("alpha", { step: 1 });
    expect(first.status).toBe(200);
    expect(first.headers.get("etag")).toBe('"1"');
    expect(await json(first)).toEqual({ success: true, agent_id: "alpha", version: 1, message: "State saved successfully" });
    const v1 = (await load("alpha")).body!;

    const second = await save("alpha", { step: 2, nested: { list: [1, "two", null], unicode: "ünïcødé ✓" } });
    expect(await json(second)).toMatchObject({ version: 2 });
    const { res, body } = await load("alpha");
    expect(res.headers.get("etag")).toBe('"2"');
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(body).toMatchObject({
      agent_id: "alpha",
      agent_type: "analytics",
      version: 2,
      state_data: { step: 2, nested: { list: [1, "two", null], unicode: "ünïcødé ✓" } },
    });
    expect(body!.created_at).toBe(v1.created_at);
    expect(body!.updated_at >= v1.updated_at).toBe(true);
    expect(body!.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it("keeps the agent type until a save names another", async () => {
    await save("typed", { a: 1 }, {}, { agent_type: "worker" });
    await save("typed", { a: 2 });
    expect((await load("typed")).body!.agent_type).toBe("worker");
    await save("typed", { a: 3 }, {}, { agent_type: "email" });
    expect((await load("typed")).body!.agent_type).toBe("email");
  });

  it("accepts the prototype's form: ?agent_type= with the state itself as body", async () => {
    const res = await call("/api/v2/agents/legacy/state?agent_type=marketplace", { body: { listings: 3, state_data: "not the envelope" } });
    expect(res.status).toBe(200);
    expect((await load("legacy")).body).toMatchObject({
      agent_type: "marketplace",
      state_data: { listings: 3, state_data: "not the envelope" },
    });
    // A raw object without the documented envelope is taken as the state, even without the query.
    await call("/api/v2/agents/legacy/state", { body: { counter: 7 } });
    expect((await load("legacy")).body).toMatchObject({ version: 2, agent_type: "marketplace", state_data: { counter: 7 } });
  });

  it("answers 404 for an agent without state and 304 for a matching If-None-Match", async () => {
    const missing = await problem(await call("/api/v2/agents/nobody/state"), 404);
    expect(missing.code).toBe("not_found");
    await save("cached", { a: 1 });
    const res = await call("/api/v2/agents/cached/state", { headers: { "If-None-Match": '"1"' } });
    expect(res.status).toBe(304);
    expect(res.headers.get("etag")).toBe('"1"');
  });

  it("serves the KV snapshot for consistency=eventual once it is written", async () => {
    await save("eventual", { fast: true });
    await expect
      .poll(async () => (await call("/api/v2/agents/eventual/state?consistency=eventual")).headers.get("x-state-source"))
      .toBe("snapshot");
    const res = await call("/api/v2/agents/eventual/state?consistency=eventual");
    expect(await json(res)).toMatchObject({ agent_id: "eventual", version: 1, state_data: { fast: true } });
    expect(res.headers.get("etag")).toBe('"1"');
  });
});

describe("conditional saves", () => {
  it("saves when If-Match names the current version and refuses a stale one with 412, changing nothing", async () => {
    await save("cond", { v: 1 });
    expect((await save("cond", { v: 2 }, { "If-Match": '"1"' })).status).toBe(200);
    const stale = await problem(await save("cond", { v: "lost" }, { "If-Match": '"1"' }), 412);
    expect(stale).toMatchObject({ code: "precondition_failed", current_version: 2 });
    expect((await load("cond")).body).toMatchObject({ version: 2, state_data: { v: 2 } });
  });

  it("treats expected_version like If-Match, 0 as create-only and * as any existing state", async () => {
    expect((await save("create-only", { a: 1 }, {}, { expected_version: 0 })).status).toBe(200);
    await problem(await save("create-only", { a: 2 }, {}, { expected_version: 0 }), 412);
    expect((await save("create-only", { a: 3 }, {}, { expected_version: 1 })).status).toBe(200);
    await problem(await save("star", { a: 1 }, { "If-Match": "*" }), 412);
    expect(await currentVersion("star")).toBeNull();
    await save("star", { a: 1 });
    expect((await save("star", { a: 2 }, { "If-Match": "*" })).status).toBe(200);
    expect((await save("star", { a: 3 }, { "If-Match": 'W/"2"' })).status).toBe(200);
  });

  it("refuses an If-Match that is not a version, and a body that disagrees with If-Match", async () => {
    await save("odd", { a: 1 });
    await problem(await save("odd", { a: 2 }, { "If-Match": '"abc"' }), 412);
    const clash = await problem(await save("odd", { a: 2 }, { "If-Match": '"1"' }, { expected_version: 5 }), 422);
    expect(clash.errors).toEqual([expect.objectContaining({ path: "expected_version" })]);
    expect(await currentVersion("odd")).toBe(1);
  });
});

describe("bad input changes nothing", () => {
  const before = async (agent: string) => {
    await save(agent, { keep: "me" });
    return (await load(agent)).body;
  };

  it("malformed JSON is 400", async () => {
    const prior = await before("bad-json");
    const res = await call("/api/v2/agents/bad-json/state", {
      rawBody: '{"state_data": {',
      headers: { "content-type": "application/json" },
    });
    expect((await problem(res, 400)).code).toBe("malformed_request");
    expect((await load("bad-json")).body).toEqual(prior);
  });

  it("wrong types are 422 naming the field", async () => {
    const prior = await before("bad-types");
    const res = await call("/api/v2/agents/bad-types/state", { body: { state_data: { a: 1 }, agent_type: "robot" } });
    const doc = await problem(res, 422);
    expect(doc.errors).toEqual([expect.objectContaining({ path: "agent_type" })]);
    const arr = await problem(await call("/api/v2/agents/bad-types/state", { body: [1, 2, 3] }), 422);
    expect(arr.errors).toEqual([expect.objectContaining({ path: "state_data" })]);
    const extra = await problem(
      await call("/api/v2/agents/bad-types/state", { body: { state_data: { a: 1 }, expected_version: -1 } }),
      422,
    );
    expect(extra.errors).toEqual([expect.objectContaining({ path: "expected_version" })]);
    expect((await load("bad-types")).body).toEqual(prior);
  });

  it("a non-JSON content type is 415 and an empty body 400", async () => {
    const prior = await before("bad-type");
    await problem(
      await call("/api/v2/agents/bad-type/state", {
        rawBody: "state_data=1",
        headers: { "content-type": "application/x-www-form-urlencoded" },
      }),
      415,
    );
    await problem(await call("/api/v2/agents/bad-type/state", { method: "POST", rawBody: "" }), 400);
    expect((await load("bad-type")).body).toEqual(prior);
  });

  it("state_data over 1 MiB is 413, just under is accepted", async () => {
    const prior = await before("big");
    const overhead = JSON.stringify({ blob: "" }).length;
    const exact = { blob: "x".repeat(1024 * 1024 - overhead) };
    expect((await save("big", exact)).status).toBe(200);
    const over = { blob: "x".repeat(1024 * 1024 - overhead + 1) };
    const doc = await problem(await save("big", over), 413);
    expect(doc.detail).toContain("1 MiB");
    // Multi-byte characters count as bytes, not characters.
    await problem(await save("big", { blob: "é".repeat(600 * 1024) }), 413);
    expect((await load("big")).body).toMatchObject({ version: prior!.version + 1 });
  });

  it("a body over the body limit is 413 before anything is parsed", async () => {
    const prior = await before("huge");
    const res = await call("/api/v2/agents/huge/state", {
      rawBody: `{"state_data":{"b":"${"y".repeat(3 * 1024 * 1024)}"}}`,
      headers: { "content-type": "application/json" },
    });
    expect((await problem(res, 413)).code).toBe("payload_too_large");
    expect((await load("huge")).body).toEqual(prior);
  });

  it("an invalid agent id is 422", async () => {
    const doc = await problem(await save("-starts-with-dash", { a: 1 }), 422);
    expect(doc.errors).toEqual([expect.objectContaining({ path: "path.agent_id" })]);
    await problem(await save("x".repeat(129), { a: 1 }), 422);
    expect((await save("ok.id:with-chars_1", { a: 1 })).status).toBe(200);
  });
});
