/** Routes for WebRTC calls: parse, call the call service, shape. */
import type { Hono } from "hono";
import { z } from "zod";
import * as calls from "./service";
import { CALL_ACTIONS, TRANSITIONS } from "./model";
import {
  AddParticipantBody,
  CallParams,
  CallParticipant,
  CallSession,
  CallsQuery,
  CreateCallBody,
  JoinResponse,
  ParticipantParams,
  PatchParticipantBody,
  TranscriptLine,
  WsQuery,
} from "./schemas";
import type { AppEnv } from "../http/app-env";
import { requirePermission } from "../auth/principal";
import { defineRoute } from "../http/route";

const TAGS = ["calls"];
const readErrors = { 403: { description: "The credential is limited to other agents." }, 404: { description: "Unknown call." } };
const writeErrors = {
  ...readErrors,
  409: { description: "The call's status forbids this." },
  422: { description: "The input does not match the schema." },
};

export function registerCallRoutes(app: Hono<AppEnv>): void {
  defineRoute(
    app,
    {
      method: "post",
      path: "/api/v2/calls",
      operationId: "createCall",
      summary: "Create a call (status pending)",
      tags: TAGS,
      permission: "calls:write",
      body: CreateCallBody,
      responses: {
        201: { description: "The new call.", schema: CallSession, headers: { Location: "The call's URL." } },
        403: readErrors[403],
        422: writeErrors[422],
      },
    },
    async (c, { body }) => {
      const call = await calls.createCall(c.env, body, c.var.principal, c.var.requestId);
      c.header("Location", `/api/v2/calls/${call.call_id}`);
      return c.json(call, 201);
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/v2/calls",
      operationId: "listCalls",
      summary: "Calls, newest first (optionally one agent's, one status)",
      tags: TAGS,
      permission: "state:read",
      query: CallsQuery,
      responses: {
        200: { description: "Calls.", schema: z.object({ calls: z.array(CallSession) }) },
        403: readErrors[403],
        422: writeErrors[422],
      },
    },
    async (c, { query }) => c.json({ calls: await calls.listCalls(c.env, c.var.principal, query) }),
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/v2/calls/:call_id",
      operationId: "getCall",
      summary: "One call with its roster and transcript",
      tags: TAGS,
      permission: "state:read",
      params: CallParams,
      responses: { 200: { description: "The call.", schema: CallSession }, ...readErrors },
    },
    async (c, { params }) => c.json(await calls.getCall(c.env, params.call_id, c.var.principal)),
  );

  for (const action of CALL_ACTIONS) {
    const rule = TRANSITIONS[action];
    defineRoute(
      app,
      {
        method: "post",
        path: `/api/v2/calls/:call_id/${action}`,
        operationId: `${action}Call`,
        summary: `${rule.from.join(" | ")} → ${rule.to}`,
        description:
          action === "end" || action === "fail"
            ? "Sets ended_at and duration_seconds, marks everyone as left and closes the signalling sockets."
            : undefined,
        tags: TAGS,
        permission: "calls:write",
        params: CallParams,
        responses: { 200: { description: "The call after the transition.", schema: CallSession }, ...writeErrors },
      },
      async (c, { params }) => c.json(await calls.transition(c.env, params.call_id, c.var.principal, action, c.var.requestId)),
    );
  }

  defineRoute(
    app,
    {
      method: "post",
      path: "/api/v2/calls/:call_id/participants",
      operationId: "addCallParticipant",
      summary: "Add a participant; returns its join token, call page URL (join_url) and WebSocket URL",
      tags: TAGS,
      permission: "calls:write",
      params: CallParams,
      body: AddParticipantBody,
      responses: {
        201: { description: "The participant and how it joins.", schema: JoinResponse },
        ...writeErrors,
        503: { description: "No CALL_SIGNING_SECRET (or JWT_SECRET) to sign join tokens." },
      },
    },
    async (c, { params, body }) => c.json(await calls.addParticipant(c.env, params.call_id, c.var.principal, body), 201),
  );

  defineRoute(
    app,
    {
      method: "delete",
      path: "/api/v2/calls/:call_id/participants/:participant_id",
      operationId: "removeCallParticipant",
      summary: "Remove a participant (left_at set, its socket closed, others told)",
      tags: TAGS,
      permission: "calls:write",
      params: ParticipantParams,
      responses: { 200: { description: "The participant as it left.", schema: CallParticipant }, ...writeErrors },
    },
    async (c, { params }) => c.json(await calls.removeParticipant(c.env, params.call_id, params.participant_id, c.var.principal)),
  );

  defineRoute(
    app,
    {
      method: "patch",
      path: "/api/v2/calls/:call_id/participants/:participant_id",
      operationId: "updateCallParticipant",
      summary: "Mute or unmute, video on or off (broadcast to the call's sockets)",
      tags: TAGS,
      permission: "calls:write",
      params: ParticipantParams,
      body: PatchParticipantBody,
      responses: { 200: { description: "The participant.", schema: CallParticipant }, ...writeErrors },
    },
    async (c, { params, body }) =>
      c.json(await calls.patchParticipant(c.env, params.call_id, params.participant_id, c.var.principal, body)),
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/v2/calls/:call_id/transcript",
      operationId: "getCallTranscript",
      summary: "The call's transcript, oldest line first",
      description:
        "Authorized by credentials with state:read, or by a join token of this call (?token=, a participant still in it: the call page uses this).",
      tags: TAGS,
      permission: "public",
      params: CallParams,
      query: WsQuery,
      responses: {
        200: { description: "The transcript.", schema: z.object({ call_id: z.string(), transcript: z.array(TranscriptLine) }) },
        401: { description: "No credentials, or a forged or expired join token." },
        ...readErrors,
      },
    },
    async (c, { params, query }) => {
      const transcript =
        query.token !== undefined
          ? (await calls.participantForToken(c.env, params.call_id, query.token)).call.transcript
          : await calls.getTranscript(c.env, params.call_id, requirePermission(c.var.principal, "state:read"));
      return c.json({ call_id: params.call_id, transcript });
    },
  );

  defineRoute(
    app,
    {
      method: "delete",
      path: "/api/v2/calls/:call_id/transcript",
      operationId: "clearCallTranscript",
      summary: "Erase the call's transcript",
      description:
        "Deletes every line (audio sent to /transcribe is never stored; a recorded call's audio is erased with DELETE …/recordings). Connected pages get `transcript_cleared`.",
      tags: TAGS,
      permission: "calls:write",
      params: CallParams,
      responses: {
        200: { description: "How many lines were erased.", schema: z.object({ call_id: z.string(), deleted: z.number().int() }) },
        ...readErrors,
      },
    },
    async (c, { params }) =>
      c.json({ call_id: params.call_id, deleted: await calls.clearTranscript(c.env, params.call_id, c.var.principal, c.var.requestId) }),
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/v2/calls/:call_id/ws",
      operationId: "callSignalling",
      summary: "Signalling WebSocket (protected by the join token, not by API credentials)",
      description:
        "See src/calls/messages.ts for the frames. 101 on success; 401 forged or expired token; 403 a token of another call or a removed participant; 409 the call has ended.",
      tags: TAGS,
      permission: "public",
      params: CallParams,
      query: WsQuery,
      responses: {
        101: { description: "Switching protocols." },
        400: { description: "Not a WebSocket upgrade." },
        401: { description: "Missing, forged or expired join token." },
        403: { description: "The token is for another call, or for no participant of it." },
        409: { description: "The participant left, or the call has ended." },
      },
    },
    (c, { params, query }) => calls.connect(c.env, params.call_id, query.token, c.req.raw),
  );
}
