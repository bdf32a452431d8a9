/**
 * CallSessionDO's SQLite schema (one database per call). Times are epoch milliseconds; JSON
 * columns hold the text the API shows. Participants are never deleted: leaving sets `left_at`.
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
];
