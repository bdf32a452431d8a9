/** Versioned agent state as MCP tools: the state routes' service and schemas (src/state/). */
import type { z } from "zod";
import {
  AgentList,
  AgentParams,
  AgentsQuery,
  LoadStateQuery,
  PersistentState,
  RestoreBody,
  SaveStateBody,
  SaveStateResponse,
  VersionList,
  VersionsQuery,
} from "../../state/schemas";
import { listAgents, listVersions, loadState, restoreState, saveState } from "../../state/service";
import { savedState } from "../../state/wire";
import { defineTool, READ_ONLY, WRITES, type McpTool } from "../tool";

export const STATE_TOOLS: readonly McpTool[] = [
  defineTool({
    name: "save_agent_state",
    title: "Save agent state",
    description:
      "Save a new version of an agent's state: `state_data` (any JSON object, at most 1 MiB) becomes version = previous + 1, and earlier versions stay in the history. " +
      "The agent is created by its first save. To avoid overwriting someone else's change, pass `expected_version` (the version you read; 0 = only if the agent has no state yet): " +
      "if the agent is at another version nothing is saved and the error's code is `precondition_failed` with `current_version`.",
    mirrors: "POST /api/v2/agents/{agent_id}/state",
    permission: "state:write",
    input: AgentParams.extend(SaveStateBody.shape).strict(),
    output: SaveStateResponse,
    annotations: WRITES,
    async run(ctx, input) {
      const { version } = await saveState(ctx.env, {
        agentId: input.agent_id,
        agentType: input.agent_type,
        stateData: input.state_data,
        expectedVersion: input.expected_version,
        requestId: ctx.requestId,
      });
      return savedState(input.agent_id, version);
    },
  }),
  defineTool({
    name: "load_agent_state",
    title: "Load agent state",
    description:
      "Load an agent's current state: `state_data` with its `version`, `agent_type` and timestamps. " +
      "An agent that was never saved (or was deleted) is an error with code `not_found`. Use `list_state_versions` for older versions.",
    mirrors: "GET /api/v2/agents/{agent_id}/state",
    permission: "state:read",
    input: AgentParams.extend(LoadStateQuery.shape).strict(),
    output: PersistentState,
    annotations: READ_ONLY,
    async run(ctx, input) {
      const loaded = await loadState(ctx.env, input.agent_id, input.consistency);
      return JSON.parse(loaded.json) as z.input<typeof PersistentState>;
    },
  }),
  defineTool({
    name: "list_agents",
    title: "List agents",
    description:
      "List the agents that have state (only those this credential may see), by id, with their type, current version and instance count. " +
      "Pages of `limit` (default 20); pass the returned `next_cursor` as `cursor` for the next page (null: no more).",
    mirrors: "GET /api/v2/agents",
    permission: "state:read",
    input: AgentsQuery.strict(),
    output: AgentList,
    annotations: READ_ONLY,
    run: (ctx, input) =>
      listAgents(ctx.env, { limit: input.limit, cursor: input.cursor, agentType: input.agent_type, onlyAgents: ctx.principal.agents }),
  }),
  defineTool({
    name: "list_state_versions",
    title: "List state versions",
    description:
      "List the kept versions of an agent's state, newest first (version, type, size, time, and which version a restore copied). " +
      "Pages of `limit`; pass `next_cursor` as `cursor` for older ones. Restore one with `restore_agent_state`.",
    mirrors: "GET /api/v2/agents/{agent_id}/state/versions",
    permission: "state:read",
    input: AgentParams.extend(VersionsQuery.shape).strict(),
    output: VersionList,
    annotations: READ_ONLY,
    run: (ctx, input) => listVersions(ctx.env, input.agent_id, input.limit, input.cursor),
  }),
  defineTool({
    name: "restore_agent_state",
    title: "Restore a state version",
    description:
      "Make an old version current again: its data is saved as a new version (history is never rewritten), and the answer says which version it was restored from. " +
      "`expected_version` works as for `save_agent_state`. A version no longer kept is an error with code `not_found`.",
    mirrors: "POST /api/v2/agents/{agent_id}/state/restore",
    permission: "state:write",
    input: AgentParams.extend(RestoreBody.shape).strict(),
    output: SaveStateResponse,
    annotations: WRITES,
    async run(ctx, input) {
      const { version } = await restoreState(ctx.env, {
        agentId: input.agent_id,
        version: input.version,
        expectedVersion: input.expected_version,
        requestId: ctx.requestId,
      });
      return savedState(input.agent_id, version, input.version);
    },
  }),
];
