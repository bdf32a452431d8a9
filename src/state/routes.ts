/** Routes for versioned agent state: parse, call the state service, shape. */
import type { Context, Hono } from "hono";
import type { AppEnv } from "../http/app-env";
import { defineRoute } from "../http/route";
import {
  AgentList,
  AgentParams,
  AgentsQuery,
  AgentVersionParams,
  DeleteStateResponse,
  LoadStateQuery,
  PersistentState,
  RestoreBody,
  SaveStateBody,
  SaveStateResponse,
  VersionList,
  VersionsQuery,
  adaptLegacySaveBody,
} from "./schemas";
import * as state from "./service";
import { etag, renderPersistentState, savedState } from "./wire";

const TAGS = ["state"];
const IF_MATCH = { "If-Match": 'Save only if the current version is this one (`"3"`), or `*` for "any existing state".' };
const ETAG_HEADER = { ETag: 'The version, quoted: `"3"`.' };

function jsonText(c: Context<AppEnv>, body: string, version: number, status: 200 | 201 = 200): Response {
  c.header("ETag", etag(version));
  c.header("Content-Type", "application/json");
  return c.body(body, status);
}

export function registerAgentRoutes(app: Hono<AppEnv>): void {
  defineRoute(
    app,
    {
      method: "post",
      path: "/api/v2/agents/:agent_id/state",
      operationId: "saveAgentState",
      summary: "Save a new version of an agent's state",
      description:
        "Writes `state_data` as version = previous + 1. Conditional with `If-Match` or `expected_version` (412 on mismatch, nothing changed). " +
        "The prototype's form (`?agent_type=` with the state object itself as body) is accepted too.",
      tags: TAGS,
      permission: "state:write",
      params: AgentParams,
      headers: IF_MATCH,
      body: SaveStateBody,
      legacyBody: adaptLegacySaveBody,
      responses: {
        200: { description: "Saved.", schema: SaveStateResponse, headers: ETAG_HEADER },
        400: { description: "Malformed JSON." },
        412: { description: "The precondition does not match the current version." },
        413: { description: "`state_data` exceeds 1 MiB, or the body exceeds the body limit." },
        415: { description: "The body is not JSON." },
        422: { description: "The body does not match the schema." },
      },
    },
    async (c, { params, body }) => {
      const { version } = await state.saveState(c.env, {
        agentId: params.agent_id,
        agentType: body.agent_type,
        stateData: body.state_data,
        ifMatch: c.req.header("if-match"),
        expectedVersion: body.expected_version,
        requestId: c.var.requestId,
      });
      c.header("ETag", etag(version));
      return c.json(savedState(params.agent_id, version));
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/v2/agents/:agent_id/state",
      operationId: "loadAgentState",
      summary: "Load the latest state",
      tags: TAGS,
      permission: "state:read",
      params: AgentParams,
      query: LoadStateQuery,
      headers: { "If-None-Match": "Answer 304 when the current version is this one." },
      responses: {
        200: { description: "The latest version.", schema: PersistentState, headers: ETAG_HEADER },
        304: { description: "Not modified." },
        404: { description: "The agent has no state." },
      },
    },
    async (c, { params, query }) => {
      const loaded = await state.loadState(c.env, params.agent_id, query.consistency);
      if (c.req.header("if-none-match") === etag(loaded.version)) {
        c.header("ETag", etag(loaded.version));
        return c.body(null, 304);
      }
      c.header("X-State-Source", loaded.source);
      return jsonText(c, loaded.json, loaded.version);
    },
  );

  defineRoute(
    app,
    {
      method: "delete",
      path: "/api/v2/agents/:agent_id/state",
      operationId: "deleteAgentState",
      summary: "Erase the state and its whole history",
      description: "A real delete: the KV snapshot and the index row go too. The next save starts again at version 1.",
      tags: TAGS,
      permission: "state:write",
      params: AgentParams,
      responses: { 200: { description: "Erased.", schema: DeleteStateResponse }, 404: { description: "The agent has no state." } },
    },
    async (c, { params }) => {
      await state.deleteState(c.env, params.agent_id, c.var.requestId);
      return c.json({ success: true, agent_id: params.agent_id, message: "State and history deleted" });
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/v2/agents/:agent_id/state/versions",
      operationId: "listStateVersions",
      summary: "List kept versions, newest first",
      tags: TAGS,
      permission: "state:read",
      params: AgentParams,
      query: VersionsQuery,
      responses: { 200: { description: "A page of versions.", schema: VersionList }, 404: { description: "The agent has no state." } },
    },
    async (c, { params, query }) => c.json(await state.listVersions(c.env, params.agent_id, query.limit, query.cursor)),
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/v2/agents/:agent_id/state/versions/:version",
      operationId: "getStateVersion",
      summary: "Read one kept version",
      tags: TAGS,
      permission: "state:read",
      params: AgentVersionParams,
      responses: {
        200: { description: "That version.", schema: PersistentState, headers: ETAG_HEADER },
        404: { description: "Unknown agent, or a version not kept." },
      },
    },
    async (c, { params }) => {
      const record = await state.loadVersion(c.env, params.agent_id, params.version);
      return jsonText(c, renderPersistentState(record), record.version);
    },
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/api/v2/agents/:agent_id/state/restore",
      operationId: "restoreStateVersion",
      summary: "Restore an old version as a new version",
      tags: TAGS,
      permission: "state:write",
      params: AgentParams,
      headers: IF_MATCH,
      body: RestoreBody,
      responses: {
        200: { description: "Restored.", schema: SaveStateResponse, headers: ETAG_HEADER },
        404: { description: "Unknown agent, or a version not kept." },
        412: { description: "The precondition does not match the current version." },
        422: { description: "The body does not match the schema." },
      },
    },
    async (c, { params, body }) => {
      const { version } = await state.restoreState(c.env, {
        agentId: params.agent_id,
        version: body.version,
        ifMatch: c.req.header("if-match"),
        expectedVersion: body.expected_version,
        requestId: c.var.requestId,
      });
      c.header("ETag", etag(version));
      return c.json(savedState(params.agent_id, version, body.version));
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/v2/agents",
      operationId: "listAgents",
      summary: "List agents that have state",
      description: "From the D1 index, which follows each agent's Durable Object within moments of a save.",
      tags: TAGS,
      permission: "state:read",
      query: AgentsQuery,
      responses: { 200: { description: "A page of agents, by id.", schema: AgentList } },
    },
    async (c, { query }) =>
      c.json(
        await state.listAgents(c.env, {
          limit: query.limit,
          cursor: query.cursor,
          agentType: query.agent_type,
          onlyAgents: c.var.principal.agents,
        }),
      ),
  );
}
