/**
 * When each derived copy of an agent's state is due. A pure function of what the copies hold
 * (their markers), what the Durable Object holds and the settings, so the rules are tested
 * without waiting for clocks.
 *
 * - KV snapshot (`?consistency=eventual` reads): rewritten at most once per snapshot interval,
 *   the first write after a quiet interval at once; so an agent saving once a second costs one KV
 *   write per interval, not one per save. The first copy of a new state waits only for KV's one
 *   write per second per key.
 * - D1 index row (`GET /api/v2/agents`): written at once when the agent appears or changes type
 *   (so the list and its `agent_type` filter see it); `version`/`updated_at` are refreshed at most
 *   once per refresh interval, so an existing agent's saves put nothing on the one D1 database.
 * - A delete clears both at once.
 * - After a failed write nothing is due before `retry_at` (exponential backoff), unless `repair`
 *   (the alarm, or a delete someone waits for) asks to try now.
 */
import type { AgentType, CopyIntervals } from "../../src/state/model";

/** KV accepts one write per second per key. */
export const KV_KEY_WRITE_GAP_MS = 1000;

/**
 * What each derived store holds, as recorded after its last successful write. `life` is bumped by
 * every delete, so (life, version) names one saved state even across a delete and a re-creation
 * (versions start again at 1). A null version means "holds nothing" (never written, or deleted).
 */
export interface CopyMarkers {
  life: number;
  snapshot_life: number | null;
  snapshot_version: number | null;
  /** When the snapshot was last written (attempted), epoch ms: the throttle's reference. */
  snapshot_at: number;
  index_life: number | null;
  index_version: number | null;
  /** The D1 row's agent_type; null: no row. */
  index_type: string | null;
  index_at: number;
  failures: number;
  retry_at: number;
}

export interface CurrentState {
  version: number;
  agentType: AgentType;
}

export interface CopyStep {
  action: "put" | "delete";
  dueAt: number;
}

export interface CopyPlan {
  snapshot: CopyStep | null;
  index: CopyStep | null;
}

export function planCopies(m: CopyMarkers, current: CurrentState | null, intervals: CopyIntervals, repair: boolean): CopyPlan {
  const version = current?.version ?? null;
  const action = current ? "put" : "delete";
  const gated = (dueAt: number) => (m.failures === 0 ? dueAt : repair ? 0 : Math.max(dueAt, m.retry_at));

  let snapshot: CopyStep | null = null;
  if (m.snapshot_life !== m.life || m.snapshot_version !== version) {
    const fresh = m.snapshot_life !== m.life || m.snapshot_version === null;
    const dueAt = !current ? 0 : m.snapshot_at + (fresh ? KV_KEY_WRITE_GAP_MS : intervals.snapshotMs);
    snapshot = { action, dueAt: gated(dueAt) };
  }

  let index: CopyStep | null = null;
  if (m.index_life !== m.life || m.index_version !== version) {
    const appears = !current || m.index_life !== m.life || m.index_type !== current.agentType;
    index = { action, dueAt: gated(appears ? 0 : m.index_at + intervals.indexRefreshMs) };
  }
  return { snapshot, index };
}

/** The earliest time a copy is due, or null when both copies are current. */
export function nextDue(plan: CopyPlan): number | null {
  const times = [plan.snapshot?.dueAt, plan.index?.dueAt].filter((t): t is number => t !== undefined);
  return times.length === 0 ? null : Math.min(...times);
}
