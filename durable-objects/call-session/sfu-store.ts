/**
 * What the call's object records for the Realtime SFU proxy: each participant's SFU
 * session (`participants.sfu_session_id`) and the mids opened on it through the proxy
 * (`sfu_tracks`). Published (`local`) tracks also appear in the participant's `media_streams`
 * (`stream_id` = `track_name` = the SFU trackName), so the roster tells others what to pull.
 */
import type { MediaStream, MediaType } from "../../src/calls/model";
import type { ParticipantSfuRecord } from "../../src/calls/sfu-ownership";
import { readParticipant, updateParticipant } from "./store";

type Sql = SqlStorage;

export interface OpenedTrack {
  location: "local" | "remote";
  mid: string;
  trackName: string;
  /** Local tracks only: what the stream carries. */
  mediaType?: MediaType;
}

interface TrackRow {
  mid: string;
  location: "local" | "remote";
  track_name: string;
  [key: string]: SqlStorageValue;
}

/** The participant's session and every mid opened on it through the proxy. */
export function sfuRecord(sql: Sql, participantId: string): ParticipantSfuRecord {
  const sessionId =
    sql
      .exec<{ sfu_session_id: string | null }>("SELECT sfu_session_id FROM participants WHERE participant_id = ?", participantId)
      .toArray()[0]?.sfu_session_id ?? null;
  if (sessionId === null) return { sessionId: null, mids: [] };
  const mids = sql
    .exec<{ mid: string }>("SELECT mid FROM sfu_tracks WHERE session_id = ? ORDER BY opened_at, mid", sessionId)
    .toArray()
    .map((r) => r.mid);
  return { sessionId, mids };
}

/** SFU sessions of participants still in the call: the only sessions a participant may pull from. */
export function callSfuSessions(sql: Sql): string[] {
  return sql
    .exec<{ sfu_session_id: string }>(
      "SELECT sfu_session_id FROM participants WHERE sfu_session_id IS NOT NULL AND left_at IS NULL ORDER BY seq",
    )
    .toArray()
    .map((r) => r.sfu_session_id);
}

/** Removes published tracks from the participant's media_streams by track name. */
function dropStreams(sql: Sql, participantId: string, trackNames: readonly string[]): void {
  if (trackNames.length === 0) return;
  const me = readParticipant(sql, participantId)!;
  updateParticipant(sql, participantId, { media_streams: me.media_streams.filter((s) => !trackNames.includes(s.stream_id)) });
}

function deleteTracks(sql: Sql, sessionId: string, mids?: readonly string[]): TrackRow[] {
  const rows = sql.exec<TrackRow>("SELECT mid, location, track_name FROM sfu_tracks WHERE session_id = ?", sessionId).toArray();
  const gone = mids === undefined ? rows : rows.filter((r) => mids.includes(r.mid));
  for (const r of gone) sql.exec("DELETE FROM sfu_tracks WHERE session_id = ? AND mid = ?", sessionId, r.mid);
  return gone;
}

/**
 * Makes `sessionId` the participant's session. A previous session is forgotten with its tracks;
 * returns the names of the published tracks that went with it.
 */
export function replaceSfuSession(sql: Sql, participantId: string, sessionId: string): string[] {
  const previous = sfuRecord(sql, participantId).sessionId;
  const dropped =
    previous === null
      ? []
      : deleteTracks(sql, previous)
          .filter((r) => r.location === "local")
          .map((r) => r.track_name);
  dropStreams(sql, participantId, dropped);
  sql.exec("UPDATE participants SET sfu_session_id = ? WHERE participant_id = ?", sessionId, participantId);
  return dropped;
}

/** Records tracks the SFU accepted; published ones become media streams. Returns those streams. */
export function insertSfuTracks(
  sql: Sql,
  participantId: string,
  sessionId: string,
  tracks: readonly OpenedTrack[],
  nowMs: number,
): MediaStream[] {
  for (const t of tracks) {
    sql.exec(
      `INSERT INTO sfu_tracks (session_id, mid, participant_id, location, track_name, media_type, opened_at) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (session_id, mid) DO UPDATE SET location = excluded.location, track_name = excluded.track_name, media_type = excluded.media_type`,
      sessionId,
      t.mid,
      participantId,
      t.location,
      t.trackName,
      t.mediaType ?? null,
      nowMs,
    );
  }
  const published: MediaStream[] = tracks
    .filter((t) => t.location === "local")
    .map((t) => ({ stream_id: t.trackName, media_type: t.mediaType ?? "audio", enabled: true, codec: null, track_name: t.trackName }));
  if (published.length > 0) {
    const names = published.map((s) => s.stream_id);
    const me = readParticipant(sql, participantId)!;
    updateParticipant(sql, participantId, {
      media_streams: [...me.media_streams.filter((s) => !names.includes(s.stream_id)), ...published],
    });
  }
  return published;
}

/** Forgets closed mids; returns the names of the published tracks among them. */
export function deleteSfuTracks(sql: Sql, participantId: string, sessionId: string, mids: readonly string[]): string[] {
  const dropped = deleteTracks(sql, sessionId, mids)
    .filter((r) => r.location === "local")
    .map((r) => r.track_name);
  dropStreams(sql, participantId, dropped);
  return dropped;
}
