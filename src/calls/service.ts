/**
 * Call use cases: create, read, list, transitions, roster, join tokens and the
 * signalling upgrade. Each call lives in its own CallSessionDO (named by call id); D1's
 * `call_index` lists calls by agent and mirrors their status.
 */
import type { CallSessionDO } from "../../durable-objects/call-session";
import { requireAgent, requirePermission, type Principal } from "../auth/principal";
import { getConfig } from "../lib/config";
import { newId } from "../lib/ids";
import { log } from "../lib/log";
import { AppError } from "../lib/problem";
import { unwrap } from "../lib/result";
import { iso } from "../lib/time";
import {
  FINAL_STATUSES,
  type CallAction,
  type CallHead,
  type CallParticipant,
  type CallResult,
  type CallSession,
  type CallStatus,
  type TranscriptLine,
} from "./model";
import { callAgent } from "./agent-config";
import type { CreateCallBody } from "./schemas";
import { turnCredentials } from "./settings";
import { SfuError, iceServers, type IceServer } from "./sfu-client";
import { bytesToBase64 } from "../lib/base64";
import { checkedSpeech, requireSpeech } from "../speech/service";
import { llmFromEnv } from "../llm/service";
import { JOIN_TOKEN_TTL_SECONDS, callSigningSecret, signJoinToken, verifyJoinToken } from "./tokens";
import { checkRecordingPossible } from "./recordings/model";

type Rpc = Pick<
  CallSessionDO,
  | "create"
  | "get"
  | "head"
  | "transition"
  | "addParticipant"
  | "removeParticipant"
  | "updateParticipant"
  | "transcript"
  | "appendTranscript"
  | "clearTranscript"
  | "connections"
  | "sfuContext"
  | "recordSfuSession"
  | "recordSfuTracks"
  | "forgetSfuTracks"
  | "sfuAudioTrack"
  | "recordSfuAudioAdapter"
  | "sfuAudioAdapter"
  | "forgetSfuAudioAdapter"
  | "speak"
  | "agentRespond"
  | "recordingFile"
  | "eraseRecordings"
>;
/** The stub's methods with their declared results (the generated RPC types cannot express `unknown` metadata). */
export type CallStub = { [K in keyof Rpc]: (...args: Parameters<Rpc[K]>) => Promise<ReturnType<Rpc[K]>> } & {
  fetch(request: Request): Promise<Response>;
};

/** The call's Durable Object (also for the speech routes: `appendTranscript` records and broadcasts). */
export function callSession(env: Env, callId: string): CallStub {
  return env.CALL_SESSION.getByName(callId) as unknown as CallStub;
}

const stub = callSession;

export function callValue<T>(result: CallResult<T>): T {
  return unwrap(result, (failure) =>
    failure.reason === "not_found"
      ? new AppError("not_found", failure.detail)
      : new AppError("conflict", failure.detail, failure.status ? { extensions: { call_status: failure.status } } : {}),
  );
}

/** Reads a call the principal may see (404 when unknown, 403 for a restricted credential). */
export async function getCall(env: Env, callId: string, principal: Principal): Promise<CallSession> {
  const call = await stub(env, callId).get();
  if (!call) throw new AppError("not_found", `No call '${callId}'.`);
  requireAgent(principal, call.agent_id);
  return call;
}

/** The same checks without reading the transcript: for every route that acts on the call. */
export async function authorizeCall(env: Env, callId: string, principal: Principal): Promise<CallHead> {
  const call = await stub(env, callId).head();
  if (!call) throw new AppError("not_found", `No call '${callId}'.`);
  requireAgent(principal, call.agent_id);
  return call;
}

