// `npm run bench`: the product's versioned state save and load against the bare baseline Worker
// (bench/baseline/), both under `wrangler dev --local` on the same workerd binary, measured
// alternately in one run. Prints req/s, p50, p99 and product ÷ baseline ratios, shows where the
// product's time goes (CPU per process, stage endpoints, an isolate profile), and writes
// bench/results/state-<date>.json and bench/results/latest-state.md. See bench/README.md.
//
//   npm run bench                      5 rounds × 2 s per side and scenario (~2.5 min)
//   npm run bench -- --quick           1 round × 1 s, no profile (smoke test, ~40 s)
//   npm run bench -- --rounds 5 --duration 4000 --concurrency 16 --agents 8 --no-profile --disk
//   npm run bench -- --fail-on-miss    exit 2 when a target is missed
//   npm run bench -- --product-var LOG_LEVEL:warn   an extra `--var` for the product (recorded)
import { randomBytes } from "node:crypto";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { isDeepStrictEqual, parseArgs } from "node:util";
import { SignJWT } from "jose";
import { deriveFindings, noiseWarnings, verdictOf } from "./lib/findings.mjs";
import { keepAliveAgent, runWindow } from "./lib/load.mjs";
import { agentState } from "./lib/payload.mjs";
import { connectInspector, moduleMaps, profileDuring, summarizeProfile } from "./lib/profile.mjs";
import { budgetTable, markdownSummary, median, renderText, summarizeRounds } from "./lib/report.mjs";
import { freePort, groupCpu, logSize, logTail, reloadedSince, runWrangler, runtimeBinary, startWranglerDev, stopGroup, waitReady } from "./lib/servers.mjs";
import { saveBudget, serverCpu, stageSpecs } from "./lib/stages.mjs";

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
process.chdir(ROOT);

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    duration: { type: "string", default: "2000" },
    warmup: { type: "string", default: "300" },
    concurrency: { type: "string", default: "16" },
    agents: { type: "string", default: "8" },
    quick: { type: "boolean", default: false },
    disk: { type: "boolean", default: false },
    "no-profile": { type: "boolean", default: false },
    "fail-on-miss": { type: "boolean", default: false },
    "keep-temp": { type: "boolean", default: false },
    "product-var": { type: "string", multiple: true, default: [] },
  },
});
const int = (name, v, max) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`--${name} must be an integer in 1–${max}`);
  return n;
};
const config = {
  rounds: args.quick ? 1 : int("rounds", args.rounds, 20),
  durationMs: args.quick ? 1000 : int("duration", args.duration, 60_000),
  warmupMs: args.quick ? 300 : int("warmup", args.warmup, 10_000),
  concurrency: int("concurrency", args.concurrency, 256),
  agents: int("agents", args.agents, 256),
  stageRounds: args.quick ? 1 : 3,
  stageDurationMs: args.quick ? 700 : 1200,
  profile: !args.quick && !args["no-profile"],
  profileDurationMs: 1500,
  profileIntervalUs: 200,
  maxRequestsPerWindow: 200_000,
  productVars: args["product-var"].map((v) => {
    if (!/^[A-Z0-9_]+:.*$/.test(v)) throw new Error(`--product-var expects NAME:value, got ${v}`);
    return v;
  }),
  settleMs: 200,
};
const TARGETS = { save: 0.7, load: 0.9 };

const log = (line = "") => process.stdout.write(`${line}\n`);
const servers = [];
let tempDir;

function compatibilityDate(file) {
  const m = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(readFileSync(file, "utf8"));
  if (!m) throw new Error(`${file} has no compatibility_date`);
  return m[1];
}

function gitInfo() {
  const git = (a) => spawnSync("git", a, { encoding: "utf8" }).stdout?.trim() ?? "";
  return { commit: git(["rev-parse", "--short", "HEAD"]) || "unknown", dirty: git(["status", "--porcelain", "--", "src", "durable-objects", "workers", "wrangler.toml"]).length > 0 };
}

async function cleanup() {
  await Promise.all(servers.map((s) => stopGroup(s)));
  if (tempDir && !args["keep-temp"]) rmSync(tempDir, { recursive: true, force: true });
}
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    log(`\n${signal}: stopping the servers…`);
    void cleanup().finally(() => process.exit(130));
  });
}

