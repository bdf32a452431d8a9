/**
 * How agent state looks on the wire and in KV. The stored JSON text of `state_data` is
 * spliced into the document as is: loads never parse and re-serialize a large object.
 */
import { iso } from "../lib/time";
import type { StateVersionRecord } from "./model";

/** KV key of the latest snapshot. */
export function snapshotKey(agentId: string): string {
  return `agent_state:${agentId}`;
}

/** A `PersistentState` document as JSON text. */
export function renderPersistentState(r: StateVersionRecord): string {
  return (
    `{"agent_id":${JSON.stringify(r.agent_id)},"agent_type":${JSON.stringify(r.agent_type)},` +
    `"state_data":${r.state_json},"created_at":"${iso(r.created_at)}","updated_at":"${iso(r.updated_at)}",` +
    `"version":${r.version}${r.restored_from === null ? "" : `,"restored_from":${r.restored_from}`}}`
  );
}

/** The answer to a save, or with `restoredFrom` to a restore, for the route and the MCP tool alike (`SaveStateResponse`). */
export function savedState(agentId: string, version: number, restoredFrom?: number) {
  return restoredFrom === undefined
    ? { success: true as const, agent_id: agentId, version, message: "State saved successfully" }
    : {
        success: true as const,
        agent_id: agentId,
        version,
        restored_from: restoredFrom,
        message: `Version ${restoredFrom} restored as version ${version}`,
      };
}

export function etag(version: number): string {
  return `"${version}"`;
}

/**
 * Parses `If-Match`: `"3"`, `W/"3"` or a bare `3` name version 3; `*` means any existing state.
 * Anything else is not a version this API ever issued, so it can never match.
 */
export function parseIfMatch(header: string | undefined): number | "*" | "never" | undefined {
  if (header === undefined) return undefined;
  const first = header.split(",")[0]!.trim();
  if (first === "*") return "*";
  const m = /^(?:W\/)?"?(\d{1,15})"?$/.exec(first);
  return m ? Number(m[1]) : "never";
}
