// Growth: does a save or a load get slower as an agent's history grows, and does a page of the
// agents list get slower as the number of agents grows? Run on the counting server of the state
// group (bench/lib/ops.mjs), whose /__bench/seed-agents writes synthetic rows straight into the
// local D1 agents index, so 100,000 agents do not take 100,000 HTTP saves (only the agents on the
// pages read are saved for real).
import { performance } from "node:perf_hooks";
import { log } from "./harness.mjs";
import { keepAliveAgent, percentile, runWindow } from "./load.mjs";
import { countingClient } from "./ops.mjs";
import { median } from "./report.mjs";

const SEED_PREFIX = "list-";

function stats(samples) {
  const sorted = Float64Array.from(samples).sort();
  return { n: sorted.length, p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99) };
}

async function timed(base, req, expect = 200) {
  const t0 = performance.now();
  const res = await fetch(base + req.path, { method: req.method, headers: req.headers, body: req.body });
  const text = await res.text();
  const ms = performance.now() - t0;
  if (res.status !== expect) throw new Error(`${req.method} ${req.path} → ${res.status} ${text.slice(0, 200)}`);
  return { ms, text };
}

/**
 * Save and load latency, one request at a time (no queueing), on an agent with `historySaves`
 * saves behind it against a new agent, interleaved so drift hits both.
 */
async function historyGrowth({ server, build, historySaves, samples, concurrency }) {
  const base = `http://127.0.0.1:${server.port}`;
  const old = "growth-long-history";
  const fresh = "growth-new";
  log(`  writing ${historySaves} saves to one agent (${concurrency} clients)…`);
  const agent = keepAliveAgent(concurrency);
  const fill = await runWindow({
    agent,
    port: server.port,
    concurrency,
    durationMs: 15 * 60_000,
    maxRequests: historySaves,
    nextRequest: () => build.save(old),
  });
  agent.destroy();
  if (fill.errors || fill.completed !== historySaves) throw new Error(`history fill: ${fill.errors} errors (first: ${fill.firstError})`);
  await timed(base, build.save(fresh));
  const version = JSON.parse((await timed(base, build.load(old))).text).version;
  const lat = { save: { old: [], fresh: [] }, load: { old: [], fresh: [] } };
  for (let i = 0; i < samples; i++) {
    const order = i % 2 ? ["fresh", "old"] : ["old", "fresh"];
    for (const op of ["save", "load"])
      for (const which of order) lat[op][which].push((await timed(base, build[op](which === "old" ? old : fresh))).ms);
  }
  const out = { historySaves, versionBehind: version, fillRps: fill.rps, samples };
  for (const op of ["save", "load"]) {
    const o = stats(lat[op].old);
    const f = stats(lat[op].fresh);
    out[op] = { old: o, fresh: f, p50Ratio: o.p50 / f.p50, p99Ratio: o.p99 / f.p99 };
  }
  log(
    `  save p50 ${out.save.old.p50.toFixed(2)} ms with ${version} versions behind vs ${out.save.fresh.p50.toFixed(2)} ms new (${out.save.p50Ratio.toFixed(2)}×); ` +
      `load p50 ${out.load.old.p50.toFixed(2)} vs ${out.load.fresh.p50.toFixed(2)} ms (${out.load.p50Ratio.toFixed(2)}×)`,
  );
  return out;
}

async function seedAgents(server, count) {
  const res = await fetch(`http://127.0.0.1:${server.port}/__bench/seed-agents`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ count, prefix: SEED_PREFIX }),
  });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`seeding ${count} agents: ${body.error ?? res.status}`);
  return body.written;
}

/**
 * Pages of `GET /api/v2/agents?limit=` at several depths (first page, and cursors at 50 % and 99 %
 * of the seeded ids), for each size in `sizes`: constant time per page means the same p50 at every
 * depth and every size. The index rows are synthetic (seeded straight into D1), but the agents on
 * the measured pages are made real with one save each, so a list that reads each listed agent
 * (its Durable Object) sees what it would see in use. The operations a page causes are counted
 * too (all groups of the counting wrapper, summed).
 */
