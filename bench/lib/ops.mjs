// Operations per save, counted (not estimated) on the product run through the bench's counting
// wrapper (bench/ops/instrument.ts, on a scratch copy of the product's wrangler.toml), and what a
// million saves cost at Cloudflare's published prices (bench/prices.json). How the windows run:
// measureOps below.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { log } from "./harness.mjs";
import { keepAliveAgent, runWindow } from "./load.mjs";

export const PRICES_FILE = "bench/prices.json";

/** The wrangler config and entry of the counting wrapper, written into `dir` (the run's temp dir). */
export function countingConfig({ productConfig, dir, root }) {
  const configPath = path.resolve(productConfig);
  const productRoot = path.dirname(configPath);
  const toml = readFileSync(configPath, "utf8");
  const m = /^main\s*=\s*"([^"]+)"/m.exec(toml);
  if (!m) throw new Error(`${productConfig} has no main`);
  // Each class once: the [env.*] sections repeat the bindings (wrangler inherits none).
  const classes = [...new Set([...toml.matchAll(/^class_name\s*=\s*"([^"]+)"/gm)].map((x) => x[1]))];
  const entry = path.join(dir, "ops-entry.mjs");
  const abs = (p) => JSON.stringify(path.resolve(productRoot, p));
  writeFileSync(
    entry,
    [
      "// Written by bench/lib/ops.mjs: the product's Worker and Durable Objects with counted bindings.",
      `import worker, { ${classes.map((c) => `${c} as Product${c}`).join(", ")} } from ${abs(m[1])};`,
      `import { countedDurableObject, countedWorker } from ${JSON.stringify(path.join(root, "bench/ops/instrument.ts"))};`,
      "export default countedWorker(worker);",
      ...classes.map((c) => `export class ${c} extends countedDurableObject(Product${c}) {}`),
      "",
    ].join("\n"),
  );
  // Paths in a wrangler config are relative to its folder: point them back at the product's.
  const scratch = toml
    .replace(/^#:schema .*$/m, "")
    .replace(/^main\s*=\s*"([^"]+)"/m, () => `main = ${JSON.stringify(entry)}`)
    .replace(/^migrations_dir\s*=\s*"([^"]+)"/m, (_, p) => `migrations_dir = ${abs(p)}`)
    .replace(/^directory\s*=\s*"([^"]+)"/m, (_, p) => `directory = ${abs(p)}`);
  const config = path.join(dir, "ops-wrangler.toml");
  writeFileSync(config, `# Scratch copy of ${configPath} with the bench's counting entry (bench/lib/ops.mjs).\n${scratch}`);
  return config;
}

export function loadPrices() {
  return JSON.parse(readFileSync(PRICES_FILE, "utf8"));
}

/** Billable quantities per save from raw counter deltas. */
export function perSave(counts, saves) {
  const c = (k) => (counts[k] ?? 0) / saves;
  return {
    saves,
    worker_requests: c("worker_requests"),
    do_requests: c("do_requests"),
    do_alarms: c("do_alarms"),
    // Cloudflare bills each setAlarm() and each key-value put/delete as one row written.
    do_rows_written: c("do_sql_rows_written") + c("do_kv_rows_written") + c("do_set_alarm"),
    do_rows_read: c("do_sql_rows_read"),
    do_sql_statements: c("do_sql_statements"),
    do_set_alarm: c("do_set_alarm"),
    kv_writes: c("kv_writes"),
    kv_deletes: c("kv_deletes"),
    kv_reads: c("kv_reads"),
    kv_lists: c("kv_lists"),
    d1_statements: c("d1_statements"),
    d1_rows_written: c("d1_rows_written"),
    d1_rows_read: c("d1_rows_read"),
    d1_statements_unmetered: c("d1_statements_unmetered"),
    // A delivered message costs about 3 queue operations (write, read, delete).
    queue_operations: 3 * c("queue_messages"),
    raw: Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v / saves])),
  };
}

/** Dollars per million saves, item by item, at the prices of bench/prices.json. */
export function costPerMillion(ops, prices) {
  const items = Object.entries(prices.items)
    .map(([key, item]) => ({ key, label: item.label, perSave: ops[key] ?? 0, dollars: (ops[key] ?? 0) * item.price_per_million }))
    .filter((x) => x.perSave > 0);
  return { items, total: items.reduce((s, x) => s + x.dollars, 0) };
}

