/**
 * The benchmark's counting wrapper around the product (never deployed, never part of the product):
 * `npm run bench -- --only state` builds a scratch Worker whose entry re-exports the product's
 * Worker and Durable Object classes through `countedWorker` and `countedDurableObject`, and runs it
 * on a scratch copy of the product's wrangler.toml (same bindings). Every binding the product
 * touches is wrapped on the way in, so the operations a save causes are counted from outside the
 * product's code:
 *
 * - Durable Object requests: each call on a stub (RPC method or fetch), as Cloudflare bills them
 *   (one RPC call = one request), and each alarm invocation.
 * - Durable Object SQLite rows: `rowsWritten`/`rowsRead` of every cursor `ctx.storage.sql.exec`
 *   returns (the numbers Cloudflare bills); `setAlarm` counts one row written, as billed.
 * - KV operations by kind (put, delete, get, list); D1 statements with their `meta.rows_written`
 *   and `meta.rows_read`; queue sends.
 *
 * The counters live in module scope, per group of agents (see `groupOf`): locally the Worker and its
 * Durable Objects run in one isolate, so the fetch handler sees what the objects counted. `GET
 * /__bench/ops` reads them with the alarms still set, `POST /__bench/ops/reset[?group=]` zeroes them, `POST /__bench/seed-agents` writes synthetic rows into the D1
 * agents index (uncounted) for the list-paging measurement. Any other request goes to the product.
 */

type Counts = Record<string, number>;
/**
 * Counters per group of agents: an agent's group is its name without a trailing `-<number>`
 * (`ops-64-0007` → `ops-64`), so the bench can run several spreads back to back and still tell
 * whose operations a late timer caused. Work for no agent in particular goes to `other`.
 */
let counts: Record<string, Counts> = {};
const OTHER = "other";
export const groupOf = (agentName: string | undefined): string => (agentName ? agentName.replace(/-\d+$/, "") : OTHER);
const bump = (group: string, key: string, n = 1): void => {
  if (!n) return;
  const g = (counts[group] ??= {});
  g[key] = (g[key] ?? 0) + n;
};

/** Durable Object id → the name it was reached by (getByName), so an object knows its group. */
const namesById = new Map<string, string>();

// A cursor's rowsWritten/rowsRead grow as it is stepped; the product consumes its cursors in the
// same synchronous turn, so they are read once that turn is over (a microtask later).
let pendingCursors: { group: string; cursor: SqlStorageCursor<Record<string, SqlStorageValue>> }[] = [];
let flushQueued = false;
function flushCursors(): void {
  flushQueued = false;
  for (const { group, cursor } of pendingCursors) {
    bump(group, "do_sql_rows_written", cursor.rowsWritten);
    bump(group, "do_sql_rows_read", cursor.rowsRead);
  }
  pendingCursors = [];
}

// Alarms set and not yet fired, per object (id → group and when, epoch ms): derived copies may
// wait on a timer, so the bench waits for the alarms due soon before it reads the counters.
const pendingAlarms = new Map<string, { group: string; at: number }>();
const alarmTime = (t: unknown): number => (t instanceof Date ? t.getTime() : Number(t));

const bound = (target: object, fn: unknown) => (typeof fn === "function" ? fn.bind(target) : fn);

function countedSql(sql: SqlStorage, group: () => string): SqlStorage {
  return new Proxy(sql, {
    get(target, prop) {
      if (prop === "exec") {
        return (query: string, ...bindings: unknown[]) => {
          const cursor = target.exec(query, ...bindings);
          bump(group(), "do_sql_statements");
          pendingCursors.push({ group: group(), cursor });
          if (!flushQueued) {
            flushQueued = true;
            queueMicrotask(flushCursors);
          }
          return cursor;
        };
      }
      return bound(target, Reflect.get(target, prop, target));
    },
  });
}

/** The synchronous KV API of a SQLite-backed object (`ctx.storage.kv`): a put or delete writes one row. */
function countedSyncKv(kv: object, group: () => string): object {
  return new Proxy(kv, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      if (prop === "put" || prop === "delete")
        return (...args: unknown[]) => {
          bump(group(), "do_kv_rows_written");
          return Reflect.apply(value, target, args);
        };
      return value.bind(target);
    },
  });
}

