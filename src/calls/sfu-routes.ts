/**
 * The Realtime SFU proxy for the browser (SFU mode; see src/calls/sfu-proxy.ts for the
 * order of checks). Bodies and answers are the SFU's own ("Connection API", camelCase) so a
 * browser client written against it works unchanged; the one field of ours is `media_type` on a
 * published track (else taken from the offer's m-line). Authorized by the participant's join token
 * as `Authorization: Bearer <join token>`, or API credentials with calls:write and ?participant_id=.
 */
import type { Context, Hono } from "hono";
import { z } from "zod";
import { credentialsFrom, type OwnBearerRoutes } from "../auth/authenticate";
import { CallId, CallParams, ParticipantId } from "./schemas";
import { MEDIA_TYPES } from "./model";
import {
  closeTracksResponseSchema,
  newSessionResponseSchema,
  renegotiateResponseSchema,
  sessionStateSchema,
  tracksResponseSchema,
} from "./sfu-client";
import * as sfu from "./sfu-proxy";
import type { AppEnv } from "../http/app-env";
import { defineRoute } from "../http/route";

const TAGS = ["calls"];
const BASE = "/api/v2/calls/:call_id/sfu/sessions";
/**
 * The proxy routes take the call's join token as `Authorization: Bearer`, so authentication lets
 * that one purpose's token through to them (without a principal); every other route refuses it.
 */
export const SFU_PROXY_BEARER: OwnBearerRoutes = { path: /^\/api\/v2\/calls\/[^/]+\/sfu\/sessions(?:\/|$)/, purpose: "call-join" };
const MAX_SDP_CHARS = 128 * 1024;
const MAX_TRACKS_PER_REQUEST = 16;

const SessionId = z.string().regex(/^[\w-]{1,128}$/, "an SFU session id");
const SessionParams = z.object({ call_id: CallId, session_id: SessionId });
const ActingQuery = z.object({
  participant_id: ParticipantId.optional().describe(
    "Required with API credentials: the participant to act for. With a join token it may only name the token's own participant.",
  ),
});
const Sdp = z.object({ type: z.enum(["offer", "answer"]), sdp: z.string().min(1).max(MAX_SDP_CHARS) }).strict();
const Mid = z.string().min(1).max(64);
const TrackName = z.string().min(1).max(128);

const NewSessionBody = z
  .object({ sessionDescription: Sdp.optional().describe("Optional: an offer; the SFU's answer comes back.") })
  .strict();

const LocalTrack = z
  .object({
    location: z.literal("local"),
    mid: Mid,
    trackName: TrackName,
    media_type: z.enum(MEDIA_TYPES).optional().describe("Ours, not forwarded: what the roster shows (default: the offer's m-line kind)."),
  })
  .strict();
