/**
 * What crosses the RPC boundary between the state service and AgentDO. Expected failures are
 * values (`{ ok: false, reason }`), because only an error's message survives RPC.
 * `state_data` travels as JSON text: validated once at the edge, never re-serialized.
 */

/** What an agent id may be (the API's AgentId schema; the dashboard checks typed ids with it too). */
export const AGENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export const AGENT_TYPES = ["worker", "analytics", "marketplace", "observability", "email", "webrtc"] as const;
export type AgentType = (typeof AGENT_TYPES)[number];
export const DEFAULT_AGENT_TYPE: AgentType = "analytics";

/** One stored version, with times in epoch ms and the data still as JSON text. */
export interface StateVersionRecord {
  agent_id: string;
  agent_type: AgentType;
  version: number;
  created_at: number;
  updated_at: number;
  state_json: string;
  restored_from: number | null;
}

/** The fields of an agent that change with every save, as the agent's Durable Object holds them now. */
export interface StateSummary {
  agent_type: AgentType;
  version: number;
  updated_at: number;
}

export interface VersionSummary {
  version: number;
  agent_type: AgentType;
  updated_at: number;
  size_bytes: number;
  restored_from: number | null;
}

/**
 * How often an agent's derived copies may be written. The Worker passes its settings with each
 * write, as it does the history limit, so the Durable Object follows the configuration it serves.
 */
export interface CopyIntervals {
  /** Least time between two writes of the KV snapshot (`STATE_SNAPSHOT_INTERVAL_SECONDS`). */
  snapshotMs: number;
  /** Least time between two refreshes of `version`/`updated_at` in the D1 index (`AGENT_INDEX_REFRESH_SECONDS`). */
  indexRefreshMs: number;
}

export interface SaveInput {
  agentId: string;
  agentType?: AgentType;
  stateJson: string;
  /** Optimistic concurrency: the version the caller last saw; `"*"` means "any existing state". */
  expectedVersion?: number | "*";
  nowMs: number;
  historyLimit: number;
  copyIntervals: CopyIntervals;
}

export interface RestoreInput {
  agentId: string;
  version: number;
  expectedVersion?: number | "*";
  nowMs: number;
  historyLimit: number;
  copyIntervals: CopyIntervals;
}

export type WriteResult =
  | { ok: true; version: number; created_at: number; updated_at: number }
  | { ok: false; reason: "version_mismatch"; current: number | null }
  | { ok: false; reason: "version_not_found"; current: number | null };
