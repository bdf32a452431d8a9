/**
 * A call's media routes: speech-to-text into its transcript, the agent speaking into it, and the
 * ICE servers a browser needs to join. Speech itself (providers, limits) lives in src/speech/.
 */
import type { Hono } from "hono";
import { z } from "zod";
import * as calls from "./service";
import { CallParams, ParticipantId, SpeakResult } from "./schemas";
import { AUDIO_CONTENT_TYPES } from "../speech/service";
import { SpeechBody } from "../speech/schemas";
import type { AppEnv } from "../http/app-env";
import { defineRoute } from "../http/route";

const TAGS = ["calls"];

const TranscribeQuery = z.object({
  participant_id: ParticipantId.describe("Who spoke."),
  language: z
    .string()
    .regex(/^[a-z]{2}$/, "an ISO 639-1 code")
    .optional()
    .describe("Hint for the recognizer."),
});

const VoiceToTextResult = z.object({
  text: z.string(),
  language: z.string(),
  confidence: z.number().nullable(),
  duration_seconds: z.number().nullable(),
  participant_id: z.string(),
  created_at: z.string(),
});

const IceServersResult = z.object({
  call_id: z.string(),
  source: z.enum(["turn", "stun"]),
  ice_servers: z.array(
    z.object({ urls: z.union([z.string(), z.array(z.string())]), username: z.string().optional(), credential: z.string().optional() }),
  ),
});

const AgentRespondResult = z.object({
  accepted: z.literal(true),
  answering: z.object({ participant_id: z.string(), text: z.string() }).describe("The participant line the agent answers."),
});

const callErrors = {
  403: { description: "The credential lacks calls:write or is limited to other agents." },
  404: { description: "Unknown call (or participant)." },
  409: { description: "The call has ended." },
  422: { description: "The input does not match the schema." },
  503: { description: "No speech provider is configured (the detail names SPEECH_BASE_URL / SPEECH_PROVIDER), or it failed." },
};

export function registerCallMediaRoutes(app: Hono<AppEnv>): void {
  defineRoute(
    app,
    {
      method: "post",
      path: "/api/v2/calls/:call_id/transcribe",
      operationId: "transcribeCallAudio",
      summary: "Speech-to-text for one participant; the text is appended to the transcript and broadcast",
      description: `Raw audio body with its Content-Type (${AUDIO_CONTENT_TYPES.join(", ")}). Never invents text: no provider is 503.`,
      tags: TAGS,
      permission: "calls:write",
      params: CallParams,
      query: TranscribeQuery,
      headers: { "Content-Type": "The audio's media type." },
      responses: {
        200: { description: "What was heard.", schema: VoiceToTextResult },
        ...callErrors,
        413: { description: "The audio is too large." },
        415: { description: "Not a supported audio type." },
      },
    },
    async (c, { params, query }) =>
      c.json(
        await calls.transcribeAudio(
          c.env,
          params.call_id,
          c.var.principal,
          {
            participantId: query.participant_id,
            language: query.language,
            contentType: c.req.header("content-type") ?? null,
            audio: () => c.req.raw.arrayBuffer(),
          },
          c.var.requestId,
        ),
      ),
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/api/v2/calls/:call_id/speak",
      operationId: "speakInCall",
      summary: "The agent says something in the call: every socket gets agent_speech, the transcript gets the line",
      tags: TAGS,
      permission: "calls:write",
      params: CallParams,
      body: SpeechBody,
      responses: { 200: { description: "What was spoken.", schema: SpeakResult }, ...callErrors },
    },
    async (c, { params, body }) => c.json(await calls.speakInCall(c.env, params.call_id, c.var.principal, body, c.var.requestId)),
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/api/v2/calls/:call_id/agent/respond",
      operationId: "askCallAgent",
      summary: "The call's answering agent answers the latest thing a participant said, now",
      description:
        "The explicit request of on_request mode (also works in auto mode): the agent answers the latest participant line as if it had been addressed, " +
        "by voice on every socket and in the transcript (docs/voice.md). Accepted at once; the answer follows on the sockets.",
      tags: TAGS,
      permission: "calls:write",
      params: CallParams,
      responses: {
        202: { description: "The agent is answering this line.", schema: AgentRespondResult },
        403: callErrors[403],
        404: { description: "Unknown call." },
        409: { description: "The call has ended, its agent is off, or no participant has said anything yet." },
        503: { description: "No language model is configured (the detail names LLM_BASE_URL / LLM_PROVIDER)." },
      },
    },
    async (c, { params }) => c.json(await calls.askAgent(c.env, params.call_id, c.var.principal, c.var.requestId), 202),
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/v2/calls/:call_id/ice-servers",
      operationId: "callIceServers",
      summary: "ICE servers for the browser: TURN credentials when a TURN key is configured, else STUN",
      description: "Authorized by a join token of this call (?token=) or by credentials with calls:write.",
      tags: TAGS,
      permission: "public",
      params: CallParams,
      query: z.object({ token: z.string().max(4096).optional().describe("A join token from POST …/participants.") }),
      responses: {
        200: { description: "RTCConfiguration.iceServers entries.", schema: IceServersResult },
        401: { description: "No credentials, or a forged or expired join token." },
        403: { description: "A token of another call, a participant who left, or no calls:write." },
        404: callErrors[404],
        503: { description: "The configured TURN key failed." },
      },
    },
    async (c, { params, query }) =>
      c.json(await calls.callIceServers(c.env, params.call_id, { token: query.token, principal: c.var.principal })),
  );
}
