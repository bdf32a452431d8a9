/** Reads and writes of the call's SQLite rows, rendered in the API's shape (ISO times, booleans). */
import { listRecordings } from "./recordings-store";
import { iso } from "../../src/lib/time";
import type {
  CallParticipant,
  CallSession,
  CallStatus,
  MediaStream,
  NewCall,
  NewParticipant,
  TranscriptLine,
  TranscriptSource,
} from "../../src/calls/model";

type Sql = SqlStorage;

interface CallRow {
  call_id: string;
  agent_id: string;
  user_id: string | null;
  direction: "inbound" | "outbound";
  status: CallStatus;
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  recording_enabled: number;
  video_enabled: number;
  metadata: string;
  [key: string]: SqlStorageValue;
}

interface ParticipantRow {
  participant_id: string;
  user_id: string;
  display_name: string;
  is_agent: number;
  joined_at: number;
  left_at: number | null;
  media_streams: string;
  is_muted: number;
  is_video_enabled: number;
  sfu_session_id: string | null;
  transcription_muted: number;
  [key: string]: SqlStorageValue;
}

interface TranscriptRow {
  participant_id: string | null;
  text: string;
  at: number;
  source: TranscriptSource;
  started_at: number | null;
  ended_at: number | null;
  confidence: number | null;
  [key: string]: SqlStorageValue;
}

export function insertCall(sql: Sql, c: NewCall): void {
  sql.exec(
    `INSERT INTO call (id, call_id, agent_id, user_id, direction, status, created_at, recording_enabled, video_enabled, metadata)
     VALUES (1, ?, ?, ?, ?, 'pending', ?, ?, ?, ?)`,
    c.callId,
    c.agentId,
    c.userId,
    c.direction,
    c.nowMs,
    c.recordingEnabled ? 1 : 0,
    c.videoEnabled ? 1 : 0,
    JSON.stringify(c.metadata),
  );
}

export function readCallRow(sql: Sql): CallRow | null {
  return sql.exec<CallRow>("SELECT * FROM call WHERE id = 1").toArray()[0] ?? null;
}

export function setStatus(sql: Sql, status: CallStatus, nowMs: number, final: boolean): void {
  if (status === "active") sql.exec("UPDATE call SET status = ?, started_at = coalesce(started_at, ?) WHERE id = 1", status, nowMs);
  else if (final) {
    sql.exec("UPDATE call SET status = ?, ended_at = ? WHERE id = 1", status, nowMs);
    sql.exec("UPDATE participants SET left_at = ? WHERE left_at IS NULL", nowMs);
  } else sql.exec("UPDATE call SET status = ? WHERE id = 1", status);
}

function renderParticipant(r: ParticipantRow): CallParticipant {
  return {
    participant_id: r.participant_id,
    user_id: r.user_id,
    display_name: r.display_name,
    is_agent: r.is_agent === 1,
    joined_at: iso(r.joined_at),
    left_at: r.left_at === null ? null : iso(r.left_at),
    media_streams: JSON.parse(r.media_streams) as MediaStream[],
    is_muted: r.is_muted === 1,
    is_video_enabled: r.is_video_enabled === 1,
    sfu_session_id: r.sfu_session_id ?? null,
    transcription_muted: r.transcription_muted === 1,
  };
}

export function listParticipants(sql: Sql): CallParticipant[] {
  return sql.exec<ParticipantRow>("SELECT * FROM participants ORDER BY seq").toArray().map(renderParticipant);
}

export function readParticipant(sql: Sql, participantId: string): CallParticipant | null {
  const row = sql.exec<ParticipantRow>("SELECT * FROM participants WHERE participant_id = ?", participantId).toArray()[0];
  return row ? renderParticipant(row) : null;
}

export function insertParticipant(sql: Sql, p: NewParticipant, videoEnabled: boolean): void {
  sql.exec(
    "INSERT INTO participants (participant_id, user_id, display_name, is_agent, joined_at, is_video_enabled) VALUES (?, ?, ?, ?, ?, ?)",
    p.participantId,
    p.userId,
    p.displayName,
    p.isAgent ? 1 : 0,
    p.nowMs,
    videoEnabled ? 1 : 0,
  );
}

