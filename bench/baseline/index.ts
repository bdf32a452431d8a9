/**
 * The bare baseline for `npm run bench`: Hono → Durable Object RPC → one SQLite statement.
 * Save is one INSERT (upsert of the single latest row), load is one SELECT. The JSON body is
 * parsed and `state_data` re-serialized, as any Worker storing it must; nothing else.
 *
 * Tasks: POST /agents/{id}/tasks inserts one row in the agent's BaselineTasksDO and sends one
 * queue message; the queue consumer (same batch settings as the product's) writes started_at
 * and completed_at in one statement. GET /agents/{id}/tasks lists the rows, GET
 * /agents/{id}/tasks/count counts them. No auth, validation, lanes, events or history.
 */
import { DurableObject } from "cloudflare:workers";
import { Hono } from "hono";

interface BaselineEnv {
  STORE: DurableObjectNamespace<BaselineDO>;
  TASKS: DurableObjectNamespace<BaselineTasksDO>;
  TASK_QUEUE: Queue<TaskMessage>;
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
    return this.ctx.storage.sql.exec<{ total: number; completed: number }>("SELECT count(*) AS total, count(completed_at) AS completed FROM tasks").one();
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

app.post("/agents/:id/tasks", async (c) => {
  const id = c.req.param("id");
  const taskId = `task_${crypto.randomUUID()}`;
  await c.env.TASKS.getByName(id).create(taskId, Date.now());
  await c.env.TASK_QUEUE.send({ task_id: taskId, agent_id: id }, { contentType: "json" });
  return c.json({ success: true, task_id: taskId, agent_id: id, status: "pending" }, 202);
});

app.get("/agents/:id/tasks", async (c) => c.json({ tasks: await c.env.TASKS.getByName(c.req.param("id")).list() }));

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
