/**
 * D1 migrations for the self-hosted runtime. workerd keeps D1 in its own files, which
 * `wrangler d1 migrations apply --local` cannot see, so the server applies them through the
 * Worker's own binding before its public port opens. The bookkeeping is wrangler's
 * (`d1_migrations(id, name UNIQUE, applied_at)`), so the history reads the same as on Cloudflare,
 * and each file is one batch (all of its statements and its row, or nothing).
 */
export type Migration = { name: string; statements: string[] };

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS d1_migrations(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT UNIQUE,
  applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
)`;

/** Applies, in order, every migration not yet recorded; returns the names applied now. */
export async function applyMigrations(db: D1Database, migrations: readonly Migration[]): Promise<string[]> {
  await db.prepare(CREATE_TABLE).run();
  const { results } = await db.prepare("SELECT name FROM d1_migrations").all<{ name: string }>();
  const done = new Set(results.map((row) => row.name));
  const applied: string[] = [];
  for (const migration of migrations) {
    if (done.has(migration.name)) continue;
    await db.batch([
      ...migration.statements.map((sql) => db.prepare(sql)),
      db.prepare("INSERT INTO d1_migrations (name) VALUES (?)").bind(migration.name),
    ]);
    applied.push(migration.name);
  }
  return applied;
}