async function startServers() {
  // Stores live on tmpfs by default: this VM's disk makes every DO commit wait for an fsync,
  // which caps both sides on I/O instead of on the code under test. `--disk` measures that too.
  const storeRoot = !args.disk && existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir();
  tempDir = mkdtempSync(path.join(storeRoot, "dmsa-bench-"));
  const taken = new Set();
  const jwtSecret = randomBytes(32).toString("base64url");
  // An env file replaces .dev.vars, so the run never reads a developer's secrets. ADMIN_API_KEY
  // is set as `npm run dev` sets it: checking for it is part of every request's auth cost.
  const envFile = path.join(tempDir, "product.env");
  writeFileSync(envFile, `JWT_SECRET="${jwtSecret}"\nADMIN_API_KEY="dmsa_bench_${randomBytes(18).toString("base64url")}"\n`, { mode: 0o600 });
  const productState = path.join(tempDir, "product-state");

  log(`Applying D1 migrations to a temporary store (${tempDir})…`);
  runWrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", productState]);
  const product = startWranglerDev({
    name: "product",
    port: await freePort(taken),
    inspectorPort: await freePort(taken),
    args: ["--persist-to", productState, "--env-file", envFile, "--var", "RATE_LIMIT:off", ...config.productVars.flatMap((v) => ["--var", v])],
    logPath: path.join(tempDir, "product.log"),
  });
  servers.push(product);
  const baseline = startWranglerDev({
    name: "baseline",
    port: await freePort(taken),
    inspectorPort: await freePort(taken),
    args: ["-c", "bench/baseline/wrangler.toml", "--persist-to", path.join(tempDir, "baseline-state")],
    logPath: path.join(tempDir, "baseline.log"),
  });
  servers.push(baseline);
  log(`Starting product (:${product.port}) and baseline (:${baseline.port}) with wrangler dev --local…`);
  const t0 = Date.now();
  let health;
  await Promise.all([
    waitReady(product, "/health", (res, text) => res.status === 200 && (health = JSON.parse(text)) !== undefined),
    waitReady(baseline, "/", (res) => res.status === 200),
  ]);
  if (!/disabled/.test(health.checks?.rate_limit?.detail ?? "")) throw new Error(`product rate limiting is not off: ${JSON.stringify(health.checks?.rate_limit)}`);
  log(`Both ready after ${((Date.now() - t0) / 1000).toFixed(1)} s.`);
  const bin = runtimeBinary(product);
  if (!bin || bin !== runtimeBinary(baseline)) throw new Error(`not the same workerd: product ${bin}, baseline ${runtimeBinary(baseline)}`);
  return { product, baseline, jwtSecret, storeRoot, workerdBinary: bin };
}

