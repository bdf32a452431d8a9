/**
 * Live transcription in SFU mode: the Realtime SFU's WebSocket adapter streams a participant's
 * published audio track to the Worker, which feeds the call object's pipeline (the same one the
 * page's socket frames feed; durable-objects/call-session/sfu-audio.ts).
 *
 * - open (`POST …/sfu/sessions/{session_id}/transcription` {trackName}): the participant (join token
 *   or calls:write, as every proxy route), the SFU configured (503), a speech provider (503), the
 *   call's object (the participant's own session, a published audio track of that name, transcription
 *   not muted: 403/404/409), then `adapters/websocket/new` with `endpoint` =
 *   `{PUBLIC_BASE_URL as ws(s)}/api/v2/calls/{call_id}/sfu/audio?token=<call-sfu-audio token>`: the
 *   SFU cannot send headers, so the credential is an unguessable per-adapter token in the URL
 *   (src/calls/tokens.ts), never returned to the caller and never logged (logs carry paths only).
 * - close (`DELETE …/transcription/{adapter_id}`): only an adapter this participant opened.
 * - the endpoint (`GET /api/v2/calls/{call_id}/sfu/audio?token=`): a WebSocket upgrade with a valid
 *   token for this call (401/403), for a participant still in a live call (409).
 */
import { AppError } from "../lib/problem";
import { speechFromEnv } from "../speech/service";
import { getConfig } from "../lib/config";
import { callSession, callValue } from "./service";
import { checkSessionOwner } from "./sfu-ownership";
import { allow, sfuClient, upstream, type Op } from "./sfu-proxy";
import { callSigningSecret, signSfuAudioToken, verifySfuAudioToken } from "./tokens";

export interface SfuTranscription {
  adapter_id: string;
  session_id: string;
  track_name: string;
}

/** The endpoint the SFU dials for one adapter (contains its secret token). */
export function sfuAudioEndpoint(env: Env, callId: string, token: string): string {
  const base = getConfig(env).publicBaseUrl.replace(/\/+$/, "").replace(/^http/i, "ws");
  return `${base}/api/v2/calls/${encodeURIComponent(callId)}/sfu/audio?token=${encodeURIComponent(token)}`;
}

export async function openSfuTranscription(
  env: Env,
  callId: string,
  participantId: string,
  sessionId: string,
  trackName: string,
  requestId?: string,
): Promise<SfuTranscription> {
  const op: Op = { env, callId, participantId, name: "adapters/websocket/new", requestId };
  const sfu = sfuClient(env);
  const speech = speechFromEnv(env);
  if (!speech.provider)
    throw new AppError("service_unavailable", `Live transcription is unavailable: ${speech.reason}`, {
      extensions: { settings: ["SPEECH_BASE_URL", "SPEECH_PROVIDER"] },
    });
  const call = callSession(env, callId);
  const { record } = callValue(await call.sfuContext(participantId));
  allow(op, checkSessionOwner(record, sessionId));
  callValue(await call.sfuAudioTrack(participantId, sessionId, trackName));
  const token = await signSfuAudioToken(callSigningSecret(env), { callId, participantId, nowMs: Date.now() });
  const endpoint = sfuAudioEndpoint(env, callId, token);
  const answer = await upstream(op, () =>
    sfu.newWebSocketAdapters([{ location: "remote", sessionId, trackName, endpoint, outputCodec: "pcm" }]),
  );
  const result = answer.tracks[0];
  if (!result?.adapterId || result.errorCode)
    throw new AppError(
      "bad_gateway",
      `Realtime SFU: the adapter was not created: ${result?.errorDescription ?? result?.errorCode ?? "no adapter in the answer"}`,
      {
        extensions: result?.errorCode ? { sfu_error_code: result.errorCode } : {},
      },
    );
  await call.recordSfuAudioAdapter(result.adapterId, { participantId, sessionId, trackName });
  return { adapter_id: result.adapterId, session_id: sessionId, track_name: trackName };
}

export async function closeSfuTranscription(
  env: Env,
  callId: string,
  participantId: string,
  sessionId: string,
  adapterId: string,
  requestId?: string,
): Promise<{ adapter_id: string; closed: true }> {
  const op: Op = { env, callId, participantId, name: "adapters/websocket/close", requestId };
  const sfu = sfuClient(env);
  const call = callSession(env, callId);
  const { record } = callValue(await call.sfuContext(participantId));
  allow(op, checkSessionOwner(record, sessionId));
  const adapter = callValue(await call.sfuAudioAdapter(participantId, adapterId));
  if (adapter.sessionId !== sessionId) throw new AppError("not_found", `No audio adapter '${adapterId}' on this SFU session.`);
  await upstream(op, () => sfu.closeWebSocketAdapters([adapterId]));
  await call.forgetSfuAudioAdapter(adapterId);
  return { adapter_id: adapterId, closed: true };
}

/** The SFU dialing in: its token names the participant; the call's object takes the socket. */
export async function connectSfuAudio(env: Env, callId: string, token: string | undefined, request: Request): Promise<Response> {
  const participantId = await verifySfuAudioToken(callSigningSecret(env), token, callId);
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket")
    throw new AppError("malformed_request", "This endpoint expects a WebSocket upgrade (Upgrade: websocket).");
  const res = await callSession(env, callId).fetch(
    new Request(`https://call-session/sfu-audio?participant_id=${encodeURIComponent(participantId)}`, request),
  );
  if (res.status === 101) return res;
  return callValue(await res.json());
}