export async function createCall(env: Env, body: CreateCallBody, principal: Principal, requestId?: string): Promise<CallSession> {
  requireAgent(principal, body.agent_id);
  checkRecordingPossible(env, body.recording_enabled);
  const callId = newId("call");
  const nowMs = Date.now();
  // Index first: once the call exists, listing must find it.
  await env.DB.prepare("INSERT INTO call_index (call_id, agent_id, status, created_at) VALUES (?, ?, 'pending', ?)")
    .bind(callId, body.agent_id, nowMs)
    .run();
  const call = callValue(
    await stub(env, callId).create({
      callId,
      agentId: body.agent_id,
      userId: body.user_id ?? null,
      direction: body.direction,
      recordingEnabled: body.recording_enabled,
      videoEnabled: body.video_enabled,
      metadata: body.metadata,
      agent: callAgent(body.agent),
      nowMs,
    }),
  );
  log({ event: "call.created", request_id: requestId, agent_id: call.agent_id, call_id: callId });
  return call;
}

export async function listCalls(
  env: Env,
  principal: Principal,
  q: { agent_id?: string; status?: CallStatus; limit: number },
): Promise<CallSession[]> {
  if (q.agent_id === undefined && principal.agents !== undefined) {
    throw new AppError("validation_failed", "agent_id is required for a credential limited to some agents.", {
      errors: [{ path: "query.agent_id", message: "required" }],
    });
  }
  if (q.agent_id !== undefined) requireAgent(principal, q.agent_id);
  const filters = [
    ["agent_id = ?", q.agent_id],
    ["status = ?", q.status],
  ].filter((f): f is [string, string] => f[1] !== undefined);
  const where = filters.map((f) => f[0]);
  const args = filters.map((f) => f[1]);
  const sql = `SELECT call_id FROM call_index ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY created_at DESC, call_id LIMIT ?`;
  const { results } = await env.DB.prepare(sql)
    .bind(...args, q.limit)
    .all<{ call_id: string }>();
  const calls = await Promise.all(results.map((r) => stub(env, r.call_id).get()));
  return calls.filter((c): c is CallSession => c !== null);
}

export async function transition(
  env: Env,
  callId: string,
  principal: Principal,
  action: CallAction,
  requestId?: string,
): Promise<CallSession> {
  await authorizeCall(env, callId, principal);
  const call = callValue(await stub(env, callId).transition(action, Date.now()));
  // The duration of a call that started rides along with the status that ends it: D1's triggers
  // count calls by status and observe the duration for /metrics in this same statement.
  const ended = FINAL_STATUSES.includes(call.status);
  const duration = ended && call.started_at !== null ? call.duration_seconds : null;
  await env.DB.prepare("UPDATE call_index SET status = ?, duration_seconds = ? WHERE call_id = ?")
    .bind(call.status, duration, callId)
    .run();
  const ids = { request_id: requestId, agent_id: call.agent_id, call_id: callId };
  if (ended) log({ event: "call.ended", ...ids, status: call.status, duration_seconds: duration });
  else if (action === "start") log({ event: "call.started", ...ids });
  else log({ event: "call.status_changed", ...ids, status: call.status });
  return call;
}

export async function addParticipant(
  env: Env,
  callId: string,
  principal: Principal,
  body: { user_id: string; display_name: string; is_agent: boolean },
): Promise<{ participant: CallParticipant; join_token: string; join_token_expires_at: string; join_url: string; ws_url: string }> {
  const secret = callSigningSecret(env); // 503 before anything is stored
  await authorizeCall(env, callId, principal);
  const nowMs = Date.now();
  const participant = callValue(
    await stub(env, callId).addParticipant({
      participantId: newId("part"),
      userId: body.user_id,
      displayName: body.display_name,
      isAgent: body.is_agent,
      nowMs,
    }),
  );
  const expiresAtMs = nowMs + JOIN_TOKEN_TTL_SECONDS * 1000;
  const token = await signJoinToken(secret, { callId, participantId: participant.participant_id, expiresAtMs });
  const base = getConfig(env).publicBaseUrl;
  const query = `?token=${encodeURIComponent(token)}`;
  return {
    participant,
    join_token: token,
    join_token_expires_at: iso(Math.floor(expiresAtMs / 1000) * 1000),
    join_url: `${base}/calls/${callId}${query}`,
    ws_url: `${base.replace(/^http/, "ws")}/api/v2/calls/${callId}/ws${query}`,
  };
}