async function main() {
  const startedAt = new Date();
  const warnings = [];
  const compatDate = compatibilityDate("wrangler.toml");
  if (compatibilityDate("bench/baseline/wrangler.toml") !== compatDate) throw new Error("bench/baseline/wrangler.toml must use the compatibility_date of wrangler.toml");
  const loadBefore = os.loadavg()[0];
  if (loadBefore > 0.8) warnings.push(`machine already busy at start (1-min load average ${loadBefore.toFixed(2)} on ${os.cpus().length} CPUs)`);

  const { product, baseline, jwtSecret, storeRoot, workerdBinary } = await startServers();
  const logOffsets = { product: logSize(product), baseline: logSize(baseline) };

  // Requests: bodies and headers built once; the clients do no per-request work.
  const token = await new SignJWT({ role: "user" }).setProtectedHeader({ alg: "HS256" }).setSubject("bench").setIssuedAt().setExpirationTime("2h").sign(new TextEncoder().encode(jwtSecret));
  const state = agentState();
  const body = Buffer.from(JSON.stringify({ state_data: state }));
  const agentIds = Array.from({ length: config.agents }, (_, i) => `bench-agent-${i}`);
  const soloId = "bench-solo";
  const auth = { authorization: `Bearer ${token}` };
  const jsonBody = { "content-type": "application/json", "content-length": String(body.length) };
  const build = {
    product: {
      save: (id) => ({ method: "POST", path: `/api/v2/agents/${id}/state`, headers: { ...auth, ...jsonBody }, body }),
      load: (id) => ({ method: "GET", path: `/api/v2/agents/${id}/state`, headers: auth }),
    },
    baseline: {
      save: (id) => ({ method: "POST", path: `/agents/${id}/state`, headers: jsonBody, body }),
      load: (id) => ({ method: "GET", path: `/agents/${id}/state`, headers: {} }),
    },
  };

  // Correctness first: every agent saved and read back on both sides (this also seeds the loads).
  const sides = { baseline: { server: baseline, agent: keepAliveAgent(config.concurrency) }, product: { server: product, agent: keepAliveAgent(config.concurrency) } };
  for (const side of ["product", "baseline"]) {
    const base = `http://127.0.0.1:${sides[side].server.port}`;
    for (const id of [...agentIds, soloId]) {
      const s = build[side].save(id);
      const saved = await fetch(base + s.path, { method: "POST", headers: s.headers, body: s.body });
      if (saved.status !== 200) throw new Error(`${side} save ${id}: ${saved.status} ${await saved.text()}`);
      const l = build[side].load(id);
      const loaded = await fetch(base + l.path, { headers: l.headers });
      const doc = await loaded.json();
      if (loaded.status !== 200 || !isDeepStrictEqual(doc.state_data, state)) throw new Error(`${side} load ${id}: ${loaded.status}, state differs`);
      if (side === "product" && doc.version !== 1) throw new Error(`product: version ${doc.version} after the first save of ${id}`);
    }
  }
  log(`Checked: both sides save and load the ${body.length}-byte state for ${config.agents + 1} agents.`);

  async function measure(side, requests, { durationMs, warmupMs, okStatus = [200] }) {
    const { server, agent } = sides[side];
    const common = { agent, port: server.port, concurrency: config.concurrency, maxRequests: config.maxRequestsPerWindow, okStatus, nextRequest: (i) => requests[i % requests.length] };
    if (warmupMs > 0) await runWindow({ ...common, durationMs: warmupMs });
    const cpu0 = groupCpu(server);
    const lg0 = process.cpuUsage();
    const r = await runWindow({ ...common, durationMs });
    const cpu1 = groupCpu(server);
    const lg = process.cpuUsage(lg0);
    if (r.errors > 0) throw new Error(`${side}: ${r.errors} of ${r.completed + r.errors} requests failed (first: ${r.firstError}); statuses ${JSON.stringify(r.statuses)}`);
    const per = (ms) => ms / Math.max(1, r.completed);
    r.cpuMsPerRequest = Object.fromEntries(Object.keys(cpu1).map((role) => [role, per(cpu1[role] - cpu0[role])]));
    r.cpuMsPerRequest.loadgen = per((lg.user + lg.system) / 1000);
    await sleep(config.settleMs);
    return r;
  }

  /** Alternates the sides round by round (B P, P B, B P …) so drift and noise hit both alike. */
  async function compare(label, op, ids) {
    const reqs = { baseline: ids.map(build.baseline[op]), product: ids.map(build.product[op]) };
    const rounds = { baseline: [], product: [] };
    for (let r = 0; r < config.rounds; r++) {
      for (const side of r % 2 === 0 ? ["baseline", "product"] : ["product", "baseline"]) {
        rounds[side].push(await measure(side, reqs[side], { durationMs: config.durationMs, warmupMs: r === 0 ? config.warmupMs * 2 : config.warmupMs }));
      }
      log(`  ${label}: round ${r + 1}/${config.rounds}: baseline ${rounds.baseline[r].rps.toFixed(0)} req/s, product ${rounds.product[r].rps.toFixed(0)} req/s`);
    }
    const b = summarizeRounds(rounds.baseline);
    const p = summarizeRounds(rounds.product);
    return {
      id: `${op}-${ids.length}`,
      label,
      op,
      agents: ids.length,
      target: TARGETS[op],
      baseline: { summary: b, rounds: rounds.baseline },
      product: { summary: p, rounds: rounds.product },
      ratios: {
        rps: p.rps / b.rps,
        p50: p.p50 / b.p50,
        p99: p.p99 / b.p99,
        // Cross-checks less exposed to other load on the machine: the median of the per-round
        // ratios (each pair ran back to back) and the inverse ratio of server CPU per request.
        pairedRps: median(rounds.product.map((x, i) => x.rps / rounds.baseline[i].rps)),
        serverCpu: serverCpu(b.cpuMsPerRequest) / serverCpu(p.cpuMsPerRequest),
      },
    };
  }

  // Profiles first: wrangler's inspector proxy keeps every console event of the Worker while no
  // DevTools client is attached and replays them all to the next one, so attaching after the
  // timed windows (tens of thousands of product log lines) can take longer than the whole run.
  const profiles = {};
  if (config.profile) {
    log("Profiling the Workers' isolates (separate windows, not timed)…");
    for (const side of ["baseline", "product"]) {
      let cdp;
      try {
        cdp = await connectInspector(sides[side].server.inspectorPort);
        const maps = await moduleMaps(cdp, side === "baseline" ? "bench/baseline" : "");
        for (const op of ["save", "load"]) {
          const reqs = agentIds.map(build[side][op]);
          const { result, profile } = await profileDuring(cdp, () => measure(side, reqs, { durationMs: config.profileDurationMs, warmupMs: 300 }), config.profileIntervalUs);
          (profiles[op] ??= {})[side] = summarizeProfile(profile, maps, result.completed);
        }
      } catch (err) {
        warnings.push(`profile of ${side} failed: ${err.message}`);
      } finally {
        cdp?.close();
      }
    }
  }

  log(`\nMeasuring: ${config.rounds} round(s) × ${config.durationMs / 1000} s per side, ${config.concurrency} clients, baseline and product alternating.`);
  const scenarios = [
    await compare(`save, ${config.agents} agents`, "save", agentIds),
    await compare("save, 1 agent", "save", [soloId]),
    await compare(`load, ${config.agents} agents`, "load", agentIds),
    await compare("load, 1 agent", "load", [soloId]),
  ];

  log("\nMeasuring stages of the save path (interleaved)…");
  const specs = stageSpecs({ auth, agentIds, baselineSave: build.baseline.save, productSave: build.product.save });
  const stageRounds = specs.map(() => []);
  for (let r = 0; r < config.stageRounds; r++) {
    for (const [i, spec] of specs.entries()) stageRounds[i].push(await measure(spec.side, spec.reqs, { durationMs: config.stageDurationMs, warmupMs: 300, okStatus: spec.ok }));
  }
  const stages = specs.map((spec, i) => ({ id: spec.id, side: spec.side, label: spec.label, summary: summarizeRounds(stageRounds[i]), rounds: stageRounds[i] }));
  const budget = saveBudget(stages);

  const reloaded = servers.filter((s) => reloadedSince(s, logOffsets[s.name])).map((s) => s.name);
  if (reloaded.length) warnings.push(`wrangler reloaded ${reloaded.join(" and ")} during the run (a source file changed): numbers may mix two builds`);
  warnings.push(...noiseWarnings(scenarios));
  const loadAfter = os.loadavg()[0];
  const findings = deriveFindings({ scenarios, stages, budget, profiles, agents: config.agents });
  const missed = scenarios.filter((s) => s.ratios.rps < s.target);
  const verdict = verdictOf(scenarios);

  const workerdVersion = spawnSync(workerdBinary, ["--version"], { encoding: "utf8" }).stdout.trim();
  const resultsFile = `bench/results/state-${startedAt.toISOString().replace(/:/g, "-").replace(/\.\d+Z$/, "Z")}.json`;
  const run = {
    meta: {
      date: startedAt.toISOString(),
      resultsFile,
      git: gitInfo(),
      node: process.version,
      wrangler: JSON.parse(readFileSync("node_modules/wrangler/package.json", "utf8")).version,
      workerd: { version: workerdVersion, binary: path.relative(ROOT, workerdBinary) },
      compatibilityDate: compatDate,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? "unknown",
      loadAverage1m: { start: loadBefore, end: loadAfter },
      payloadBytes: body.length,
      stores: storeRoot === "/dev/shm" ? "tmpfs (/dev/shm)" : `disk (${storeRoot})`,
      setup:
        "Two `wrangler dev --local` processes started by this script (product: wrangler.toml with --var RATE_LIMIT:off and JWT_SECRET/ADMIN_API_KEY from an env file; " +
        "baseline: bench/baseline/wrangler.toml), each = wrangler (node) + proxy workerd on the public port + runtime workerd. Not one process with two -c configs: " +
        "wrangler then serves only the first Worker over HTTP and applies --var/--persist-to to it alone.",
    },
    config,
    targets: TARGETS,
    scenarios,
    stages,
    saveBudget: budget,
    profiles,
    verdict,
    findings,
    warnings,
  };

  log(renderText(run));

  mkdirSync("bench/results", { recursive: true });
  writeFileSync(resultsFile, `${JSON.stringify(run, null, 2)}\n`);
  writeFileSync("bench/results/latest-state.md", markdownSummary(run, { budget: budgetTable(budget) }));
  log(`\nWrote ${resultsFile} and bench/results/latest-state.md`);
  return missed.length;
}

let exitCode = 0;
try {
  const missed = await main();
  if (missed && args["fail-on-miss"]) exitCode = 2;
} catch (err) {
  exitCode = 1;
  console.error(`\nbench failed: ${err.stack ?? err}`);
  for (const s of servers) console.error(`\n--- ${s.name} log (tail) ---\n${logTail(s, 40)}`);
  if (tempDir) console.error(`\n(temporary files kept in ${tempDir})`);
  args["keep-temp"] = true;
} finally {
  await cleanup();
}
process.exit(exitCode);
