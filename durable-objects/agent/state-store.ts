/**
 * Versioned agent state over the Durable Object's SQLite database. Every function is
 * synchronous SQL; callers wrap writes in `transactionSync`, so a save is atomic and no other
 * request can interleave between the version check and the insert.
 */
import type { AgentType, StateVersionRecord, VersionSummary } from "../../src/state/model";

interface MetaRow {
  agent_id: string;
  agent_type: AgentType;
  version: number;
  created_at: number;
  updated_at: number;
  [column: string]: SqlStorageValue;
}

export function readMeta(sql: SqlStorage): MetaRow | null {
  return (
    sql.exec<MetaRow>("SELECT agent_id, agent_type, version, created_at, updated_at FROM state_meta WHERE id = 1").toArray()[0] ?? null
  );
}

export interface AppendVersion {
  agentId: string;
  agentType: AgentType;
  stateJson: string;
  nowMs: number;
  historyLimit: number;
  restoredFrom?: number;
}

/** Appends the next version and prunes history beyond the limit; returns the new meta row. */
export function appendVersion(sql: SqlStorage, meta: MetaRow | null, input: AppendVersion): MetaRow {
  const version = (meta?.version ?? 0) + 1;
  const createdAt = meta?.created_at ?? input.nowMs;
  sql.exec(
    "INSERT INTO state_versions (version, agent_type, state_data, saved_at, restored_from) VALUES (?, ?, ?, ?, ?)",
    version,
    input.agentType,
    input.stateJson,
    input.nowMs,
    input.restoredFrom ?? null,
  );
  sql.exec(
    `INSERT INTO state_meta (id, agent_id, agent_type, version, created_at, updated_at) VALUES (1, ?, ?, ?, ?, ?)
     ON CONFLICT (id) DO UPDATE SET agent_type = excluded.agent_type, version = excluded.version, updated_at = excluded.updated_at`,
    input.agentId,
    input.agentType,
    version,
    createdAt,
    input.nowMs,
  );
  if (version > input.historyLimit) sql.exec("DELETE FROM state_versions WHERE version <= ?", version - input.historyLimit);
  return { agent_id: input.agentId, agent_type: input.agentType, version, created_at: createdAt, updated_at: input.nowMs };
}

export function readVersion(sql: SqlStorage, meta: MetaRow, version: number): StateVersionRecord | null {
  const row = sql
    .exec<{ agent_type: AgentType; state_data: string; saved_at: number; restored_from: number | null }>(
      "SELECT agent_type, state_data, saved_at, restored_from FROM state_versions WHERE version = ?",
      version,
    )
    .toArray()[0];
  if (!row) return null;
  return {
    agent_id: meta.agent_id,
    agent_type: row.agent_type,
    version,
    created_at: meta.created_at,
    updated_at: row.saved_at,
    state_json: row.state_data,
    restored_from: row.restored_from,
  };
}

/** The current version in one query (the load hot path). */
export function readCurrent(sql: SqlStorage): StateVersionRecord | null {
  const row = sql
    .exec<{
      agent_id: string;
      created_at: number;
      version: number;
      agent_type: AgentType;
      state_data: string;
      saved_at: number;
      restored_from: number | null;
    }>(
      `SELECT m.agent_id, m.created_at, v.version, v.agent_type, v.state_data, v.saved_at, v.restored_from
       FROM state_meta m JOIN state_versions v ON v.version = m.version WHERE m.id = 1`,
    )
    .toArray()[0];
  if (!row) return null;
  return {
    agent_id: row.agent_id,
    agent_type: row.agent_type,
    version: row.version,
    created_at: row.created_at,
    updated_at: row.saved_at,
    state_json: row.state_data,
    restored_from: row.restored_from,
  };
}

/** Newest first, strictly below `beforeVersion` when given. */
export function listVersions(sql: SqlStorage, limit: number, beforeVersion?: number): VersionSummary[] {
  return sql
    .exec<{ version: number; agent_type: AgentType; saved_at: number; size: number; restored_from: number | null }>(
      `SELECT version, agent_type, saved_at, length(CAST(state_data AS BLOB)) AS size, restored_from
       FROM state_versions WHERE version < ? ORDER BY version DESC LIMIT ?`,
      beforeVersion ?? Number.MAX_SAFE_INTEGER,
      limit,
    )
    .toArray()
    .map((r) => ({
      version: r.version,
      agent_type: r.agent_type,
      updated_at: r.saved_at,
      size_bytes: r.size,
      restored_from: r.restored_from,
    }));
}

/** Erases the state and its whole history; returns whether there was any. */
export function eraseState(sql: SqlStorage): boolean {
  const existed = readMeta(sql) !== null;
  sql.exec("DELETE FROM state_versions");
  sql.exec("DELETE FROM state_meta");
  return existed;
}
