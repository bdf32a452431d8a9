/** Shortcuts for agent-state tests. */
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
