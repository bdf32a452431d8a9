/**
 * Agent state use cases: the only code that talks to AgentDO about state, the KV snapshot
 * (for eventual reads) and the D1 agents index (for listing). Turns the DO's result values
 * into problems.
 */
import { getConfig } from "../lib/config";
import { log, warn } from "../lib/log";
import { stateSavesTotal } from "../metrics/isolate-metrics";
import { AppError } from "../lib/problem";
import { iso } from "../lib/time";
import { AGENT_TYPES, type AgentType, type CopyIntervals, type StateSummary, type StateVersionRecord, type WriteResult } from "./model";
import { parseIfMatch, renderPersistentState, snapshotKey } from "./wire";

/** `state_data` above 1 MiB of JSON is refused with 413. */
export const MAX_STATE_BYTES = 1024 * 1024;

function stub(env: Env, agentId: string) {
  return env.AGENT.getByName(agentId);
}

function copyIntervals(env: Env): CopyIntervals {
  const config = getConfig(env);
  return { snapshotMs: config.stateSnapshotIntervalMs, indexRefreshMs: config.agentIndexRefreshMs };
}

function utf8Length(text: string): number {
  // Cheap bounds first: UTF-8 needs 1–3 bytes per UTF-16 code unit.
  if (text.length * 3 <= MAX_STATE_BYTES) return text.length;
  return new TextEncoder().encode(text).byteLength;
}

/** Combines `If-Match` and `expected_version`; they must agree when both are given. */
function expectedVersion(ifMatch: string | undefined, bodyExpected: number | undefined): number | "*" | undefined {
  const header = parseIfMatch(ifMatch);
  const fromHeader = header === "never" ? -1 : header;
  if (fromHeader !== undefined && bodyExpected !== undefined && fromHeader !== bodyExpected) {
    throw new AppError("validation_failed", "If-Match and expected_version name different versions.", {
      errors: [{ path: "expected_version", message: `differs from If-Match (${ifMatch})` }],
    });
  }
  return fromHeader ?? bodyExpected;
}

function throwOnFailure(agentId: string, result: WriteResult, wanted?: number): asserts result is Extract<WriteResult, { ok: true }> {
  if (result.ok) return;
  if (result.reason === "version_mismatch") {
    throw new AppError(
      "precondition_failed",
      result.current === null
        ? `Agent '${agentId}' has no state yet; the precondition names a version that does not exist.`
        : `Agent '${agentId}' is at version ${result.current}; the precondition does not match it. Nothing was changed.`,
      { extensions: { current_version: result.current } },
    );
  }
  throw new AppError(
    "not_found",
    result.current === null
      ? `Agent '${agentId}' has no state.`
      : `Version ${wanted} of agent '${agentId}' does not exist or is no longer kept.`,
  );
}

export interface SaveRequest {
  agentId: string;
  agentType?: AgentType;
  stateData: Record<string, unknown>;
  ifMatch?: string;
  expectedVersion?: number;
  requestId: string;
}

export async function saveState(env: Env, req: SaveRequest): Promise<{ version: number }> {
  const stateJson = JSON.stringify(req.stateData);
  const bytes = utf8Length(stateJson);
  if (bytes > MAX_STATE_BYTES) {
    throw new AppError("payload_too_large", `state_data is ${bytes} bytes of JSON; the limit is ${MAX_STATE_BYTES} (1 MiB).`);
  }
  const result = await stub(env, req.agentId).saveState({
    agentId: req.agentId,
    agentType: req.agentType,
    stateJson,
    expectedVersion: expectedVersion(req.ifMatch, req.expectedVersion),
    nowMs: Date.now(),
    historyLimit: getConfig(env).stateHistoryLimit,
    copyIntervals: copyIntervals(env),
  });
  throwOnFailure(req.agentId, result);
  stateSavesTotal.inc();
  log({ event: "state.saved", request_id: req.requestId, agent_id: req.agentId, version: result.version, bytes });
  return { version: result.version };
}

export interface LoadedState {
  /** The `PersistentState` document as JSON text. */
  json: string;
  version: number;
  source: "durable_object" | "snapshot";
}

export async function loadState(env: Env, agentId: string, consistency: "strong" | "eventual"): Promise<LoadedState> {
  if (consistency === "eventual") {
    const hit = await env.STATE_SNAPSHOTS.getWithMetadata<{ version: number }>(snapshotKey(agentId), "text");
    if (hit.value !== null && hit.metadata) return { json: hit.value, version: hit.metadata.version, source: "snapshot" };
  }
  const record = await stub(env, agentId).getState();
  if (!record) throw new AppError("not_found", `Agent '${agentId}' has no state.`);
  return { json: renderPersistentState(record), version: record.version, source: "durable_object" };
}

