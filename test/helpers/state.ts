/** Shortcuts for agent-state tests. */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { call, callWith, json } from "./api";

export async function save(
  agentId: string,
  stateData: Record<string, unknown>,
  headers: Record<string, string> = {},
  extra: Record<string, unknown> = {},
) {
  return call(`/api/v2/agents/${agentId}/state`, { body: { state_data: stateData, ...extra }, headers });
}

export async function load(agentId: string) {
  const res = await call(`/api/v2/agents/${agentId}/state`);
  return {
    res,
    body:
      res.status === 200
        ? await json<{ version: number; state_data: Record<string, unknown>; agent_type: string; created_at: string; updated_at: string }>(
            res,
          )
        : null,
  };
}

/** The current version straight from the Durable Object (bypassing HTTP), or null. */
export async function currentVersion(agentId: string): Promise<number | null> {
  return (await env.AGENT.getByName(agentId).getState())?.version ?? null;
}

export async function indexRow(agentId: string) {
  return env.DB.prepare("SELECT agent_id, agent_type, version FROM agents WHERE agent_id = ?")
    .bind(agentId)
    .first<{ agent_id: string; agent_type: string; version: number }>();
}

/** A save through the Worker with some settings replaced (e.g. the derived copies' intervals). */
export async function saveWith(
  settings: Record<string, string>,
  agentId: string,
  stateData: Record<string, unknown>,
  extra: Record<string, unknown> = {},
) {
  return callWith(settings, `/api/v2/agents/${agentId}/state`, { body: { state_data: stateData, ...extra } });
}

/** Whether the KV snapshot and the D1 index row both hold what the agent's Durable Object holds now. */
export async function copiesCurrent(agentId: string): Promise<boolean> {
  return runInDurableObject(env.AGENT.getByName(agentId), (_instance, state) => {
    const sql = state.storage.sql;
    const m = sql
      .exec<{
        life: number;
        snapshot_life: number | null;
        snapshot_version: number | null;
        index_life: number | null;
        index_version: number | null;
      }>("SELECT life, snapshot_life, snapshot_version, index_life, index_version FROM derived_sync")
      .toArray()[0];
    const version = sql.exec<{ version: number }>("SELECT version FROM state_meta").toArray()[0]?.version ?? null;
    return !!m && m.snapshot_life === m.life && m.snapshot_version === version && m.index_life === m.life && m.index_version === version;
  });
}
