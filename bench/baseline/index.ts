/**
 * The bare baseline for `npm run bench`: Hono → Durable Object RPC → one SQLite statement.
 * Save is one INSERT (upsert of the single latest row), load is one SELECT. The JSON body is
 * parsed and `state_data` re-serialized, as any Worker storing it must; nothing else.
 */
import { DurableObject } from "cloudflare:workers";
import { Hono } from "hono";

interface BaselineEnv {
  STORE: DurableObjectNamespace<BaselineDO>;
}

export class BaselineDO extends DurableObject<BaselineEnv> {
  constructor(ctx: DurableObjectState, env: BaselineEnv) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS state (id INTEGER PRIMARY KEY CHECK (id = 1), data TEXT NOT NULL, saved_at INTEGER NOT NULL)");
  }

  save(data: string, nowMs: number): void {
    this.ctx.storage.sql.exec(
      "INSERT INTO state (id, data, saved_at) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data, saved_at = excluded.saved_at",
      data,
      nowMs,
    );
  }

  load(): string | null {
    const row = this.ctx.storage.sql.exec<{ data: string }>("SELECT data FROM state WHERE id = 1").toArray()[0];
    return row ? row.data : null;
  }
}

const app = new Hono<{ Bindings: BaselineEnv }>();

app.get("/", (c) => c.text("baseline ok"));

app.post("/agents/:id/state", async (c) => {
  const id = c.req.param("id");
  const body = await c.req.json<{ state_data: unknown }>();
  await c.env.STORE.getByName(id).save(JSON.stringify(body.state_data), Date.now());
  return c.json({ success: true, agent_id: id });
});

// Diagnostic only, never the baseline's numbers: the same save plus one structured log line
// shaped like the product's `state.saved`, to measure what a log line per request costs under
// `wrangler dev` (workerd → wrangler's log pipeline).
app.post("/agents/:id/state-logged", async (c) => {
  const id = c.req.param("id");
  const body = await c.req.json<{ state_data: unknown }>();
  const data = JSON.stringify(body.state_data);
  await c.env.STORE.getByName(id).save(data, Date.now());
  console.log(
    JSON.stringify({ level: "info", time: new Date().toISOString(), event: "state.saved", request_id: crypto.randomUUID(), agent_id: id, version: 1, bytes: data.length }),
  );
  return c.json({ success: true, agent_id: id });
});

app.get("/agents/:id/state", async (c) => {
  const id = c.req.param("id");
  const data = await c.env.STORE.getByName(id).load();
  if (data === null) return c.json({ error: "not found" }, 404);
  c.header("Content-Type", "application/json");
  return c.body(`{"agent_id":${JSON.stringify(id)},"state_data":${data}}`);
});

export default app;