export async function removeParticipant(env: Env, callId: string, participantId: string, principal: Principal): Promise<CallParticipant> {
  await authorizeCall(env, callId, principal);
  return callValue(await stub(env, callId).removeParticipant(participantId, Date.now()));
}

export async function patchParticipant(
  env: Env,
  callId: string,
  participantId: string,
  principal: Principal,
  patch: { is_muted?: boolean; is_video_enabled?: boolean },
): Promise<CallParticipant> {
  await authorizeCall(env, callId, principal);
  return callValue(await stub(env, callId).updateParticipant(participantId, patch));
}

export async function getTranscript(env: Env, callId: string, principal: Principal): Promise<TranscriptLine[]> {
  await authorizeCall(env, callId, principal);
  return (await stub(env, callId).transcript()) ?? [];
}

/** Erases the call's transcript (privacy: the lines are the only copy of what was said). */
export async function clearTranscript(env: Env, callId: string, principal: Principal, requestId?: string): Promise<number> {
  await authorizeCall(env, callId, principal);
  const { deleted } = callValue(await stub(env, callId).clearTranscript());
  log({ event: "call.transcript_cleared", request_id: requestId, call_id: callId, lines: deleted });
  return deleted;
}

/**
 * The call and the participant a join token names (for the call page's reads): 401 forged or
 * expired, 403 a token of another call or a participant who left, 404 an unknown call.
 */
export async function participantForToken(
  env: Env,
  callId: string,
  token: string,
): Promise<{ call: CallSession; participant: CallParticipant }> {
  const participantId = await verifyJoinToken(callSigningSecret(env), token, callId);
  const call = await stub(env, callId).get();
  if (!call) throw new AppError("not_found", `No call '${callId}'.`);
  const participant = call.participants.find((x) => x.participant_id === participantId);
  if (!participant || participant.left_at !== null)
    throw new AppError("forbidden", "This join token names no participant still in the call.");
  return { call, participant };
}

/** Verifies the join token, then hands the upgrade to the call's object (which checks the roster). */
export async function connect(env: Env, callId: string, token: string | undefined, request: Request): Promise<Response> {
  const participantId = await verifyJoinToken(callSigningSecret(env), token, callId);
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    throw new AppError("malformed_request", "This endpoint expects a WebSocket upgrade (Upgrade: websocket).");
  }
  const res = await stub(env, callId).fetch(
    new Request(`https://call-session/ws?participant_id=${encodeURIComponent(participantId)}`, request),
  );
  if (res.status === 101) return res;
  const refused = (await res.json()) as CallResult<never>;
  // A valid token for a participant the call does not know is a credential problem, not a lookup.
  if (!refused.ok && refused.reason === "not_found") throw new AppError("forbidden", "This join token names no participant of this call.");
  return callValue(refused);
}

// ---- speech in a call -----------------------------------------------------------------------

export interface VoiceToTextResult {
  text: string;
  language: string;
  confidence: number | null;
  duration_seconds: number | null;
  participant_id: string;
  created_at: string;
}

/** A call that still takes speech: 404 unknown, 403 restricted credential, 409 ended or failed. */
async function liveCall(env: Env, callId: string, principal: Principal): Promise<CallHead> {
  const call = await authorizeCall(env, callId, principal);
  if (FINAL_STATUSES.includes(call.status))
    throw new AppError("conflict", `The call is ${call.status}.`, { extensions: { call_status: call.status } });
  return call;
}

/**
 * Transcribes one participant's audio and appends it to the transcript (broadcast as `transcript`).
 * Order: the call and the participant (404), the provider (503), then the audio limits (413/415/422).
 */