/** The counting wrapper's /__bench/ops routes on `server`. */
export function countingClient(server) {
  const base = `http://127.0.0.1:${server.port}`;
  return {
    /** { counts: { [group]: { [counter]: n } }, alarms: { [group]: [ms until due, …] } } */
    async snapshot() {
      const res = await fetch(`${base}/__bench/ops`);
      if (res.status !== 200) throw new Error(`counting wrapper: GET /__bench/ops → ${res.status}`);
      return res.json();
    },
    async reset(group) {
      const res = await fetch(`${base}/__bench/ops/reset${group ? `?group=${encodeURIComponent(group)}` : ""}`, { method: "POST" });
      if (res.status !== 200) throw new Error(`counting wrapper: reset → ${res.status}`);
    },
  };
}

/**
 * Waits until the counters of `groups` have not moved for `quietMs` and none of their alarms is
 * due before the deadline (`maxMs` from now); at the deadline it stops waiting. Returns the last
 * snapshot and whether it ended quiet.
 */
async function settle(ops, groups, { quietMs, maxMs }) {
  const t0 = Date.now();
  const pick = (snap) => JSON.stringify(groups.map((g) => snap.counts[g] ?? {}));
  let snap = await ops.snapshot();
  let last = pick(snap);
  let lastChange = Date.now();
  for (;;) {
    await sleep(250);
    snap = await ops.snapshot();
    const now = pick(snap);
    if (now !== last) {
      last = now;
      lastChange = Date.now();
    }
    const left = maxMs - (Date.now() - t0);
    const dueInTime = groups.some((g) => (snap.alarms[g] ?? []).some((ms) => ms <= left));
    const quiet = Date.now() - lastChange >= quietMs && !dueInTime;
    if (quiet || left <= 0) return { snap, quiet, waitedMs: Date.now() - t0 };
  }
}

/** Sends each agent's save once per `periodMs`, spread evenly over the period, for `durationMs`. */
async function pacedSaves({ port, ids, build, periodMs, durationMs }) {
  const start = performance.now();
  const pending = [];
  let failed = null;
  let sent = 0;
  for (let k = 0; performance.now() - start < durationMs; k++) {
    for (let i = 0; i < ids.length; i++) {
      const at = start + k * periodMs + (i * periodMs) / ids.length;
      if (at - start >= durationMs) break;
      const wait = at - performance.now();
      if (wait > 0) await sleep(wait);
      const req = build(ids[i]);
      sent++;
      pending.push(
        fetch(`http://127.0.0.1:${port}${req.path}`, { method: req.method, headers: req.headers, body: req.body }).then(async (res) => {
          await res.arrayBuffer();
          if (res.status !== 200) failed ??= `${req.path} → ${res.status}`;
        }),
      );
    }
  }
  await Promise.all(pending);
  if (failed) throw new Error(`paced saves: ${failed}`);
  return { saves: sent, elapsedMs: performance.now() - start };
}

const idsOf = (group, n) => Array.from({ length: n }, (_, i) => `${group}-${String(i).padStart(4, "0")}`);
const agentsLabel = (n) => (n === 1 ? "1 agent" : `${n.toLocaleString("en-US")} agents`);

/**
 * Counts the operations per save on the counting server. Every scenario has its own agents (a
 * group, see bench/ops/instrument.ts), so scenarios run back to back and a timer that fires late
 * is still charged to the scenario that set it:
 *
 * 1. every scenario's agents are saved once (not counted), then the first save of `newAgents`
 *    (default: the largest spread) new agents is counted (what an agent's creation costs);
 * 2. once the seeding's timers have fired (or `maxSettleMs`), each scenario's counters are zeroed
 *    and its window runs: closed loop over its agents (`windowMs`), or each agent once a second
 *    (`pacedMs`);
 * 3. the counters are read once they have been quiet for `quietMs` and no alarm of these groups is
 *    due within `maxSettleMs`; alarms still set then are reported as deferred (not counted).
 *
 * @param {{ server: object, buildSave: (id: string) => object, spreads: number[], pacedAgents: number | null, newAgents?: number,
 *   windowMs: number, pacedMs: number, quietMs: number, maxSettleMs: number, concurrency: number }} o
 */