/** What decides whether a participant's audio frame is taken: one narrow read per frame. */
export function audioGate(sql: Sql, participantId: string): { status: CallStatus; left: boolean; transcriptionMuted: boolean } | null {
  const row = sql
    .exec<{ status: CallStatus; left_at: number | null; transcription_muted: number }>(
      "SELECT call.status, participants.left_at, participants.transcription_muted FROM call, participants WHERE call.id = 1 AND participants.participant_id = ?",
      participantId,
    )
    .toArray()[0];
  return row ? { status: row.status, left: row.left_at !== null, transcriptionMuted: row.transcription_muted === 1 } : null;
}

export function markLeft(sql: Sql, participantId: string, nowMs: number): void {
  sql.exec("UPDATE participants SET left_at = ? WHERE participant_id = ? AND left_at IS NULL", nowMs, participantId);
}

export function updateParticipant(
  sql: Sql,
  participantId: string,
  patch: { is_muted?: boolean; is_video_enabled?: boolean; media_streams?: MediaStream[]; transcription_muted?: boolean },
): void {
  if (patch.transcription_muted !== undefined) {
    sql.exec("UPDATE participants SET transcription_muted = ? WHERE participant_id = ?", patch.transcription_muted ? 1 : 0, participantId);
  }
  if (patch.is_muted !== undefined)
    sql.exec("UPDATE participants SET is_muted = ? WHERE participant_id = ?", patch.is_muted ? 1 : 0, participantId);
  if (patch.is_video_enabled !== undefined) {
    sql.exec("UPDATE participants SET is_video_enabled = ? WHERE participant_id = ?", patch.is_video_enabled ? 1 : 0, participantId);
  }
  if (patch.media_streams !== undefined)
    sql.exec("UPDATE participants SET media_streams = ? WHERE participant_id = ?", JSON.stringify(patch.media_streams), participantId);
}

/** Live transcription's extra fields of a line: utterance start and end (epoch ms) and confidence. */
export interface UtteranceTiming {
  startedAtMs: number;
  endedAtMs: number;
  confidence: number | null;
}

export function insertTranscriptLine(
  sql: Sql,
  line: { participantId: string | null; text: string; source: TranscriptSource; atMs: number; utterance?: UtteranceTiming },
): TranscriptLine {
  const u = line.utterance;
  sql.exec(
    "INSERT INTO transcript (participant_id, text, at, source, started_at, ended_at, confidence) VALUES (?, ?, ?, ?, ?, ?, ?)",
    line.participantId,
    line.text,
    line.atMs,
    line.source,
    u?.startedAtMs ?? null,
    u?.endedAtMs ?? null,
    u?.confidence ?? null,
  );
  return renderLine({
    participant_id: line.participantId,
    text: line.text,
    at: line.atMs,
    source: line.source,
    started_at: u?.startedAtMs ?? null,
    ended_at: u?.endedAtMs ?? null,
    confidence: u?.confidence ?? null,
  });
}

/** A line in the API's shape; the utterance fields only on lines that have them. */
function renderLine(r: TranscriptRow): TranscriptLine {
  const line: TranscriptLine = { participant_id: r.participant_id, text: r.text, at: iso(r.at), source: r.source };
  if (r.started_at !== null && r.ended_at !== null) {
    line.started_at = iso(r.started_at);
    line.ended_at = iso(r.ended_at);
    line.confidence = r.confidence;
  }
  return line;
}

/** Erases every transcript line; returns how many there were. */
export function clearTranscript(sql: Sql): number {
  return sql.exec("DELETE FROM transcript RETURNING seq").toArray().length;
}

export function readTranscript(sql: Sql): TranscriptLine[] {
  return sql
    .exec<TranscriptRow>("SELECT participant_id, text, at, source, started_at, ended_at, confidence FROM transcript ORDER BY seq")
    .toArray()
    .map(renderLine);
}

/** The call as stored in SQL; the object adds the answering agent's settings (kept in its key-value storage). */
export function renderCall(sql: Sql, row: CallRow): Omit<CallSession, "agent"> {
  const duration = row.ended_at === null ? null : row.started_at === null ? 0 : (row.ended_at - row.started_at) / 1000;
  return {
    call_id: row.call_id,
    agent_id: row.agent_id,
    user_id: row.user_id,
    direction: row.direction,
    status: row.status,
    participants: listParticipants(sql),
    created_at: iso(row.created_at),
    started_at: row.started_at === null ? null : iso(row.started_at),
    ended_at: row.ended_at === null ? null : iso(row.ended_at),
    duration_seconds: duration,
    recording_enabled: row.recording_enabled === 1,
    video_enabled: row.video_enabled === 1,
    transcript: readTranscript(sql),
    recordings: listRecordings(sql),
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
  };
}