export async function loadVersion(env: Env, agentId: string, version: number): Promise<StateVersionRecord> {
  const record = await stub(env, agentId).getVersion(version);
  if (!record) throw new AppError("not_found", `Version ${version} of agent '${agentId}' does not exist or is no longer kept.`);
  return record;
}

export async function listVersions(env: Env, agentId: string, limit: number, cursor?: string) {
  const page = await stub(env, agentId).listVersions(limit + 1, cursor === undefined ? undefined : Number(cursor));
  if (page.current === null) throw new AppError("not_found", `Agent '${agentId}' has no state.`);
  const versions = page.versions.slice(0, limit);
  const more = page.versions.length > limit;
  return {
    agent_id: agentId,
    current_version: page.current,
    versions: versions.map((v) => ({ ...v, updated_at: iso(v.updated_at) })),
    next_cursor: more ? String(versions[versions.length - 1]!.version) : null,
  };
}

export async function restoreState(
  env: Env,
  req: { agentId: string; version: number; ifMatch?: string; expectedVersion?: number; requestId: string },
): Promise<{ version: number }> {
  const result = await stub(env, req.agentId).restoreState({
    agentId: req.agentId,
    version: req.version,
    expectedVersion: expectedVersion(req.ifMatch, req.expectedVersion),
    nowMs: Date.now(),
    historyLimit: getConfig(env).stateHistoryLimit,
    copyIntervals: copyIntervals(env),
  });
  throwOnFailure(req.agentId, result, req.version);
  log({ event: "state.restored", request_id: req.requestId, agent_id: req.agentId, version: result.version, from_version: req.version });
  return { version: result.version };
}

export async function deleteState(env: Env, agentId: string, requestId: string): Promise<void> {
  const existed = await stub(env, agentId).deleteState(agentId);
  if (!existed) throw new AppError("not_found", `Agent '${agentId}' has no state.`);
  log({ event: "state.deleted", request_id: requestId, agent_id: agentId });
}

interface AgentRow {
  agent_id: string;
  agent_type: string;
  version: number;
  updated_at: number;
  instances: number;
}

/** An agent's live summary; undefined when its Durable Object did not answer (the index's values stand in). */
async function liveSummary(env: Env, agentId: string): Promise<StateSummary | null | undefined> {
  try {
    return await stub(env, agentId).getSummary();
  } catch (err) {
    warn({ event: "state.list_live_read_failed", agent_id: agentId, error: err instanceof Error ? err.message : String(err) });
    return undefined;
  }
}

/**
 * Lists agents. Which agents exist, and their type, come from the D1 index: a keyset page in
 * agent_id order, a row written when an agent appears, changes type or is deleted. `version` and
 * `updated_at` are read live from each listed agent's Durable Object (one RPC each, in parallel,
 * at most 100 per page), so the index needs no write per save and the list does not lag. An
 * agent whose object does not answer keeps the index's values (refreshed every
 * AGENT_INDEX_REFRESH_SECONDS); one whose state is gone is left out.
 */
export async function listAgents(
  env: Env,
  opts: { limit: number; cursor?: string; agentType?: AgentType; onlyAgents?: readonly string[] },
) {
  const where = ["agent_id > ?"];
  const binds: (string | number)[] = [opts.cursor ?? ""];
  if (opts.agentType) {
    where.push("agent_type = ?");
    binds.push(opts.agentType);
  }
  if (opts.onlyAgents) {
    where.push(`agent_id IN (SELECT value FROM json_each(?))`);
    binds.push(JSON.stringify(opts.onlyAgents));
  }
  const { results } = await env.DB.prepare(
    `SELECT agent_id, agent_type, version, updated_at, instances FROM agents WHERE ${where.join(" AND ")} ORDER BY agent_id LIMIT ?`,
  )
    .bind(...binds, opts.limit + 1)
    .all<AgentRow>();
  const page = results.slice(0, opts.limit);
  const live = await Promise.all(page.map((r) => liveSummary(env, r.agent_id)));
  const agents = page.flatMap((r, i) => {
    const now = live[i];
    if (now === null) return [];
    const agentType = now?.agent_type ?? r.agent_type;
    return [
      {
        agent_id: r.agent_id,
        agent_type: (AGENT_TYPES as readonly string[]).includes(agentType) ? (agentType as AgentType) : "analytics",
        version: now?.version ?? r.version,
        updated_at: iso(now?.updated_at ?? r.updated_at),
        instances: r.instances,
      },
    ];
  });
  return {
    agents,
    // The cursor is the last row of the index page, listed or not, so the next page starts after it.
    next_cursor: results.length > opts.limit ? page[page.length - 1]!.agent_id : null,
  };
}