export async function measureOps(o) {
  const ops = countingClient(o.server);
  const agent = keepAliveAgent(o.concurrency);
  const closedLoop = async (ids, { maxRequests, durationMs }) => {
    const r = await runWindow({
      agent,
      port: o.server.port,
      concurrency: Math.min(o.concurrency, maxRequests),
      durationMs,
      maxRequests,
      nextRequest: (i) => o.buildSave(ids[i % ids.length]),
    });
    if (r.errors) throw new Error(`ops window: ${r.errors} failed (first: ${r.firstError})`);
    return { saves: r.completed, elapsedMs: r.elapsedMs };
  };

  const scenarios = o.spreads.map((n) => ({
    group: `ops-${n}`,
    kind: "steady",
    label: `save, ${agentsLabel(n)}`,
    ids: idsOf(`ops-${n}`, n),
  }));
  if (o.pacedAgents && o.spreads.includes(o.pacedAgents))
    scenarios.push({
      group: `paced-${o.pacedAgents}`,
      kind: "paced",
      label: `save, ${agentsLabel(o.pacedAgents)}, each once a second`,
      ids: idsOf(`paced-${o.pacedAgents}`, o.pacedAgents),
    });
  const newCount = o.newAgents ?? Math.max(...o.spreads);
  const create = { group: `new-${newCount}`, kind: "create", label: "first save of a new agent", ids: idsOf(`new-${newCount}`, newCount) };

  const seedIds = scenarios.flatMap((s) => s.ids);
  log(`Counting operations per save: seeding ${seedIds.length} agents, then the first save of ${newCount} new ones…`);
  await ops.reset();
  await closedLoop(seedIds, { maxRequests: seedIds.length, durationMs: 600_000 });
  Object.assign(create, await closedLoop(create.ids, { maxRequests: create.ids.length, durationMs: 600_000 }));
  const seeded = await settle(
    ops,
    scenarios.map((s) => s.group),
    { quietMs: o.quietMs, maxMs: o.maxSettleMs },
  );
  log(`  seeding settled after ${(seeded.waitedMs / 1000).toFixed(1)} s${seeded.quiet ? "" : " (limit reached, timers still set)"}.`);
  for (const s of scenarios) {
    await ops.reset(s.group);
    Object.assign(
      s,
      s.kind === "paced"
        ? await pacedSaves({ port: o.server.port, ids: s.ids, build: o.buildSave, periodMs: 1000, durationMs: o.pacedMs })
        : await closedLoop(s.ids, { maxRequests: 10_000_000, durationMs: o.windowMs }),
    );
    log(`  ${s.label}: ${s.saves} saves in ${(s.elapsedMs / 1000).toFixed(1)} s`);
  }
  const all = [create, ...scenarios];
  const final = await settle(
    ops,
    all.map((s) => s.group),
    { quietMs: o.quietMs, maxMs: o.maxSettleMs },
  );
  log(
    `  counters read ${(final.waitedMs / 1000).toFixed(1)} s after the last window${final.quiet ? "" : " (limit reached, timers still set)"}.`,
  );
  agent.destroy();

  return all.map((s) => {
    const due = final.snap.alarms[s.group] ?? [];
    const row = {
      label: s.label,
      kind: s.kind,
      group: s.group,
      agents: s.ids.length,
      saves: s.saves,
      windowMs: s.elapsedMs,
      savesPerAgentPerSecond: s.saves / s.ids.length / (s.elapsedMs / 1000),
      // Alarms still set when the counters were read: work deferred past the wait, not counted.
      deferred: { alarms: due.length, firstDueInMs: due[0] ?? null, lastDueInMs: due.at(-1) ?? null },
      ops: perSave(final.snap.counts[s.group] ?? {}, s.saves),
    };
    log(
      `  ${row.label}: ${row.savesPerAgentPerSecond.toFixed(2)} saves/agent/s; per save: DO requests ${row.ops.do_requests.toFixed(3)}, ` +
        `DO rows written ${row.ops.do_rows_written.toFixed(3)}, KV writes ${row.ops.kv_writes.toFixed(3)}, D1 rows written ${row.ops.d1_rows_written.toFixed(3)}` +
        `${due.length ? `; ${due.length} alarm(s) still set, due in ${(due[0] / 1000).toFixed(0)}–${(due.at(-1) / 1000).toFixed(0)} s (not counted)` : ""}`,
    );
    return row;
  });
}
