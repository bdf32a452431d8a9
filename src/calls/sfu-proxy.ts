/**
 * The Realtime SFU proxy (SFU mode). The Worker holds REALTIME_APP_SECRET, which can
 * touch every session of the app, so each request is checked before it is proxied:
 *
 * 1. who: a participant's join token (`Authorization: Bearer <join token>`), or API credentials
 *    with calls:write on the call's agent naming `?participant_id=` (401/403/404/422);
 * 2. SFU configured: REALTIME_APP_ID + REALTIME_APP_SECRET, else 503 naming them (P2P mode); the
 *    API at REALTIME_API_BASE_URL (default https://rtc.live.cloudflare.com/v1; a malformed one is 503);
 * 3. the call's object: call not over (409), participant known (404) and still in it (409);
 * 4. ownership (src/calls/sfu-ownership.ts): only the participant's own session, only mids it
 *    opened, only pulls from sessions of this call (403 with the reason, the SFU is not called);
 * 5. the SFU call; a refusal or failure is 502 with the SFU's message and nothing is recorded;
 * 6. the record in the call's object: the session id, the mids the SFU accepted (a track with a
 *    per-track `errorCode` is not recorded). Published tracks are announced to the others.
 */
import type { OpenedTrack } from "../../durable-objects/call-session/sfu-store";
import { requirePermission, type Principal } from "../auth/principal";
import { log } from "../lib/log";
import { AppError } from "../lib/problem";
import type { MediaType } from "./model";
import { authorizeCall, callSession, callValue } from "./service";
import { realtimeApiBaseUrl, realtimeCredentials } from "./settings";
import {
  SfuClient,
  SfuError,
  type CloseTracksResponse,
  type NewSessionResponse,
  type SessionDescription,
  type SessionState,
  type TracksResponse,
} from "./sfu-client";
import { checkCloseTracks, checkNewTracks, checkSessionOwner, type OwnershipResult, type ParticipantSfuRecord } from "./sfu-ownership";
import { callSigningSecret, verifyJoinToken } from "./tokens";

/** At most this many mids opened through the proxy per participant (published and pulled). */
export const MAX_SFU_TRACKS = 32;

export const SFU_NOT_CONFIGURED =
  "The Realtime SFU is not configured: set REALTIME_APP_ID and the secret REALTIME_APP_SECRET (Cloudflare dashboard → Realtime → SFU). Without them calls run peer-to-peer over the signalling socket.";

export interface SfuAuth {
  /** The resolved API credential, if one was presented (join tokens never resolve to one). */
  principal?: Principal;
  /** The raw bearer credential. */
  bearer?: string;
  /** `?participant_id=`: required with API credentials, optional (must match) with a join token. */
  participantId?: string;
}

export interface LocalTrackInput {
  location: "local";
  mid: string;
  trackName: string;
  media_type?: MediaType;
}
export interface RemoteTrackInput {
  location: "remote";
  sessionId: string;
  trackName: string;
  mid?: string;
  simulcast?: { preferredRid?: string; priorityOrdering?: string; ridNotAvailable?: string };
}

/** The participant acting: from its join token, or named by an API caller with calls:write. */
export async function sfuParticipant(env: Env, callId: string, auth: SfuAuth): Promise<string> {
  if (auth.principal) {
    await authorizeCall(env, callId, requirePermission(auth.principal, "calls:write"));
    if (!auth.participantId) {
      throw new AppError("validation_failed", "With API credentials, name the participant with ?participant_id=.", {
        errors: [{ path: "query.participant_id", message: "required" }],
      });
    }
    return auth.participantId;
  }
  if (!auth.bearer)
    throw new AppError(
      "unauthenticated",
      "Give the participant's join token (Authorization: Bearer <join token>) or API credentials with calls:write.",
    );
  const participantId = await verifyJoinToken(callSigningSecret(env), auth.bearer, callId);
  if (auth.participantId !== undefined && auth.participantId !== participantId)
    throw new AppError("forbidden", "A join token acts only for its own participant.");
  return participantId;
}

