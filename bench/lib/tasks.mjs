// The task pipeline benchmark: N tasks created over HTTP and run to completed through the local
// Queue, on the product (noop tasks on one agent, JWT) and on the bare baseline (POST /tasks →
// one DO row + one queue message; the consumer writes completed_at). Latency comes from the
// servers' own timestamps (created_at → completed_at), throughput from the client's wall clock
// (first create sent → all completed observed). Polling is cheap (limit=1 / a count) and sparse.
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { runWindow, percentile } from "./load.mjs";
import { groupCpu, logSize, reloadedSince } from "./servers.mjs";

/** wrangler rebuilt the Worker mid-run (a source file changed): the local queue's messages are gone. */
export class ReloadedError extends Error {}

// ── wrangler.toml: the consumer settings of one queue, and a scratch copy with other ones ──────

const CONSUMER_KEYS = ["max_batch_size", "max_batch_timeout", "max_retries"];

function consumerBlocks(text) {
  // [[queues.consumers]] tables run until the next table header.
  const blocks = [];
  const re = /^\[\[queues\.consumers\]\]\s*$/gm;
  let m;
  while ((m = re.exec(text))) {
    const start = m.index;
    const rest = text.slice(re.lastIndex);
    const next = /^\[/m.exec(rest);
    blocks.push({ start, end: re.lastIndex + (next ? next.index : rest.length) });
  }
  return blocks.map((b) => ({ ...b, text: text.slice(b.start, b.end) }));
}

/** { max_batch_size, max_batch_timeout, max_retries } of the consumer of `queue` in a wrangler.toml. */
export function consumerSettings(text, queue) {
  const block = consumerBlocks(text).find((b) => new RegExp(`^queue\\s*=\\s*"${queue}"`, "m").test(b.text));
  if (!block) throw new Error(`no [[queues.consumers]] for queue "${queue}"`);
  const out = {};
  for (const key of CONSUMER_KEYS) {
    const v = new RegExp(`^${key}\\s*=\\s*([0-9.]+)`, "m").exec(block.text);
    out[key] = v ? Number(v[1]) : null;
  }
  return out;
}

/** The same wrangler.toml with the consumer of `queue` changed (every key given in `settings`). */
export function withConsumerSettings(text, queue, settings) {
  const block = consumerBlocks(text).find((b) => new RegExp(`^queue\\s*=\\s*"${queue}"`, "m").test(b.text));
  if (!block) throw new Error(`no [[queues.consumers]] for queue "${queue}"`);
  let changed = block.text;
  for (const [key, value] of Object.entries(settings)) {
    const re = new RegExp(`^${key}\\s*=.*$`, "m");
    changed = re.test(changed) ? changed.replace(re, `${key} = ${value}`) : changed.replace(/\s*$/, `\n${key} = ${value}\n`);
  }
  return text.slice(0, block.start) + changed + text.slice(block.end);
}

// ── one run: create N tasks, wait until all are completed, read their timestamps ──────────────

const ms = (iso) => (iso === null || iso === undefined ? null : typeof iso === "number" ? iso : Date.parse(iso));

async function getJson(port, path, headers) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers, signal: AbortSignal.timeout(15_000) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${path} → ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

/** Request builders and readers of one side. */
export function taskSide(side, { auth } = {}) {
  if (side === "product") {
    const body = Buffer.from(JSON.stringify({ task_type: "noop" }));
    const headers = { ...auth, "content-type": "application/json", "content-length": String(body.length) };
    return {
      create: (agentId) => ({ method: "POST", path: `/api/v2/agents/${agentId}/tasks`, headers, body }),
      /** Done when the agent has neither pending nor running tasks (2 × limit=1). */
      async done(port, agentId) {
        for (const status of ["pending", "running"]) {
          const page = await getJson(port, `/api/v2/agents/${agentId}/tasks?status=${status}&limit=1`, auth);
          if (page.tasks.length > 0) return false;
        }
        return true;
      },
      pollRequests: 2,
      async rows(port, agentId) {
        const rows = [];
        let cursor = null;
        for (let page = 0; page < 100; page++) {
          const doc = await getJson(port, `/api/v2/agents/${agentId}/tasks?limit=100${cursor ? `&cursor=${cursor}` : ""}`, auth);
          rows.push(...doc.tasks);
          cursor = doc.next_cursor;
          if (!cursor) break;
        }
        return rows.map((t) => ({
          task_id: t.task_id,
          status: t.status,
          instance_id: t.instance_id,
          attempts: t.attempts,
          created: ms(t.created_at),
          started: ms(t.started_at),
          completed: ms(t.completed_at),
        }));
      },
    };
  }
  return {
    create: (agentId) => ({ method: "POST", path: `/agents/${agentId}/tasks`, headers: { "content-length": "0" } }),
    async done(port, agentId, expected) {
      const c = await getJson(port, `/agents/${agentId}/tasks/count`, {});
      return c.total >= expected && c.completed === c.total;
    },
    pollRequests: 1,
    async rows(port, agentId) {
      const doc = await getJson(port, `/agents/${agentId}/tasks`, {});
      return doc.tasks.map((t) => ({
        task_id: t.task_id,
        status: t.completed_at ? "completed" : "pending",
        instance_id: null,
        attempts: 1,
        created: t.created_at,
        started: t.started_at,
        completed: t.completed_at,
      }));
    },
  };
}

/** The local queue broker logs one line per delivered batch: `QUEUE <name> <acked>/<size> (<ms>ms)`. */
export function batchesInLog(logPath, offset, queue) {
  const text = readFileSync(logPath, "utf8").slice(offset);
  const re = new RegExp(`QUEUE ${queue} (\\d+)/(\\d+) \\((\\d+)ms\\)`, "g");
  const sizes = [];
  const durations = [];
  let m;
  while ((m = re.exec(text))) {
    sizes.push(Number(m[2]));
    durations.push(Number(m[3]));
  }
  return { sizes, durations };
}

/**
 * When each task got its lane, reconstructed from the server's timestamps: the agent's backlog
 * is FIFO and a lane is freed by a completion (durable-objects/agent/task-engine.ts dispatch()),
 * so replaying creations and completions in time order with `lanes` slots gives each task's
 * dispatch time. `lanes` = Infinity for the baseline (it sends at create time).
 */
export function reconstructDispatch(rows, lanes) {
  const events = [];
  rows.forEach((r, i) => {
    events.push({ t: r.created, kind: 1, i });
    if (r.completed !== null) events.push({ t: r.completed, kind: 0, i });
  });
  // Completions first on equal timestamps: the freed lane is there when the task arrives.
  events.sort((a, b) => a.t - b.t || a.kind - b.kind || a.i - b.i);
  const dispatched = Array.from({ length: rows.length }, () => null);
  const backlog = [];
  let free = lanes;
  for (const e of events) {
    if (e.kind === 1) {
      if (free > 0) {
        free--;
        dispatched[e.i] = e.t;
      } else backlog.push(e.i);
    } else if (backlog.length > 0) dispatched[backlog.shift()] = e.t;
    else free++;
  }
  return dispatched;
}

function dist(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  let sum = 0;
  for (const x of v) sum += x;
  return { p50: percentile(v, 50), p95: percentile(v, 95), max: v.length ? v[v.length - 1] : NaN, mean: v.length ? sum / v.length : NaN };
}

/** Most tasks between started and completed at one time. */
function maxOverlap(rows) {
  const ev = [];
  for (const r of rows) {
    if (r.started === null || r.completed === null) continue;
    ev.push([r.started, 1], [r.completed, -1]);
  }
  ev.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cur = 0;
  let max = 0;
  for (const [, d] of ev) {
    cur += d;
    max = Math.max(max, cur);
  }
  return max;
}

/**
 * Runs one side once: `count` tasks spread round-robin over `agentIds`, created by `concurrency`
 * keep-alive clients, then polls every `pollMs` until every agent is done (at most `timeoutMs`).
 */
export async function runTasksOnce({
  side,
  server,
  httpAgent,
  ops,
  agentIds,
  count,
  concurrency,
  lanes,
  pollMs,
  timeoutMs,
  queue,
  maxBatchSize,
}) {
  const logOffset = logSize(server);
  const cpu0 = groupCpu(server);
  const lg0 = process.cpuUsage();
  const t0 = Date.now();
  const create = await runWindow({
    agent: httpAgent,
    port: server.port,
    concurrency: Math.min(concurrency, count),
    durationMs: timeoutMs,
    maxRequests: count,
    okStatus: [202],
    nextRequest: (i) => ops.create(agentIds[i % agentIds.length]),
  });
  if (create.errors > 0)
    throw new Error(
      `${side}: ${create.errors} of ${count} task creates failed (first: ${create.firstError}); statuses ${JSON.stringify(create.statuses)}`,
    );
  if (create.completed !== count) throw new Error(`${side}: only ${create.completed} of ${count} tasks created in ${timeoutMs} ms`);
  const createdAllMs = Date.now() - t0;
  const pending = new Set(agentIds);
  const perAgent = Object.fromEntries(
    agentIds.map((id, i) => [id, Math.floor(count / agentIds.length) + (i < count % agentIds.length ? 1 : 0)]),
  );
  let polls = 0;
  let pollRequests = 0;
  while (pending.size > 0) {
    if (reloadedSince(server, logOffset))
      throw new ReloadedError(`${side}: wrangler reloaded the Worker during the run (a source file changed)`);
    if (Date.now() - t0 > timeoutMs)
      throw new Error(`${side}: tasks not all completed after ${timeoutMs} ms (${pending.size} agent(s) still busy)`);
    await sleep(pollMs);
    polls++;
    for (const id of pending) {
      pollRequests += ops.pollRequests;
      if (await ops.done(server.port, id, perAgent[id])) pending.delete(id);
    }
  }
  const observedMs = Date.now() - t0;
  const cpu1 = groupCpu(server);
  const lg = process.cpuUsage(lg0);
  const rows = [];
  for (const id of agentIds) {
    const list = await ops.rows(server.port, id);
    // Per agent, FIFO: each task's lane wait, reconstructed from its own agent's rows (product).
    const d = side === "product" ? reconstructDispatch(list, lanes) : list.map((r) => r.created);
    list.forEach((r, i) => {
      r.dispatched = d[i];
    });
    rows.push(...list);
  }
  const notDone = rows.filter((r) => r.status !== "completed");
  if (rows.length !== count || notDone.length) {
    throw new Error(
      `${side}: ${rows.length} task rows for ${count} created, ${notDone.length} not completed (${JSON.stringify(notDone.slice(0, 3))})`,
    );
  }
  const batches = batchesInLog(server.logPath, logOffset, queue);
  const firstCreated = Math.min(...rows.map((r) => r.created));
  const lastCompleted = Math.max(...rows.map((r) => r.completed));
  const per = (x) => x / count;
  const cpuMsPerTask = Object.fromEntries(Object.keys(cpu1).map((role) => [role, per(cpu1[role] - cpu0[role])]));
  cpuMsPerTask.loadgen = per((lg.user + lg.system) / 1000);
  // Wall time: first create sent (client clock) → last completed_at (server clock, same machine),
  // so the poll interval does not round it up; the poll-observed time is kept as a cross-check.
  const wallMs = Math.max(createdAllMs, lastCompleted - t0);
  return {
    count,
    agents: agentIds.length,
    lanesPerAgent: lanes,
    instancesSeen: new Set(rows.map((r) => r.instance_id).filter(Boolean)).size,
    wallMs,
    observedMs,
    createdAllMs,
    drainMs: wallMs - createdAllMs,
    tasksPerS: (count / wallMs) * 1000,
    tasksPerSObserved: (count / observedMs) * 1000,
    serverSpanMs: lastCompleted - firstCreated,
    tasksPerSServer: (count / Math.max(1, lastCompleted - firstCreated)) * 1000,
    createRps: create.rps,
    createP50: create.p50,
    createP99: create.p99,
    latency: dist(rows.map((r) => r.completed - r.created)),
    laneWait: dist(rows.map((r) => r.dispatched - r.created)),
    queueWait: dist(rows.map((r) => r.started - r.dispatched)),
    run: dist(rows.map((r) => r.completed - r.started)),
    maxRunning: maxOverlap(rows),
    retried: rows.filter((r) => r.attempts > 1).length,
    batches: {
      count: batches.sizes.length,
      meanSize: batches.sizes.length ? batches.sizes.reduce((a, b) => a + b, 0) / batches.sizes.length : NaN,
      // A batch smaller than max_batch_size was flushed by the max_batch_timeout timer.
      timerFlushed: batches.sizes.filter((s) => s < maxBatchSize).length,
      meanConsumerMs: batches.durations.length ? batches.durations.reduce((a, b) => a + b, 0) / batches.durations.length : NaN,
      sizes: batches.sizes,
    },
    polls,
    pollRequests,
    cpuMsPerTask,
  };
}