const RemoteTrack = z
  .object({
    location: z.literal("remote"),
    sessionId: SessionId.describe("The publisher's SFU session: another participant's sfu_session_id in this call."),
    trackName: TrackName,
    mid: Mid.optional(),
    simulcast: z
      .object({
        preferredRid: z.string().max(32).optional(),
        priorityOrdering: z.string().max(32).optional(),
        ridNotAvailable: z.string().max(32).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

const NewTracksBody = z
  .object({
    sessionDescription: Sdp.optional().describe("The endpoint's offer, required when publishing local tracks."),
    tracks: z
      .array(z.discriminatedUnion("location", [LocalTrack, RemoteTrack]))
      .min(1)
      .max(MAX_TRACKS_PER_REQUEST),
  })
  .strict()
  .refine((b) => !b.tracks.some((t) => t.location === "local") || b.sessionDescription?.type === "offer", {
    message: "publishing local tracks needs the endpoint's offer (sessionDescription.type = offer)",
    path: ["sessionDescription"],
  });

const RenegotiateBody = z
  .object({ sessionDescription: z.object({ type: z.literal("answer"), sdp: z.string().min(1).max(MAX_SDP_CHARS) }).strict() })
  .strict();

const CloseTracksBody = z
  .object({
    tracks: z
      .array(z.object({ mid: Mid }).strict())
      .min(1)
      .max(MAX_TRACKS_PER_REQUEST),
    force: z.boolean().default(true).describe("true: close without renegotiation; false: send the endpoint's new offer too."),
    sessionDescription: Sdp.optional(),
  })
  .strict()
  .refine((b) => b.force || b.sessionDescription?.type === "offer", {
    message: "force: false needs the endpoint's offer",
    path: ["sessionDescription"],
  });

const errors = {
  401: { description: "No credentials, or a forged or expired join token." },
  403: {
    description:
      "Ownership refused (another participant's session, a mid this participant did not open, a session outside the call), a token of another call, or no calls:write.",
  },
  404: { description: "Unknown call or participant." },
  409: { description: "The call has ended or failed, the participant left, or the track limit is reached." },
  422: { description: "The input does not match the schema." },
  502: { description: "The Realtime SFU refused or failed; `detail` carries its message. Nothing was recorded." },
  503: { description: "SFU mode is not configured (REALTIME_APP_ID, REALTIME_APP_SECRET): calls run peer-to-peer." },
};

/** What every proxy route declares alike: public (it checks its own credentials), acting as a participant. */
const PROXY_ROUTE = {
  tags: TAGS,
  permission: "public",
  query: ActingQuery,
  headers: { Authorization: "Bearer <join token> (or API credentials with calls:write)." },
} as const;

/** The participant acting for this request (join token or API credentials). */
function acting(c: Context<AppEnv>, callId: string, participantId: string | undefined): Promise<string> {
  return sfu.sfuParticipant(c.env, callId, { principal: c.var.principal, bearer: credentialsFrom(c.req.raw), participantId });
}

export { PROXY_ROUTE, SessionParams, TrackName, acting, errors as proxyErrors };

export function registerCallSfuRoutes(app: Hono<AppEnv>): void {
  defineRoute(
    app,
    {
      method: "post",
      path: BASE,
      operationId: "createCallSfuSession",
      summary: "SFU sessions/new for the participant (replaces its previous session and forgets that session's tracks)",
      ...PROXY_ROUTE,
      params: CallParams,
      body: NewSessionBody,
      bodyRequired: false,
      responses: {
        201: {
          description: "The SFU's answer: sessionId (recorded as the participant's sfu_session_id).",
          schema: newSessionResponseSchema,
        },
        ...errors,
      },
    },
    async (c, { params, query, body }) => {
      const participantId = await acting(c, params.call_id, query.participant_id);
      return c.json(await sfu.createSfuSession(c.env, params.call_id, participantId, body?.sessionDescription, c.var.requestId), 201);
    },
  );

  defineRoute(
    app,
    {
      method: "post",
      path: `${BASE}/:session_id/tracks`,
      operationId: "newCallSfuTracks",
      summary: "SFU tracks/new: publish local tracks on the own session, or pull tracks of this call's sessions",
      description:
        "Accepted local tracks join the participant's media_streams and are announced (`track_published`); a track the SFU answered with errorCode is not recorded.",
      ...PROXY_ROUTE,
      params: SessionParams,
      body: NewTracksBody,
      responses: {
        200: { description: "The SFU's answer, as is (per-track errorCode included).", schema: tracksResponseSchema },
        ...errors,
      },
    },
    async (c, { params, query, body }) => {
      const participantId = await acting(c, params.call_id, query.participant_id);
      return c.json(await sfu.newSfuTracks(c.env, params.call_id, participantId, params.session_id, body, c.var.requestId));
    },
  );

  defineRoute(
    app,
    {
      method: "put",
      path: `${BASE}/:session_id/renegotiate`,
      operationId: "renegotiateCallSfuSession",
      summary: "SFU renegotiate: the participant's answer to the SFU's offer",
      ...PROXY_ROUTE,
      params: SessionParams,
      body: RenegotiateBody,
      responses: { 200: { description: "Done.", schema: renegotiateResponseSchema }, ...errors },
    },
    async (c, { params, query, body }) => {
      const participantId = await acting(c, params.call_id, query.participant_id);
      return c.json(
        await sfu.renegotiateSfu(c.env, params.call_id, participantId, params.session_id, body.sessionDescription.sdp, c.var.requestId),
      );
    },
  );

  defineRoute(
    app,
    {
      method: "put",
      path: `${BASE}/:session_id/tracks/close`,
      operationId: "closeCallSfuTracks",
      summary: "SFU tracks/close: only mids this participant opened through the proxy",
      description: "Closed published tracks leave media_streams and are announced (`track_closed`).",
      ...PROXY_ROUTE,
      params: SessionParams,
      body: CloseTracksBody,
      responses: { 200: { description: "The SFU's answer, as is.", schema: closeTracksResponseSchema }, ...errors },
    },
    async (c, { params, query, body }) => {
      const participantId = await acting(c, params.call_id, query.participant_id);
      const request = { mids: body.tracks.map((t) => t.mid), force: body.force, sessionDescription: body.sessionDescription };
      return c.json(await sfu.closeSfuTracks(c.env, params.call_id, participantId, params.session_id, request, c.var.requestId));
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: `${BASE}/:session_id`,
      operationId: "getCallSfuSession",
      summary: "SFU session state (tracks and data channels) of the participant's own session",
      ...PROXY_ROUTE,
      params: SessionParams,
      responses: { 200: { description: "The SFU's view of the session.", schema: sessionStateSchema }, ...errors },
    },
    async (c, { params, query }) => {
      const participantId = await acting(c, params.call_id, query.participant_id);
      return c.json(await sfu.sfuSessionState(c.env, params.call_id, participantId, params.session_id, c.var.requestId));
    },
  );
}