/** The SFU client (at REALTIME_API_BASE_URL, default the Cloudflare API), or 503 naming the missing or broken settings. */
export function sfuClient(env: Env): SfuClient {
  const credentials = realtimeCredentials(env);
  if (!credentials)
    throw new AppError("service_unavailable", SFU_NOT_CONFIGURED, {
      extensions: { settings: ["REALTIME_APP_ID", "REALTIME_APP_SECRET"], mode: "p2p" },
    });
  let baseUrl: string | undefined;
  try {
    baseUrl = realtimeApiBaseUrl(env);
  } catch (err) {
    throw new AppError("service_unavailable", `The Realtime SFU is misconfigured: ${(err as Error).message}.`, {
      extensions: { settings: ["REALTIME_API_BASE_URL"] },
    });
  }
  return new SfuClient({ ...credentials, baseUrl });
}

export interface Op {
  env: Env;
  callId: string;
  participantId: string;
  name: string;
  requestId?: string;
}

export function allow(op: Op, verdict: OwnershipResult): void {
  if (verdict.ok) return;
  log({
    event: "call.sfu",
    request_id: op.requestId,
    call_id: op.callId,
    participant_id: op.participantId,
    op: op.name,
    outcome: "refused",
    detail: verdict.reason,
  });
  throw new AppError("forbidden", verdict.reason);
}

/** Runs the SFU call; an SfuError becomes 502 with the SFU's message. */
export async function upstream<T>(op: Op, run: () => Promise<T>): Promise<T> {
  try {
    const value = await run();
    log({ event: "call.sfu", request_id: op.requestId, call_id: op.callId, participant_id: op.participantId, op: op.name, outcome: "ok" });
    return value;
  } catch (err) {
    if (!(err instanceof SfuError)) throw err;
    log({
      event: "call.sfu",
      request_id: op.requestId,
      call_id: op.callId,
      participant_id: op.participantId,
      op: op.name,
      outcome: "upstream_error",
      detail: err.message,
    });
    throw new AppError("bad_gateway", `Realtime SFU: ${err.message}`, {
      extensions: { sfu_status: err.status, ...(err.code ? { sfu_error_code: err.code } : {}), transient: err.transient },
      ...(err.transient ? { headers: { "Retry-After": "2" } } : {}),
      cause: err,
    });
  }
}

/** Checks in order: SFU configured (503), then the call's object (404/409). */
async function prepare(op: Op): Promise<{ sfu: SfuClient; record: ParticipantSfuRecord; callSessions: string[] }> {
  const sfu = sfuClient(op.env);
  const context = callValue(await callSession(op.env, op.callId).sfuContext(op.participantId));
  return { sfu, ...context };
}

/** sessions/new; the new session replaces any previous one of the participant (a page reload). */
export async function createSfuSession(
  env: Env,
  callId: string,
  participantId: string,
  sessionDescription?: SessionDescription,
  requestId?: string,
): Promise<NewSessionResponse> {
  const op = { env, callId, participantId, name: "sessions/new", requestId };
  const { sfu } = await prepare(op);
  const created = await upstream(op, () => sfu.newSession(sessionDescription));
  callValue(await callSession(env, callId).recordSfuSession(participantId, created.sessionId));
  return created;
}

/** `a=mid:` → media kind of each m-section of an SDP (`audio`/`video`). */
export function mediaKindsByMid(sdp: string): Map<string, "audio" | "video"> {
  const kinds = new Map<string, "audio" | "video">();
  let kind: "audio" | "video" | null = null;
  for (const line of sdp.split(/\r?\n/)) {
    const m = /^m=(\w+)\s/.exec(line);
    if (m) kind = m[1] === "audio" || m[1] === "video" ? m[1] : null;
    const mid = /^a=mid:(\S+)/.exec(line);
    if (mid && kind) kinds.set(mid[1]!, kind);
  }
  return kinds;
}

/** Whether a track of the SFU's answer is the one asked for (published: by mid; pulled: by session and name). */
function answers(result: TracksResponse["tracks"][number], asked: LocalTrackInput | RemoteTrackInput): boolean {
  if (asked.location === "local")
    return result.location !== "remote" && (result.mid === undefined ? result.trackName === asked.trackName : result.mid === asked.mid);
  return result.location !== "local" && result.sessionId === asked.sessionId && result.trackName === asked.trackName;
}