async function listPaging({ server, build, auth, sizes, pageLimit, samples, walkPages, concurrency }) {
  const base = `http://127.0.0.1:${server.port}`;
  const id = (n) => `${SEED_PREFIX}${String(n).padStart(9, "0")}`;
  const ops = countingClient(server);
  const WALK = walkPages;
  const rows = [];
  for (const size of sizes) {
    const t0 = performance.now();
    const written = await seedAgents(server, size);
    const seedMs = performance.now() - t0;
    const depths = [
      { label: "first page", start: null },
      { label: "at 50 %", start: Math.floor(size / 2), pages: WALK + 1 },
      { label: "at 99 %", start: Math.floor(size * 0.99) },
    ];
    // One save for every agent on the pages read below (the cursor row itself is not listed).
    const real = [];
    for (const d of depths) {
      const from = d.start === null ? 0 : d.start + 1;
      for (let n = from; n < Math.min(size, from + pageLimit * (d.pages ?? 1)); n++) real.push(id(n));
    }
    const agent = keepAliveAgent(concurrency);
    const made = await runWindow({
      agent,
      port: server.port,
      concurrency,
      durationMs: 600_000,
      maxRequests: real.length,
      nextRequest: (i) => build.save(real[i]),
    });
    agent.destroy();
    if (made.errors) throw new Error(`saving the listed agents: ${made.errors} failed (first: ${made.firstError})`);
    const row = { size, seeded: written, seedMs, realAgents: real.length, depths: [] };
    for (const d of depths) {
      const cursor = d.start === null ? null : id(d.start);
      const path = `/api/v2/agents?limit=${pageLimit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const ms = [];
      let page;
      for (let i = 0; i < samples; i++) {
        const r = await timed(base, { method: "GET", path, headers: auth });
        ms.push(r.ms);
        page ??= JSON.parse(r.text);
      }
      const agents = page.agents ?? [];
      if (agents.length === 0) throw new Error(`GET ${path}: an empty page at ${size} agents`);
      if (cursor && !(agents[0].agent_id > cursor)) throw new Error(`GET ${path}: the page does not start after the cursor`);
      row.depths.push({ label: d.label, cursor, ...stats(ms), returned: agents.length });
    }
    // Operations per page, at 50 %.
    await ops.reset();
    const mid = `/api/v2/agents?limit=${pageLimit}&cursor=${encodeURIComponent(id(depths[1].start))}`;
    for (let i = 0; i < samples; i++) await timed(base, { method: "GET", path: mid, headers: auth });
    const snap = await ops.snapshot();
    const total = {};
    for (const counts of Object.values(snap.counts)) for (const [k, v] of Object.entries(counts)) total[k] = (total[k] ?? 0) + v;
    row.opsPerPage = {
      do_requests: (total.do_requests ?? 0) / samples,
      d1_rows_read: (total.d1_rows_read ?? 0) / samples,
      d1_statements: (total.d1_statements ?? 0) / samples,
      kv_reads: (total.kv_reads ?? 0) / samples,
    };
    // A walk: consecutive pages by next_cursor from the middle, the way a client pages; twice,
    // because the first pass meets agents whose objects are not in memory yet (cold), the second
    // does not (warm).
    const walk = async () => {
      let next = id(depths[1].start);
      const ms = [];
      for (let i = 0; i < WALK && next; i++) {
        const r = await timed(base, {
          method: "GET",
          path: `/api/v2/agents?limit=${pageLimit}&cursor=${encodeURIComponent(next)}`,
          headers: auth,
        });
        ms.push(r.ms);
        next = JSON.parse(r.text).next_cursor;
      }
      return ms;
    };
    const cold = await walk();
    const warm = await walk();
    row.walkPages = cold.length;
    row.walkColdP50 = median(cold);
    row.walkP50 = median(warm);
    rows.push(row);
    log(
      `  ${size} agents in the index (seeded in ${(seedMs / 1000).toFixed(1)} s, ${real.length} of them saved): page of ${pageLimit} p50 ` +
        row.depths.map((d) => `${d.label} ${d.p50.toFixed(2)} ms`).join(", ") +
        `; ${row.walkPages} pages walked from the middle, p50 ${row.walkColdP50.toFixed(2)} ms the first time, ${row.walkP50.toFixed(2)} ms the second; per page: ${row.opsPerPage.do_requests.toFixed(1)} DO requests, ` +
        `${row.opsPerPage.d1_rows_read.toFixed(0)} D1 rows read`,
    );
  }
  return rows;
}

export async function measureGrowth({
  server,
  build,
  auth,
  historySaves,
  historySamples,
  listSizes,
  pageLimit,
  pageSamples,
  walkPages,
  concurrency,
}) {
  log(`Growth: an agent with ${historySaves} saves behind it vs a new one…`);
  const history = await historyGrowth({ server, build, historySaves, samples: historySamples, concurrency });
  log(`Growth: the agents list at ${listSizes.join(", ")} agents…`);
  let list = null;
  let listError = null;
  try {
    list = await listPaging({ server, build, auth, sizes: listSizes, pageLimit, samples: pageSamples, walkPages, concurrency });
  } catch (err) {
    listError = err.message;
    log(`  list paging not measured: ${listError}`);
  }
  return { history, list, listError, pageLimit };
}
