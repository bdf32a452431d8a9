/**
 * The bare baseline for `npm run bench`: Hono → Durable Object RPC → one SQLite statement.
 * Save is one INSERT (upsert of the single latest row), load is one SELECT. The JSON body is
 * parsed and `state_data` re-serialized, as any Worker storing it must; nothing else.
 *
 * Tasks: POST /agents/{id}/tasks inserts one row in the agent's BaselineTasksDO and sends one
 * queue message; the queue consumer (same batch settings as the product's) writes started_at
 * and completed_at in one statement. GET /agents/{id}/tasks lists the rows, GET
 * /agents/{id}/tasks/count counts them. No auth, validation, lanes, events or history.
 *
 * Signalling: GET /relay/{room}/ws?peer=…&mode=… upgrades to a hibernatable WebSocket on the
 * room's BaselineRelayDO (tagged with the peer id). The baseline is `mode=relay`: each text frame
 * is sent as it is to the room's other socket(s). `mode=json` and `mode=json-sql` are diagnostic
 * stages only (never the baseline's numbers): parse the frame, stamp `from`, route by `to`, send
 * it re-serialized, and (json-sql) read one peer row from SQLite per frame first.
 */
import { DurableObject } from "cloudflare:workers";
import { Hono } from "hono";

interface BaselineEnv {
  STORE: DurableObjectNamespace<BaselineDO>;
  TASKS: DurableObjectNamespace<BaselineTasksDO>;
  TASK_QUEUE: Queue<TaskMessage>;
  RELAY: DurableObjectNamespace<BaselineRelayDO>;
}

interface TaskMessage {
  task_id: string;
  agent_id: string;
}

interface TaskRow {
  task_id: string;
  created_at: number;
  started_at: number | null;
  completed_at: number | null;
  [column: string]: SqlStorageValue;
}

export class BaselineDO extends DurableObject<BaselineEnv> {
  constructor(ctx: DurableObjectState, env: BaselineEnv) {
    super(ctx, env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS state (id INTEGER PRIMARY KEY CHECK (id = 1), data TEXT NOT NULL, saved_at INTEGER NOT NULL)",
    );
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

export class BaselineTasksDO extends DurableObject<BaselineEnv> {
  constructor(ctx: DurableObjectState, env: BaselineEnv) {
    super(ctx, env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS tasks (seq INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL, started_at INTEGER, completed_at INTEGER)",
    );
  }

  create(taskId: string, nowMs: number): void {
    this.ctx.storage.sql.exec("INSERT INTO tasks (task_id, created_at) VALUES (?, ?)", taskId, nowMs);
  }

  complete(taskId: string, startedMs: number): void {
    this.ctx.storage.sql.exec("UPDATE tasks SET started_at = ?, completed_at = ? WHERE task_id = ?", startedMs, Date.now(), taskId);
  }

  list(): TaskRow[] {
    return this.ctx.storage.sql.exec<TaskRow>("SELECT task_id, created_at, started_at, completed_at FROM tasks ORDER BY seq").toArray();
  }

  count(): { total: number; completed: number } {
    return this.ctx.storage.sql
      .exec<{ total: number; completed: number }>("SELECT count(*) AS total, count(completed_at) AS completed FROM tasks")
      .one();
  }
}

type RelayMode = "relay" | "json" | "json-sql";
const RELAY_MODES: readonly string[] = ["relay", "json", "json-sql"];

export class BaselineRelayDO extends DurableObject<BaselineEnv> {
  // The room's mode, set at accept; after a hibernation wake-up it is read back from a tag.
  #mode: RelayMode | undefined;

  constructor(ctx: DurableObjectState, env: BaselineEnv) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS peers (peer TEXT PRIMARY KEY, joined_at INTEGER NOT NULL, left_at INTEGER)");
  }

  override fetch(request: Request): Response {
    const url = new URL(request.url);
    const peer = url.searchParams.get("peer");
    const mode = url.searchParams.get("mode") ?? "relay";
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket" || !peer || !RELAY_MODES.includes(mode)) {
      return new Response("expects a WebSocket upgrade with ?peer= and mode relay | json | json-sql", { status: 400 });
    }
    for (const old of this.ctx.getWebSockets(peer)) old.close(4000, "replaced");
    this.ctx.storage.sql.exec("INSERT INTO peers (peer, joined_at) VALUES (?, ?) ON CONFLICT (peer) DO NOTHING", peer, Date.now());
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1], [peer, `mode:${mode}`]);
    pair[1].serializeAttachment({ peer });
    this.#mode = mode as RelayMode;
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): void {
    const mode = (this.#mode ??= (this.ctx
      .getTags(ws)
      .find((t) => t.startsWith("mode:"))
      ?.slice(5) ?? "relay") as RelayMode);
    if (mode === "relay") {
      for (const peer of this.ctx.getWebSockets()) if (peer !== ws) peer.send(message);
      return;
    }
    // Diagnostic stages: what any relay that stamps `from` must do, then one SQLite read.
    const self = (ws.deserializeAttachment() as { peer: string }).peer;
    const frame = JSON.parse(message as string) as { to: string; from?: string };
    if (mode === "json-sql") this.ctx.storage.sql.exec("SELECT * FROM peers WHERE peer = ?", self).toArray();
    for (const peer of this.ctx.getWebSockets(frame.to)) peer.send(JSON.stringify({ ...frame, from: self }));
  }

  override webSocketClose(ws: WebSocket, code: number, reason: string): void {
    ws.close(code === 1000 || (code >= 3000 && code <= 4999) ? code : 1000, reason);
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
    JSON.stringify({
      level: "info",
      time: new Date().toISOString(),
      event: "state.saved",
      request_id: crypto.randomUUID(),
      agent_id: id,
      version: 1,
      bytes: data.length,
    }),
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

app.post("/agents/:id/tasks", async (c) => {
  const id = c.req.param("id");
  const taskId = `task_${crypto.randomUUID()}`;
  await c.env.TASKS.getByName(id).create(taskId, Date.now());
  await c.env.TASK_QUEUE.send({ task_id: taskId, agent_id: id }, { contentType: "json" });
  return c.json({ success: true, task_id: taskId, agent_id: id, status: "pending" }, 202);
});

app.get("/agents/:id/tasks", async (c) => c.json({ tasks: await c.env.TASKS.getByName(c.req.param("id")).list() }));

app.get("/relay/:room/ws", (c) => c.env.RELAY.getByName(c.req.param("room")).fetch(c.req.raw));

app.get("/agents/:id/tasks/count", async (c) => c.json(await c.env.TASKS.getByName(c.req.param("id")).count()));

export default {
  fetch: app.fetch,
  // Messages of a batch run concurrently, as in the product's consumer (workers/task-consumer.ts).
  async queue(batch: MessageBatch<TaskMessage>, env: BaselineEnv): Promise<void> {
    await Promise.all(
      batch.messages.map(async (message) => {
        await env.TASKS.getByName(message.body.agent_id).complete(message.body.task_id, Date.now());
        message.ack();
      }),
    );
  },
} satisfies ExportedHandler<BaselineEnv, TaskMessage>;
