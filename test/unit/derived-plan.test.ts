/**
 * When the derived copies of an agent's state are due (durable-objects/agent/derived-plan.ts):
 * the rules of docs/state.md#derived-copies, checked without clocks.
 */
import { describe, expect, it } from "vitest";
import { KV_KEY_WRITE_GAP_MS, nextDue, planCopies, type CopyMarkers } from "../../durable-objects/agent/derived-plan";

const intervals = { snapshotMs: 10_000, indexRefreshMs: 300_000 };
const T = 1_000_000;

/** Both copies hold version 5 of life 0, written at T. */
const current: CopyMarkers = {
  life: 0,
  snapshot_life: 0,
  snapshot_version: 5,
  snapshot_at: T,
  index_life: 0,
  index_version: 5,
  index_type: "worker",
  index_at: T,
  failures: 0,
  retry_at: 0,
};
const fresh: CopyMarkers = {
  life: 0,
  snapshot_life: null,
  snapshot_version: null,
  snapshot_at: 0,
  index_life: null,
  index_version: null,
  index_type: null,
  index_at: 0,
  failures: 0,
  retry_at: 0,
};

describe("planCopies", () => {
  it("has nothing to do when both copies hold the current version", () => {
    const plan = planCopies(current, { version: 5, agentType: "worker" }, intervals, false);
    expect(plan).toEqual({ snapshot: null, index: null });
    expect(nextDue(plan)).toBeNull();
  });

  it("copies a new agent's first save to both stores at once", () => {
    const plan = planCopies(fresh, { version: 1, agentType: "analytics" }, intervals, false);
    expect(plan.snapshot).toEqual({ action: "put", dueAt: KV_KEY_WRITE_GAP_MS });
    expect(plan.index).toEqual({ action: "put", dueAt: 0 });
  });

  it("throttles an existing agent: the snapshot once per snapshot interval, the index row once per refresh interval", () => {
    const plan = planCopies(current, { version: 9, agentType: "worker" }, intervals, false);
    expect(plan.snapshot).toEqual({ action: "put", dueAt: T + intervals.snapshotMs });
    expect(plan.index).toEqual({ action: "put", dueAt: T + intervals.indexRefreshMs });
    expect(nextDue(plan)).toBe(T + intervals.snapshotMs);
  });

  it("writes the index row at once when the agent changes type", () => {
    const plan = planCopies(current, { version: 6, agentType: "email" }, intervals, false);
    expect(plan.index).toEqual({ action: "put", dueAt: 0 });
    expect(plan.snapshot?.dueAt).toBe(T + intervals.snapshotMs);
  });

  it("deletes both copies at once after a delete, even right after a write", () => {
    const erased = { ...current, life: 1 };
    const plan = planCopies(erased, null, intervals, false);
    expect(plan).toEqual({ snapshot: { action: "delete", dueAt: 0 }, index: { action: "delete", dueAt: 0 } });
  });

  it("after a delete and a new first save, puts both again (a new life: version 1 is not the old version 1)", () => {
    const deleted = { ...current, life: 1, snapshot_life: 1, snapshot_version: null, index_life: 1, index_version: null, index_type: null };
    expect(planCopies(deleted, null, intervals, false)).toEqual({ snapshot: null, index: null });
    const oldLifeAtOne = { ...current, snapshot_version: 1, index_version: 1, life: 1 };
    const plan = planCopies(oldLifeAtOne, { version: 1, agentType: "worker" }, intervals, false);
    expect(plan.snapshot).toEqual({ action: "put", dueAt: T + KV_KEY_WRITE_GAP_MS });
    expect(plan.index).toEqual({ action: "put", dueAt: 0 });
  });

  it("waits for the retry time after a failure, unless asked to repair", () => {
    const failed = { ...fresh, failures: 3, retry_at: T + 4000 };
    const waiting = planCopies(failed, { version: 1, agentType: "worker" }, intervals, false);
    expect(waiting.snapshot?.dueAt).toBe(T + 4000);
    expect(waiting.index?.dueAt).toBe(T + 4000);
    const repair = planCopies(failed, { version: 1, agentType: "worker" }, intervals, true);
    expect(repair.snapshot?.dueAt).toBe(0);
    expect(repair.index?.dueAt).toBe(0);
  });

  it("repair changes nothing while no copy has failed: the throttle still holds", () => {
    const plan = planCopies(current, { version: 9, agentType: "worker" }, intervals, true);
    expect(plan.snapshot?.dueAt).toBe(T + intervals.snapshotMs);
    expect(plan.index?.dueAt).toBe(T + intervals.indexRefreshMs);
  });
});
