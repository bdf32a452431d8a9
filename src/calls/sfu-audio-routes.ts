/**
 * SFU mode's live transcription routes (src/calls/sfu-audio.ts): open and close the Realtime SFU
 * WebSocket adapter that streams a participant's published audio track to the Worker, and the
 * endpoint that adapter dials (a WebSocket upgrade authenticated by the per-adapter token in its URL).
 */
import type { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../http/app-env";
import { defineRoute } from "../http/route";
import { CallParams } from "./schemas";
import { closeSfuTranscription, connectSfuAudio, openSfuTranscription } from "./sfu-audio";
import { PROXY_ROUTE, SessionParams, TrackName, acting, proxyErrors } from "./sfu-routes";

const TRANSCRIPTION = "/api/v2/calls/:call_id/sfu/sessions/:session_id/transcription";

const OpenBody = z.object({ trackName: TrackName.describe("A published audio track of the participant's own session.") }).strict();
const SfuTranscription = z.object({
  adapter_id: z.string().describe("The SFU's adapter id: close it with DELETE …/transcription/{adapter_id}."),
  session_id: z.string(),
  track_name: z.string(),
});
const AdapterParams = SessionParams.extend({ adapter_id: z.string().regex(/^[\w-]{1,128}$/, "an adapter id") });
const EndpointQuery = z.object({
  token: z.string().max(4096).optional().describe("The per-adapter token the Worker put in the endpoint it gave the SFU."),
});

const errors = {
  ...proxyErrors,
  404: { description: "Unknown call or participant, no published audio track of that name, or no such adapter of this participant." },
  409: { description: "The call has ended or failed, the participant left, or turned live transcription of their voice off." },
  503: { description: "SFU mode or live transcription (a speech provider) is not configured." },
};

export function registerCallSfuAudioRoutes(app: Hono<AppEnv>): void {
  defineRoute(
    app,
    {
      method: "post",
      path: TRANSCRIPTION,
      operationId: "openCallSfuTranscription",
      summary: "Stream a published audio track to live transcription (SFU WebSocket adapter, outputCodec pcm)",
      description:
        "The SFU dials this server's endpoint with an unguessable per-adapter token in the URL and streams the track as 48 kHz stereo PCM; the call object turns it into transcript lines like the page's frames. While the adapter is connected, audio frames on the participant's socket are ignored.",
      ...PROXY_ROUTE,
      params: SessionParams,
      body: OpenBody,
      responses: { 201: { description: "The adapter the SFU created.", schema: SfuTranscription }, ...errors },
    },
    async (c, { params, query, body }) => {
      const participantId = await acting(c, params.call_id, query.participant_id);
      return c.json(
        await openSfuTranscription(c.env, params.call_id, participantId, params.session_id, body.trackName, c.var.requestId),
        201,
      );
    },
  );

  defineRoute(
    app,
    {
      method: "delete",
      path: `${TRANSCRIPTION}/:adapter_id`,
      operationId: "closeCallSfuTranscription",
      summary: "Stop streaming a track to live transcription (adapters/websocket/close; only the participant's own adapter)",
      ...PROXY_ROUTE,
      params: AdapterParams,
      responses: {
        200: { description: "Closed.", schema: z.object({ adapter_id: z.string(), closed: z.literal(true) }) },
        ...errors,
      },
    },
    async (c, { params, query }) => {
      const participantId = await acting(c, params.call_id, query.participant_id);
      return c.json(
        await closeSfuTranscription(c.env, params.call_id, participantId, params.session_id, params.adapter_id, c.var.requestId),
      );
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/v2/calls/:call_id/sfu/audio",
      operationId: "callSfuAudioEndpoint",
      summary: "The endpoint the Realtime SFU's WebSocket adapter dials (protected by the per-adapter token in its URL)",
      description:
        "Binary messages are protobuf Packet {sequenceNumber=1, timestamp=2, payload=5} of 48 kHz stereo s16le PCM, at most 100 ms each, at about real time. 101 on success; 401 a missing, forged or expired token; 403 a token of another call; 409 the participant left or the call ended.",
      tags: ["calls"],
      permission: "public",
      params: CallParams,
      query: EndpointQuery,
      responses: {
        101: { description: "Switching protocols." },
        400: { description: "Not a WebSocket upgrade." },
        401: { description: "Missing, forged or expired token." },
        403: { description: "The token is for another call." },
        409: { description: "The participant left, or the call has ended." },
      },
    },
    (c, { params, query }) => connectSfuAudio(c.env, params.call_id, query.token, c.req.raw),
  );
}
