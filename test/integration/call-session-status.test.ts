/** CallSessionDO's status machine, duration and schema, through its RPC methods. */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { CALL_MIGRATIONS } from "../../durable-objects/call-session/schema";
import { CALL_ACTIONS, CALL_STATUSES, TRANSITIONS, type CallAction, type CallStatus } from "../../src/calls/model";
import { newId } from "../../src/lib/ids";
import { callSession } from "../../src/calls/service";

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const PATH_TO: Record<CallStatus, CallAction[]> = {
  pending: [],
  ringing: ["ring"],
  active: ["start"],
  on_hold: ["start", "hold"],
  ended: ["end"],
  failed: ["fail"],
};

async function newCall() {
  const callId = newId("call");
  const stub = callSession(env, callId);
  const created = await stub.create({
    callId,
    agentId: "a1",
    userId: null,
    direction: "outbound",
    recordingEnabled: false,
    videoEnabled: false,
    metadata: {},
    nowMs: T0,
  });
  expect(created.ok).toBe(true);
  return stub;
}

async function callIn(status: CallStatus) {
  const stub = await newCall();
  let t = T0;
  for (const action of PATH_TO[status]) expect((await stub.transition(action, (t += 1000))).ok).toBe(true);
  expect((await stub.get())!.status).toBe(status);
  return stub;
}

describe("status machine", () => {
  const cases = CALL_STATUSES.flatMap((from) =>
    CALL_ACTIONS.map((action) => ({ from, action, allowed: TRANSITIONS[action].from.includes(from) })),
  );

  it("allows exactly the documented transitions", () => {
    const allowed = cases.filter((c) => c.allowed).map((c) => `${c.from} -${c.action}-> ${TRANSITIONS[c.action].to}`);
    expect(allowed).toEqual([
      "pending -ring-> ringing",
      "pending -start-> active",
      "pending -end-> ended",
      "pending -fail-> failed",
      "ringing -start-> active",
      "ringing -end-> ended",
      "ringing -fail-> failed",
      "active -hold-> on_hold",
      "active -end-> ended",
      "active -fail-> failed",
      "on_hold -resume-> active",
      "on_hold -end-> ended",
      "on_hold -fail-> failed",
    ]);
  });

  it.each(cases)("$from + $action (allowed: $allowed)", async ({ from, action, allowed }) => {
    const stub = await callIn(from);
    const before = await stub.get();
    const result = await stub.transition(action, T0 + 60_000);
    if (allowed) {
      expect(result.ok).toBe(true);
      expect((await stub.get())!.status).toBe(TRANSITIONS[action].to);
    } else {
      expect(result).toMatchObject({ ok: false, reason: "conflict", status: from });
      expect(await stub.get()).toEqual(before);
    }
  });

  it("an unknown call is not_found", async () => {
    const stub = callSession(env, newId("call"));
    expect(await stub.transition("start", T0)).toMatchObject({ ok: false, reason: "not_found" });
    expect(await stub.get()).toBeNull();
  });

  it("a call cannot be created twice", async () => {
    const stub = await newCall();
    const again = await stub.create({
      callId: "x",
      agentId: "a1",
      userId: null,
      direction: "inbound",
      recordingEnabled: false,
      videoEnabled: false,
      metadata: {},
      nowMs: T0,
    });
    expect(again).toMatchObject({ ok: false, reason: "conflict" });
  });
});

describe("timing", () => {
  it("duration runs from the first start to the end, hold included", async () => {
    const stub = await newCall();
    await stub.transition("ring", T0 + 500);
    await stub.transition("start", T0 + 1000);
    await stub.transition("hold", T0 + 2000);
    await stub.transition("resume", T0 + 3000);
    const active = await stub.get();
    expect(active).toMatchObject({ started_at: new Date(T0 + 1000).toISOString(), ended_at: null, duration_seconds: null });
    const ended = await stub.transition("end", T0 + 4500);
    expect(ended.ok && ended.value).toMatchObject({
      status: "ended",
      started_at: new Date(T0 + 1000).toISOString(),
      ended_at: new Date(T0 + 4500).toISOString(),
      duration_seconds: 3.5,
    });
  });

  it("a call that never started lasts 0 s; everyone still in it is marked left", async () => {
    const stub = await newCall();
    const added = await stub.addParticipant({ participantId: newId("part"), userId: "u", displayName: "U", isAgent: false, nowMs: T0 });
    expect(added.ok).toBe(true);
    const failed = await stub.transition("fail", T0 + 2000);
    expect(failed.ok && failed.value).toMatchObject({ status: "failed", started_at: null, duration_seconds: 0 });
    expect(failed.ok && failed.value.participants[0]!.left_at).toBe(new Date(T0 + 2000).toISOString());
    expect(
      await stub.addParticipant({ participantId: newId("part"), userId: "v", displayName: "V", isAgent: false, nowMs: T0 }),
    ).toMatchObject({
      ok: false,
      reason: "conflict",
    });
  });
});

describe("schema", () => {
  it("records its version in _schema", async () => {
    const stub = await newCall();
    const raw = env.CALL_SESSION.getByName((await stub.get())!.call_id);
    const version = await runInDurableObject(
      raw,
      (_instance, state) => state.storage.sql.exec<{ version: number }>("SELECT version FROM _schema").one().version,
    );
    expect(version).toBe(CALL_MIGRATIONS[CALL_MIGRATIONS.length - 1]!.version);
  });
});
