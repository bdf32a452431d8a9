/**
 * CallSessionDO's SQLite schema (one database per call). Times are epoch milliseconds; JSON
 * columns hold the text the API shows. Participants are never deleted: leaving sets `left_at`.
 * Applied migrations are never edited: a change is a new version.
 */
import type { Migration } from "../shared/migrate";

export const CALL_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "call record, roster, transcript",
    sql: `
      CREATE TABLE call (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        call_id TEXT NOT NULL,
        agent_id TEXT NOT NULL,
        user_id TEXT,
        direction TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        started_at INTEGER,
        ended_at INTEGER,
        recording_enabled INTEGER NOT NULL,
        video_enabled INTEGER NOT NULL,
        metadata TEXT NOT NULL
      );
      CREATE TABLE participants (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        participant_id TEXT NOT NULL UNIQUE,
        user_id TEXT NOT NULL,
        display_name TEXT NOT NULL,
        is_agent INTEGER NOT NULL,
        joined_at INTEGER NOT NULL,
        left_at INTEGER,
        media_streams TEXT NOT NULL DEFAULT '[]',
        is_muted INTEGER NOT NULL DEFAULT 0,
        is_video_enabled INTEGER NOT NULL
      );
      CREATE TABLE transcript (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        participant_id TEXT,
        text TEXT NOT NULL,
        at INTEGER NOT NULL,
        source TEXT NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: "SFU sessions and the tracks opened through the proxy",
    // One SFU session per participant (a new one replaces it); a track row is one mid of that
    // session opened through the Worker's proxy: `local` (published) or `remote` (pulled).
    sql: `
      ALTER TABLE participants ADD COLUMN sfu_session_id TEXT;
      CREATE UNIQUE INDEX participants_sfu_session ON participants (sfu_session_id);
      CREATE TABLE sfu_tracks (
        session_id TEXT NOT NULL,
        mid TEXT NOT NULL,
        participant_id TEXT NOT NULL,
        location TEXT NOT NULL CHECK (location IN ('local', 'remote')),
        track_name TEXT NOT NULL,
        media_type TEXT,
        opened_at INTEGER NOT NULL,
        PRIMARY KEY (session_id, mid)
      );
    `,
  },
  {
    version: 3,
    name: "live transcription: utterance times and confidence, a participant's transcription mute",
    // Lines from live audio carry when the utterance began and ended and the provider's confidence;
    // other lines leave them null.
    sql: `
      ALTER TABLE transcript ADD COLUMN started_at INTEGER;
      ALTER TABLE transcript ADD COLUMN ended_at INTEGER;
      ALTER TABLE transcript ADD COLUMN confidence REAL;
      ALTER TABLE participants ADD COLUMN transcription_muted INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 4,
    name: "recordings and their stored chunks",
    // A recording is one track (a participant's microphone, or the agent's speech); a chunk row is
    // written only after its object is in R2, so the rows list exactly what a download can read.
    sql: `
      CREATE TABLE recordings (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        recording_id TEXT NOT NULL UNIQUE,
        participant_id TEXT,
        track TEXT NOT NULL CHECK (track IN ('participant', 'agent')),
        content_type TEXT NOT NULL,
        started_at INTEGER NOT NULL
      );
      CREATE UNIQUE INDEX recordings_track ON recordings (track, coalesce(participant_id, ''), content_type);
      CREATE TABLE recording_chunks (
        recording_id TEXT NOT NULL,
        chunk_index INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        duration_seconds REAL NOT NULL,
        stored_at INTEGER NOT NULL,
        PRIMARY KEY (recording_id, chunk_index)
      );
    `,
  },
];