function countedStorage(storage: DurableObjectStorage, objectId: string): DurableObjectStorage {
  // Looked up late: the name is recorded by the Worker's getByName before the first request.
  const group = () => groupOf(namesById.get(objectId));
  const sql = countedSql(storage.sql, group);
  let kv: object | undefined;
  return new Proxy(storage, {
    get(target, prop) {
      if (prop === "sql") return sql;
      const value = Reflect.get(target, prop, target);
      if (prop === "kv" && value && typeof value === "object") return (kv ??= countedSyncKv(value, group));
      if (typeof value !== "function") return value;
      switch (prop) {
        case "setAlarm":
          return (...args: unknown[]) => {
            bump(group(), "do_set_alarm");
            pendingAlarms.set(objectId, { group: group(), at: alarmTime(args[0]) });
            return Reflect.apply(value, target, args);
          };
        case "deleteAlarm":
          return (...args: unknown[]) => {
            bump(group(), "do_delete_alarm");
            pendingAlarms.delete(objectId);
            return Reflect.apply(value, target, args);
          };
        case "put":
        case "delete":
          // Asynchronous KV API; on the SQLite backend one row per key.
          return (keyOrEntries: unknown, ...rest: unknown[]) => {
            const keys = Array.isArray(keyOrEntries)
              ? keyOrEntries.length
              : typeof keyOrEntries === "object" && keyOrEntries
                ? Object.keys(keyOrEntries).length
                : 1;
            bump(group(), "do_kv_rows_written", keys);
            return value.call(target, keyOrEntries, ...rest);
          };
        default:
          return value.bind(target);
      }
    },
  });
}

/**
 * Counts the object's storage calls. The runtime's DurableObject base class accepts only the real
 * state object, so instead of a proxy the state gets its own `storage` property, shadowing the
 * runtime's getter with the counted storage (what the product's constructor and methods read).
 */
function countStorageOf(ctx: DurableObjectState): void {
  const storage = countedStorage(ctx.storage, ctx.id.toString());
  Object.defineProperty(ctx, "storage", { value: storage, configurable: true });
}

// ---- bindings of the env ----

const PASS_THROUGH_STUB_PROPS = new Set<string | symbol>(["id", "name", "then", "constructor"]);

function countedStub<T extends object>(stub: T, binding: string, group: string): T {
  return new Proxy(stub, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof prop === "symbol" || PASS_THROUGH_STUB_PROPS.has(prop) || typeof value !== "function") return value;
      return (...args: unknown[]) => {
        bump(group, "do_requests");
        bump(group, `do_requests.${binding}.${prop}`);
        // An RPC method stub answers every property (`apply` too) with another remote call:
        // call it the plain way.
        return (target as Record<string, (...a: unknown[]) => unknown>)[prop]!(...args);
      };
    },
  });
}

function countedNamespace(ns: DurableObjectNamespace, binding: string): DurableObjectNamespace {
  return new Proxy(ns, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      if (prop === "getByName")
        return (name: string, ...rest: unknown[]) => {
          const stub = Reflect.apply(value, target, [name, ...rest]) as DurableObjectStub;
          namesById.set(stub.id.toString(), name);
          return countedStub(stub, binding, groupOf(name));
        };
      if (prop === "get")
        return (id: DurableObjectId, ...rest: unknown[]) => {
          const name = id.name ?? namesById.get(id.toString());
          if (id.name) namesById.set(id.toString(), id.name);
          return countedStub(Reflect.apply(value, target, [id, ...rest]) as DurableObjectStub, binding, groupOf(name));
        };
      if (prop === "jurisdiction")
        return (...args: unknown[]) =>
          countedNamespace(Reflect.apply(value as (...a: unknown[]) => DurableObjectNamespace, target, args), binding);
      return value.bind(target);
    },
  });
}

function countedKv(kv: KVNamespace, binding: string, group: string): KVNamespace {
  const kinds: Record<string, string> = {
    put: "kv_writes",
    delete: "kv_deletes",
    get: "kv_reads",
    getWithMetadata: "kv_reads",
    list: "kv_lists",
  };
  return new Proxy(kv, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      const kind = typeof prop === "string" ? kinds[prop] : undefined;
      if (!kind) return value.bind(target);
      return (...args: unknown[]) => {
        // A get of several keys at once is billed per key.
        bump(group, kind, kind === "kv_reads" && Array.isArray(args[0]) ? args[0].length : 1);
        bump(group, `${kind}.${binding}`);
        return Reflect.apply(value as (...a: unknown[]) => unknown, target, args);
      };
    },
  });
}