/** tracks/new: publish local tracks (with the offer) and/or pull tracks of the call's sessions. */
export async function newSfuTracks(
  env: Env,
  callId: string,
  participantId: string,
  sessionId: string,
  body: { sessionDescription?: SessionDescription; tracks: (LocalTrackInput | RemoteTrackInput)[] },
  requestId?: string,
): Promise<TracksResponse> {
  const op = { env, callId, participantId, name: "tracks/new", requestId };
  const { sfu, record, callSessions } = await prepare(op);
  allow(op, checkNewTracks(record, { sessionId, tracks: body.tracks }, callSessions));
  if (record.mids.length + body.tracks.length > MAX_SFU_TRACKS)
    throw new AppError("conflict", `At most ${MAX_SFU_TRACKS} tracks per participant through the proxy; close some first.`);
  // media_type is ours (it names the roster's media stream); the SFU gets its documented fields only.
  const forwarded = body.tracks.map((t) => (t.location === "local" ? { location: t.location, mid: t.mid, trackName: t.trackName } : t));
  const answer = await upstream(op, () => sfu.newTracks(sessionId, { sessionDescription: body.sessionDescription, tracks: forwarded }));
  const kinds = mediaKindsByMid(body.sessionDescription?.sdp ?? "");
  const accepted = body.tracks.flatMap((asked): OpenedTrack[] => {
    const result = answer.tracks.find((r) => answers(r, asked));
    // Only what the SFU accepted is recorded: no entry, or an entry with errorCode, is not.
    if (!result || result.errorCode) return [];
    if (asked.location === "local")
      return [
        { location: "local", mid: asked.mid, trackName: asked.trackName, mediaType: asked.media_type ?? kinds.get(asked.mid) ?? "audio" },
      ];
    const mid = result.mid ?? asked.mid;
    return mid ? [{ location: "remote", mid, trackName: asked.trackName }] : [];
  });
  if (accepted.length > 0) callValue(await callSession(env, callId).recordSfuTracks(participantId, sessionId, accepted, Date.now()));
  return answer;
}

/** renegotiate: the participant's answer to the SFU's offer, on its own session. */
export async function renegotiateSfu(
  env: Env,
  callId: string,
  participantId: string,
  sessionId: string,
  answerSdp: string,
  requestId?: string,
): Promise<Record<string, never>> {
  const op = { env, callId, participantId, name: "renegotiate", requestId };
  const { sfu, record } = await prepare(op);
  allow(op, checkSessionOwner(record, sessionId));
  await upstream(op, () => sfu.renegotiate(sessionId, answerSdp));
  return {};
}

/** tracks/close: only mids this participant opened through the proxy; they are forgotten unless the SFU reported an error for them. */
export async function closeSfuTracks(
  env: Env,
  callId: string,
  participantId: string,
  sessionId: string,
  body: { mids: string[]; force: boolean; sessionDescription?: SessionDescription },
  requestId?: string,
): Promise<CloseTracksResponse> {
  const op = { env, callId, participantId, name: "tracks/close", requestId };
  const { sfu, record } = await prepare(op);
  allow(op, checkCloseTracks(record, { sessionId, mids: body.mids }));
  const answer = await upstream(op, () => sfu.closeTracks(sessionId, body));
  const failed = new Set(answer.tracks.filter((t) => t.errorCode && t.mid).map((t) => t.mid!));
  const closed = body.mids.filter((mid) => !failed.has(mid));
  if (closed.length > 0) callValue(await callSession(env, callId).forgetSfuTracks(participantId, sessionId, closed));
  return answer;
}

/** GET sessions/{id}: the SFU's view of the participant's own session. */
export async function sfuSessionState(
  env: Env,
  callId: string,
  participantId: string,
  sessionId: string,
  requestId?: string,
): Promise<SessionState> {
  const op = { env, callId, participantId, name: "get session", requestId };
  const { sfu, record } = await prepare(op);
  allow(op, checkSessionOwner(record, sessionId));
  return upstream(op, () => sfu.getSession(sessionId));
}
