/**
 * Schema migrations for a Durable Object's SQLite database. `PRAGMA user_version` is refused
 * inside Durable Objects, so the applied version lives in our own `_schema` table. Run from the
 * constructor under `blockConcurrencyWhile`, so no request sees a half-migrated database.
 */

export interface Migration {
  /** Strictly increasing; an applied migration is never edited, only followed by a new one. */
  version: number;
  name: string;
  sql: string;
}

export function migrate(storage: DurableObjectStorage, migrations: readonly Migration[]): number {
  const sql = storage.sql;
  sql.exec("CREATE TABLE IF NOT EXISTS _schema (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)");
  const current = sql.exec<{ version: number }>("SELECT version FROM _schema WHERE id = 1").toArray()[0]?.version ?? 0;
  const pending = migrations.filter((m) => m.version > current).sort((a, b) => a.version - b.version);
  if (pending.length === 0) return current;
  storage.transactionSync(() => {
    for (const m of pending) sql.exec(m.sql);
    sql.exec(
      "INSERT INTO _schema (id, version) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET version = excluded.version",
      pending[pending.length - 1]!.version,
    );
  });
  return pending[pending.length - 1]!.version;
}
