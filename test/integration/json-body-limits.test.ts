/**
 * Every JSON body goes through one reader (src/http/validation.ts → src/lib/json-text.ts): deep
 * nesting and repeated member names are a 422 on every route, and nothing is stored.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MAX_JSON_DEPTH } from "../../src/lib/json-text";
import { call, json, problem } from "../helpers/api";
import { load, save } from "../helpers/state";

const deep = (levels: number) => `${'{"a":'.repeat(levels)}1${"}".repeat(levels)}`;

async function post(path: string, text: string) {
  return call(path, { method: "POST", rawBody: text, headers: { "content-type": "application/json" } });
}

async function count(table: string): Promise<number> {
  return (await env.DB.prepare(`SELECT COUNT(*) AS n FROM ${table}`).first<{ n: number }>())!.n;
}

describe("JSON nesting and duplicate member names", () => {
  it("a few thousand levels in a call's metadata or an approval's data is a 422, not a 500, and stores nothing", async () => {
    const calls = await count("call_index");
    const callRes = await post("/api/v2/calls", `{"agent_id":"deep-agent","metadata":${deep(4000)}}`);
    expect((await problem(callRes, 422)).detail).toContain(`deeper than ${MAX_JSON_DEPTH}`);
    expect(await count("call_index")).toBe(calls);

    const approvals = await count("approval_index");
    const body = `{"agent_id":"deep-agent","title":"t","description":"d","approver_email":"a@example.com","data":${deep(4000)}}`;
    const doc = await problem(await post("/api/v2/email/approval", body), 422);
    expect(doc.errors).toEqual([{ path: expect.stringMatching(/^data(\.a)+$/), message: expect.stringContaining(String(MAX_JSON_DEPTH)) }]);
    expect(await count("approval_index")).toBe(approvals);
  });

  it("state_data nested too deep is refused and the state is unchanged", async () => {
    await save("nest-agent", { keep: true });
    const res = await post("/api/v2/agents/nest-agent/state", `{"state_data":${deep(MAX_JSON_DEPTH)}}`);
    await problem(res, 422);
    const { body } = await load("nest-agent");
    expect(body).toMatchObject({ version: 1, state_data: { keep: true } });
    // One level less than the limit (the envelope counts as one) is accepted.
    expect((await post("/api/v2/agents/nest-agent/state", `{"state_data":${deep(MAX_JSON_DEPTH - 1)}}`)).status).toBe(200);
  });

  it("a body that repeats a member is a 422 naming it; the task is not created", async () => {
    const res = await post("/api/v2/agents/dup-agent/tasks", `{"task_type":"noop","task_type":"delay"}`);
    expect((await problem(res, 422)).errors).toEqual([{ path: "task_type", message: expect.stringContaining("more than once") }]);
    const list = await json<{ tasks: unknown[] }>(await call("/api/v2/agents/dup-agent/tasks"));
    expect(list.tasks).toEqual([]);
  });
});

describe("a body with state_data must be the documented form", () => {
  it.each([
    ["a number", `{"state_data":1}`],
    ["a string", `{"state_data":"x"}`],
    ["an array", `{"state_data":[1]}`],
    ["null", `{"state_data":null}`],
    ["an unknown member beside it", `{"state_data":{"a":1},"colour":"red"}`],
    ["a repeated state_data", `{"state_data":{"a":1},"state_data":{"b":2}}`],
  ])("%s: 422 and the state keeps its version", async (_what, text) => {
    const agent = `strict-${Math.random().toString(36).slice(2, 8)}`;
    await save(agent, { original: true });
    await problem(await post(`/api/v2/agents/${agent}/state`, text), 422);
    expect((await load(agent)).body).toMatchObject({ version: 1, state_data: { original: true } });
  });

  it("the prototype's form still applies with ?agent_type= or without a state_data member", async () => {
    expect((await post("/api/v2/agents/proto-agent/state?agent_type=worker", `{"state_data":1,"n":2}`)).status).toBe(200);
    expect((await load("proto-agent")).body).toMatchObject({ version: 1, agent_type: "worker", state_data: { state_data: 1, n: 2 } });
    expect((await post("/api/v2/agents/proto-agent/state", `{"n":3}`)).status).toBe(200);
    expect((await load("proto-agent")).body).toMatchObject({ version: 2, state_data: { n: 3 } });
  });
});

describe("bodies whose meaning would change when stored", () => {
  it("bytes that are not UTF-8 are a 400, and a number out of float range a 422; the state is unchanged", async () => {
    await save("bytes-agent", { keep: 1 });
    const invalid = new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]);
    const res = await call("/api/v2/agents/bytes-agent/state", {
      method: "POST",
      rawBody: invalid,
      headers: { "content-type": "application/json" },
    });
    expect((await problem(res, 400)).detail).toContain("UTF-8");
    await problem(await post("/api/v2/agents/bytes-agent/state", `{"state_data":{"n":1e999}}`), 422);
    expect((await load("bytes-agent")).body).toMatchObject({ version: 1, state_data: { keep: 1 } });
  });
});