export async function transcribeAudio(
  env: Env,
  callId: string,
  principal: Principal,
  input: { participantId: string; language?: string; audio: () => Promise<ArrayBuffer>; contentType: string | null },
  requestId?: string,
): Promise<VoiceToTextResult> {
  const call = await liveCall(env, callId, principal);
  const participant = call.participants.find((p) => p.participant_id === input.participantId);
  if (!participant) throw new AppError("not_found", `No participant '${input.participantId}' in call '${callId}'.`);
  if (participant.left_at !== null) throw new AppError("conflict", `Participant '${input.participantId}' already left the call.`);
  const speech = checkedSpeech(requireSpeech(env));
  const heard = await speech.transcribe(await input.audio(), { contentType: input.contentType, language: input.language });
  const line = callValue(
    await stub(env, callId).appendTranscript({
      participantId: input.participantId,
      text: heard.text,
      source: "speech_to_text",
      atMs: Date.now(),
    }),
  );
  // Sizes only: transcripts may be private (never log their text).
  log({ event: "call.transcribed", request_id: requestId, call_id: callId, participant_id: input.participantId, chars: heard.text.length });
  return { ...heard, participant_id: input.participantId, created_at: line.at };
}

/**
 * The agent speaks in the call: synthesize, then record the line (attributed to the call's agent
 * participant still in the call, else null) and send the audio to every socket as `agent_speech`.
 */
export async function speakInCall(
  env: Env,
  callId: string,
  principal: Principal,
  body: { text: string; voice?: string },
  requestId?: string,
): Promise<{ success: true; transcript_line: TranscriptLine; bytes: number; content_type: string }> {
  const call = await liveCall(env, callId, principal);
  const speech = checkedSpeech(requireSpeech(env));
  const spoken = await speech.synthesize(body.text, body.voice);
  const agent = call.participants.find((p) => p.is_agent && p.left_at === null) ?? null;
  const line = callValue(
    await stub(env, callId).speak(
      { participantId: agent?.participant_id ?? null, text: body.text, source: "text_to_speech", atMs: Date.now() },
      { audioBase64: bytesToBase64(new Uint8Array(spoken.audio)), contentType: spoken.contentType },
    ),
  );
  log({ event: "call.spoke", request_id: requestId, call_id: callId, chars: body.text.length, audio_bytes: spoken.audio.byteLength });
  return { success: true, transcript_line: line, bytes: spoken.audio.byteLength, content_type: spoken.contentType };
}

/**
 * Asks the call's answering agent to answer the latest participant line now (on_request mode's
 * explicit request; auto mode too). 404/403/409 as for the other speech routes, 409 when the agent
 * is off or nothing was said yet, 503 naming the settings when no language model is configured.
 */
export async function askAgent(
  env: Env,
  callId: string,
  principal: Principal,
  requestId?: string,
): Promise<{ accepted: true; answering: { participant_id: string; text: string } }> {
  await liveCall(env, callId, principal);
  const llm = llmFromEnv(env);
  if (!llm.provider) throw new AppError("service_unavailable", llm.reason, { extensions: { settings: ["LLM_BASE_URL", "LLM_PROVIDER"] } });
  const answering = callValue(await stub(env, callId).agentRespond());
  log({ event: "call.agent_requested", request_id: requestId, call_id: callId });
  return { accepted: true, answering };
}

/**
 * ICE servers for a browser joining the call: TURN credentials when TURN_KEY_ID/TURN_KEY_API_TOKEN
 * are set, else STUN only. Allowed with a join token of this call (participant still in it) or
 * with calls:write on the call's agent.
 */
export async function callIceServers(
  env: Env,
  callId: string,
  auth: { token?: string; principal?: Principal },
): Promise<{ call_id: string; source: "turn" | "stun"; ice_servers: IceServer[] }> {
  if (auth.token !== undefined) {
    await participantForToken(env, callId, auth.token);
  } else {
    await authorizeCall(env, callId, requirePermission(auth.principal, "calls:write"));
  }
  const turn = turnCredentials(env);
  try {
    return { call_id: callId, source: turn ? "turn" : "stun", ice_servers: await iceServers({ ...turn }) };
  } catch (err) {
    if (!(err instanceof SfuError)) throw err;
    throw new AppError("service_unavailable", `TURN credentials failed: ${err.message}`, {
      extensions: { transient: err.transient },
      cause: err,
    });
  }
}
