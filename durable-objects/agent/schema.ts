/**
 * AgentDO's SQLite schema. Times are epoch milliseconds; `state_data` is stored as the JSON
 * text the client sent (after validation), so loads never re-serialize it.
 */
import type { Migration } from "../shared/migrate";

export const AGENT_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "versioned state, derived-store sync, timers",
    sql: `
      CREATE TABLE state_meta (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        agent_id TEXT NOT NULL,
        agent_type TEXT NOT NULL,
        version INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE state_versions (
        version INTEGER PRIMARY KEY,
        agent_type TEXT NOT NULL,
        state_data TEXT NOT NULL,
        saved_at INTEGER NOT NULL,
        restored_from INTEGER
      );
      CREATE TABLE derived_sync (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        agent_id TEXT NOT NULL,
        wanted_generation INTEGER NOT NULL,
        synced_generation INTEGER NOT NULL,
        failures INTEGER NOT NULL DEFAULT 0
      );
      CREATE TABLE timers (
        name TEXT PRIMARY KEY,
        due_at INTEGER NOT NULL
      );
    `,
  },
];