interface D1Meta {
  rows_written?: number;
  rows_read?: number;
}

function countMeta(group: string, meta: D1Meta | undefined): void {
  bump(group, "d1_statements");
  bump(group, "d1_rows_written", meta?.rows_written ?? 0);
  bump(group, "d1_rows_read", meta?.rows_read ?? 0);
}

const rawStatements = new WeakMap<object, D1PreparedStatement>();

function countedStatement(stmt: D1PreparedStatement, group: string): D1PreparedStatement {
  const proxy = new Proxy(stmt, {
    get(target, prop) {
      switch (prop) {
        case "bind":
          return (...values: unknown[]) => countedStatement(target.bind(...values), group);
        case "run":
        case "all":
          return async () => {
            const result = await target[prop]();
            countMeta(group, result.meta);
            return result;
          };
        case "first":
          // first() returns no meta: run the same statement with all() and take the first row.
          return async (column?: string) => {
            const result = await target.all<Record<string, unknown>>();
            countMeta(group, result.meta);
            const row = result.results[0];
            if (!row) return null;
            if (column === undefined) return row;
            if (!(column in row)) throw new Error(`D1_COLUMN_NOTFOUND: Column not found (${column})`);
            return row[column];
          };
        case "raw":
          return (...args: unknown[]) => {
            // raw() returns no meta either; counted as a statement whose rows are unknown.
            bump(group, "d1_statements_unmetered");
            return (target.raw as (...a: unknown[]) => unknown)(...args);
          };
        default:
          return bound(target, Reflect.get(target, prop, target));
      }
    },
  });
  rawStatements.set(proxy, stmt);
  return proxy;
}

interface D1Like {
  prepare(query: string): D1PreparedStatement;
  batch<T>(statements: D1PreparedStatement[]): Promise<D1Result<T>[]>;
}

function countedD1<T extends D1Like>(db: T, group: string): T {
  return new Proxy(db, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      switch (prop) {
        case "prepare":
          return (query: string) => countedStatement(target.prepare(query), group);
        case "batch":
          return async (statements: D1PreparedStatement[]) => {
            const results = await target.batch(statements.map((s) => rawStatements.get(s) ?? s));
            for (const r of results) countMeta(group, r.meta);
            return results;
          };
        case "exec":
          return (...args: unknown[]) => {
            bump(group, "d1_statements_unmetered");
            return Reflect.apply(value as (...a: unknown[]) => unknown, target, args);
          };
        case "withSession":
          return (...args: unknown[]) => countedD1(Reflect.apply(value as (...a: unknown[]) => D1Like, target, args), group);
        default:
          return bound(target, value);
      }
    },
  });
}

function countedQueue(queue: Queue, binding: string, group: string): Queue {
  return new Proxy(queue, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop === "send" || prop === "sendBatch")
        return (...args: unknown[]) => {
          bump(group, "queue_messages", prop === "sendBatch" && Array.isArray(args[0]) ? args[0].length : 1);
          bump(group, `queue_messages.${binding}`);
          return Reflect.apply(value as (...a: unknown[]) => unknown, target, args);
        };
      return bound(target, value);
    },
  });
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;
const has = (v: Record<string, unknown>, ...names: string[]) => names.every((n) => typeof v[n] === "function");

/** Wraps each binding by its shape (no binding names of the product are assumed). */
function countedBinding(name: string, value: unknown, group: string): unknown {
  if (!isObject(value)) return value;
  if (has(value, "idFromName", "get")) return countedNamespace(value as unknown as DurableObjectNamespace, name);
  if (has(value, "getWithMetadata", "put", "list")) return countedKv(value as unknown as KVNamespace, name, group);
  if (has(value, "prepare", "batch")) return countedD1(value as unknown as D1Database, group);
  if (has(value, "send", "sendBatch")) return countedQueue(value as unknown as Queue, name, group);
  return value;
}

/** The env with counted bindings whose KV, D1 and queue operations are charged to `group`. */
const wrappedEnvs = new WeakMap<object, Map<string, object>>();
function countedEnv<E extends object>(env: E, group: string): E {
  let byGroup = wrappedEnvs.get(env);
  if (!byGroup) wrappedEnvs.set(env, (byGroup = new Map()));
  let wrapped = byGroup.get(group);
  if (!wrapped) {
    const copy: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(env)) copy[name] = countedBinding(name, value, group);
    wrapped = copy;
    byGroup.set(group, wrapped);
  }
  return wrapped as E;
}

