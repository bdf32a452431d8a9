/** Calls as MCP tools: the call routes' service and schemas (src/calls/, speech from src/speech/). */
import { CallParams, CallSession, CreateCallBody, SpeakResult } from "../../calls/schemas";
import { createCall, speakInCall } from "../../calls/service";
import { SpeechBody } from "../../speech/schemas";
import { defineTool, SENDS, WRITES, type McpTool } from "../tool";

export const CALL_TOOLS: readonly McpTool[] = [
  defineTool({
    name: "create_call",
    title: "Create a call",
    description:
      "Create a voice/video call session for an agent (status `pending`), optionally naming the `user_id` it is with and `metadata`. " +
      "People join through participants and the call page (HTTP API); the agent can talk into the call with `speak_in_call`.",
    mirrors: "POST /api/v2/calls",
    permission: "calls:write",
    input: CreateCallBody,
    output: CallSession,
    annotations: WRITES,
    run: (ctx, input) => createCall(ctx.env, input, ctx.principal, ctx.requestId),
  }),
  defineTool({
    name: "speak_in_call",
    title: "Speak in a call",
    description:
      "Say `text` in a call as the agent: it is turned into speech, sent to everyone connected and added to the transcript. " +
      "Refused with code `conflict` once the call has ended, and with `service_unavailable` when no speech provider is configured (the detail names the setting).",
    mirrors: "POST /api/v2/calls/{call_id}/speak",
    permission: "calls:write",
    input: CallParams.extend(SpeechBody.shape).strict(),
    output: SpeakResult,
    annotations: SENDS,
    run: (ctx, { call_id: callId, ...body }) => speakInCall(ctx.env, callId, ctx.principal, body),
  }),
];
