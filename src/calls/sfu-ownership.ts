/**
 * Ownership checks for the SFU proxy. SFU session ids and mids are guessable, and the
 * Worker holds the one app secret that can touch every session, so before proxying a request the
 * Worker checks it against what the call's Durable Object recorded for that participant:
 * - a participant only touches its own SFU session (tracks/new, renegotiate, tracks/close, GET);
 * - it only closes mids it published itself;
 * - it only publishes (`location: "local"`) on its own session; pulling (`location: "remote"`) names
 *   another session, which must belong to the same call (checked by the caller with `callSessions`).
 * Pure functions: `{ok: true}` or `{ok: false, reason}`; the route answers 403 with the reason.
 */

/** What the call's DO recorded for one participant. `sessionId` is null before sessions/new. */
export interface ParticipantSfuRecord {
  sessionId: string | null;
  /** Mids this participant published (tracks/new with `location: "local"`). */
  mids: readonly string[];
}

export type OwnershipResult = { ok: true } | { ok: false; reason: string };

const OK: OwnershipResult = { ok: true };
const deny = (reason: string): OwnershipResult => ({ ok: false, reason });

/** The request names the participant's own SFU session. */
export function checkSessionOwner(record: ParticipantSfuRecord, sessionId: string): OwnershipResult {
  if (record.sessionId === null) return deny("this participant has no SFU session yet");
  if (record.sessionId !== sessionId) return deny("this SFU session belongs to another participant");
  return OK;
}

/** Closing tracks: own session, and every mid was published by this participant. */
export function checkCloseTracks(record: ParticipantSfuRecord, request: { sessionId: string; mids: readonly string[] }): OwnershipResult {
  const session = checkSessionOwner(record, request.sessionId);
  if (!session.ok) return session;
  if (request.mids.length === 0) return deny("no mids to close");
  const foreign = request.mids.filter((mid) => !record.mids.includes(mid));
  if (foreign.length > 0) return deny(`mids not published by this participant: ${foreign.join(", ")}`);
  return OK;
}

/**
 * tracks/new: own session; a remote track must come from another session of the same call
 * (`callSessions`: every SFU session id the call's DO knows), never from outside the call.
 */
export function checkNewTracks(
  record: ParticipantSfuRecord,
  request: { sessionId: string; tracks: readonly ({ location: "local" } | { location: "remote"; sessionId: string })[] },
  callSessions: readonly string[],
): OwnershipResult {
  const session = checkSessionOwner(record, request.sessionId);
  if (!session.ok) return session;
  for (const track of request.tracks) {
    if (track.location === "remote" && !callSessions.includes(track.sessionId)) {
      return deny(`session ${track.sessionId} is not part of this call`);
    }
  }
  return OK;
}