/** Whose request this is: the agent named in an /agents/{id} path, else `other`. */
function requestGroup(url: URL): string {
  const m = /\/agents\/([^/]+)/.exec(url.pathname);
  return groupOf(m ? decodeURIComponent(m[1]!) : undefined);
}

// ---- the exported wrappers ----

// A mixin base must be constructible with `...args: any[]`.
type DurableObjectClass = abstract new (...args: any[]) => object;

/** A subclass of the product's Durable Object class whose storage, env and alarms are counted. */
export function countedDurableObject<C extends DurableObjectClass>(Base: C): C {
  abstract class Counted extends Base {
    constructor(...args: any[]) {
      const [ctx, env] = args as [DurableObjectState, object];
      countStorageOf(ctx);
      const group = groupOf(namesById.get(ctx.id.toString()) ?? ctx.id.name);
      super(ctx, countedEnv(env, group) as never);
      bump(group, "do_constructed");
    }
  }
  const proto = Base.prototype as { alarm?: (...a: unknown[]) => unknown };
  if (typeof proto.alarm === "function") {
    const alarm = proto.alarm;
    Object.defineProperty(Counted.prototype, "alarm", {
      value(this: { ctx: DurableObjectState }, ...args: unknown[]) {
        const id = this.ctx.id.toString();
        const group = groupOf(namesById.get(id));
        bump(group, "do_requests");
        bump(group, "do_alarms");
        // The alarm fired; one the handler sets again is recorded by setAlarm.
        pendingAlarms.delete(id);
        return alarm.apply(this, args);
      },
    });
  }
  return Counted as C;
}

interface SeedRequest {
  count: number;
  prefix: string;
  table?: string;
}

/** Synthetic index rows (uncounted): `${prefix}${zero-padded n}`, written in chunks by a recursive CTE. */
async function seedAgents(db: D1Database, { count, prefix }: SeedRequest): Promise<{ written: number }> {
  const now = Date.now();
  let written = 0;
  for (let from = 0; from < count; from += 20_000) {
    const to = Math.min(count, from + 20_000);
    const r = await db
      .prepare(
        `WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
         INSERT OR IGNORE INTO agents (agent_id, agent_type, version, created_at, updated_at)
         SELECT ? || printf('%09d', i), 'analytics', 1, ?, ? FROM n`,
      )
      .bind(from, to, prefix, now, now)
      .run();
    written += r.meta.rows_written ?? 0;
  }
  return { written };
}

/** The product's Worker with counted bindings, plus the bench's /__bench/ routes. */
export function countedWorker<E extends object>(worker: ExportedHandler<E>): ExportedHandler<E> {
  return {
    ...worker,
    async fetch(request, env, ctx) {
      const url = new URL(request.url);
      if (url.pathname === "/__bench/ops") {
        flushCursors();
        const now = Date.now();
        const alarms: Record<string, number[]> = {};
        for (const { group, at } of pendingAlarms.values()) (alarms[group] ??= []).push(at - now);
        for (const due of Object.values(alarms)) due.sort((a, b) => a - b);
        return Response.json({ counts, alarms });
      }
      if (url.pathname === "/__bench/ops/reset" && request.method === "POST") {
        // ?group=… zeroes one group's counters, else all.
        flushCursors();
        const group = url.searchParams.get("group");
        if (group) delete counts[group];
        else counts = {};
        return Response.json({ reset: group ?? "all" });
      }
      if (url.pathname === "/__bench/seed-agents" && request.method === "POST") {
        const body = await request.json<SeedRequest>();
        const db = (env as Record<string, unknown>).DB as D1Database;
        try {
          return Response.json(await seedAgents(db, body));
        } catch (err) {
          return Response.json({ error: (err as Error).message }, { status: 500 });
        }
      }
      const group = requestGroup(url);
      bump(group, "worker_requests");
      return worker.fetch!(request as Parameters<NonNullable<ExportedHandler<E>["fetch"]>>[0], countedEnv(env, group), ctx);
    },
    ...(worker.queue
      ? {
          queue(batch, env, ctx) {
            bump(OTHER, "worker_queue_batches");
            return worker.queue!(batch, countedEnv(env, OTHER), ctx);
          },
        }
      : {}),
  };
}
