/** Reads and writes of the call's recording rows (schema version 4), rendered in the API's shape. */
import { iso } from "../../src/lib/time";
import { WAV_HEADER_BYTES } from "../../src/calls/recordings/wav";
import { PCM_CONTENT_TYPE, chunkKey, type Recording, type RecordingFile, type RecordingTrack } from "../../src/calls/recordings/model";

type Sql = SqlStorage;

interface RecordingRow {
  recording_id: string;
  participant_id: string | null;
  track: RecordingTrack;
  content_type: string;
  started_at: number;
  chunks: number;
  bytes: number;
  duration_seconds: number;
  [key: string]: SqlStorageValue;
}

const SELECT = `
  SELECT r.recording_id, r.participant_id, r.track, r.content_type, r.started_at,
         count(c.chunk_index) AS chunks, coalesce(sum(c.bytes), 0) AS bytes, coalesce(sum(c.duration_seconds), 0) AS duration_seconds
  FROM recordings r LEFT JOIN recording_chunks c ON c.recording_id = r.recording_id`;

function render(r: RecordingRow): Recording {
  const wav = r.content_type === PCM_CONTENT_TYPE;
  return {
    recording_id: r.recording_id,
    participant_id: r.participant_id,
    track: r.track,
    started_at: iso(r.started_at),
    duration_seconds: Math.round(r.duration_seconds * 1000) / 1000,
    bytes: r.bytes + (wav ? WAV_HEADER_BYTES : 0),
    content_type: r.content_type,
  };
}

/** The recordings with at least one stored chunk, oldest first: what can be downloaded. */
export function listRecordings(sql: Sql): Recording[] {
  return sql.exec<RecordingRow>(`${SELECT} GROUP BY r.recording_id HAVING chunks > 0 ORDER BY r.seq`).toArray().map(render);
}

export function readRecordingFile(sql: Sql, callId: string, recordingId: string): RecordingFile | null {
  const row = sql
    .exec<RecordingRow>(`${SELECT} WHERE r.recording_id = ? GROUP BY r.recording_id HAVING chunks > 0`, recordingId)
    .toArray()[0];
  if (!row) return null;
  const chunks = sql
    .exec<{ chunk_index: number; bytes: number }>(
      "SELECT chunk_index, bytes FROM recording_chunks WHERE recording_id = ? ORDER BY chunk_index",
      recordingId,
    )
    .toArray()
    .map((c) => ({ key: chunkKey(callId, recordingId, c.chunk_index), bytes: c.bytes }));
  return { ...render(row), chunks };
}

/** The recording of a track and the index its next chunk takes; null when it has none yet. */
export function findTrack(
  sql: Sql,
  track: RecordingTrack,
  participantId: string | null,
  contentType: string,
): { recordingId: string; nextIndex: number } | null {
  const row = sql
    .exec<{ recording_id: string; next_index: number }>(
      `SELECT r.recording_id, coalesce(max(c.chunk_index) + 1, 0) AS next_index
       FROM recordings r LEFT JOIN recording_chunks c ON c.recording_id = r.recording_id
       WHERE r.track = ? AND coalesce(r.participant_id, '') = ? AND r.content_type = ? GROUP BY r.recording_id`,
      track,
      participantId ?? "",
      contentType,
    )
    .toArray()[0];
  return row ? { recordingId: row.recording_id, nextIndex: row.next_index } : null;
}

export function insertRecording(
  sql: Sql,
  r: { recordingId: string; participantId: string | null; track: RecordingTrack; contentType: string; startedAtMs: number },
): void {
  sql.exec(
    "INSERT INTO recordings (recording_id, participant_id, track, content_type, started_at) VALUES (?, ?, ?, ?, ?)",
    r.recordingId,
    r.participantId,
    r.track,
    r.contentType,
    r.startedAtMs,
  );
}

/** Records a chunk that is in R2; false when its recording was erased meanwhile (the caller deletes the object). */
export function insertChunk(
  sql: Sql,
  c: { recordingId: string; index: number; bytes: number; durationSeconds: number; storedAtMs: number },
): boolean {
  if (sql.exec("SELECT 1 FROM recordings WHERE recording_id = ?", c.recordingId).toArray().length === 0) return false;
  sql.exec(
    "INSERT OR REPLACE INTO recording_chunks (recording_id, chunk_index, bytes, duration_seconds, stored_at) VALUES (?, ?, ?, ?, ?)",
    c.recordingId,
    c.index,
    c.bytes,
    c.durationSeconds,
    c.storedAtMs,
  );
  return true;
}

/** Forgets every recording; returns how many had stored audio. */
export function deleteRecordings(sql: Sql): number {
  const listed = listRecordings(sql).length;
  sql.exec("DELETE FROM recording_chunks");
  sql.exec("DELETE FROM recordings");
  return listed;
}
