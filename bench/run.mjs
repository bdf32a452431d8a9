// `npm run bench`: the product against the bare baseline Worker (bench/baseline/), both on
// wrangler's local dev server (the engine of `wrangler dev --local`) on the same workerd binary,
// measured alternately in one run. The DevTools inspector that the `wrangler dev` CLI always
// attaches is off (it costs ~1.4 ms of CPU per console line; bench/lib/dev-server.mjs); with
// `--inspector` it is on, as under the CLI, and the isolate profiles are taken.
// Three groups (`--only state`, `--only tasks`, `--only signalling`, comma-separated; default all):
// - state: versioned save and load. Prints req/s, p50, p99 and product ÷ baseline ratios, shows
//   where the product's time goes (CPU per process, stage endpoints, an isolate profile with --inspector), and
//   writes bench/results/runs/state-<date>.json (git-ignored) and bench/results/latest-state.md.
// - tasks: N noop tasks created over HTTP and run to completed through the local Queue (lib/tasks.mjs),
//   tasks/s and create→complete p50/p95, with the agent at 1 and at MAX_INSTANCES instances, and
//   again with another max_batch_timeout (scratch copies of both configs). Writes
//   bench/results/runs/tasks-<date>.json and bench/results/latest-tasks.md.
// - signalling: two WebSocket clients on one call (lib/signalling.mjs): A sends `ice` frames `to`
//   B through the product's CallSessionDO, against a bare Durable Object WebSocket relay in the
//   baseline; msgs/s with a window of frames in flight, sequential send→arrival p50/p99, CPU per
//   message, stage windows and an isolate profile. Writes bench/results/runs/signalling-<date>.json and
//   bench/results/latest-signalling.md. See bench/README.md.
//
//   npm run bench                      all three groups (~7 min)
//   npm run bench -- --only state      5 rounds × 2 s per side and scenario (~2.5 min)
//   npm run bench -- --only tasks      (~2.5 min) --tasks 200 --tasks-solo 20 --tasks-rounds 5 [--batch-timeouts 1]
//   npm run bench -- --only signalling (~1.5 min) --signalling-window 16 (frames in flight)
//   npm run bench -- --quick           1 round × 1 s, no profile (smoke test, ~40 s per group)
//   npm run bench -- --rounds 5 --duration 4000 --concurrency 16 --agents 8 --no-profile --disk
//   npm run bench -- --fail-on-miss    exit 2 when a target is missed
//   npm run bench -- --product-var LOG_LEVEL:warn   an extra `--var` for the product (recorded)
//   npm run bench -- --inspector       both sides with the DevTools inspector (as `wrangler dev`), with profiles
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
import { checkRelay, closePair, connectBaseline, connectProduct, iceFrame, relayWindow } from "./lib/signalling.mjs";
import { renderSignallingText, signallingFindings, signallingMarkdown } from "./lib/signalling-report.mjs";
import { ReloadedError, consumerSettings, runTasksOnce, taskSide, withConsumerSettings } from "./lib/tasks.mjs";
import { renderTasksText, tasksFindings, tasksMarkdown, tasksVerdict } from "./lib/tasks-report.mjs";

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
    inspector: { type: "boolean", default: false },
    only: { type: "string", default: "state,tasks,signalling" },
    tasks: { type: "string", default: "200" },
    "tasks-solo": { type: "string", default: "20" },
    "tasks-rounds": { type: "string", default: "5" },
    "tasks-concurrency": { type: "string", default: "16" },
    "tasks-poll-ms": { type: "string", default: "250" },
    "batch-timeouts": { type: "string", default: "" },
    "signalling-window": { type: "string", default: "16" },
  },
});
const groups = args.only.split(",").map((g) => g.trim());
for (const g of groups) if (!["state", "tasks", "signalling"].includes(g)) throw new Error(`--only expects a comma-separated list of state, tasks, signalling; got ${g}`);
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
  // Profiles need the DevTools inspector, which is off unless --inspector (see bench/lib/dev-server.mjs).
  inspector: args.inspector,
  profile: args.inspector && !args.quick && !args["no-profile"],
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
const taskConfig = {
  tasks: int("tasks", args.tasks, 5000),
  // One lane runs one task per queue batch; at max_batch_timeout 1 s that is ~1 task/s, so the
  // 1-instance scenario uses fewer tasks to keep the run short (its tasks/s is a steady rate).
  soloTasks: args.quick ? 5 : int("tasks-solo", args["tasks-solo"], 5000),
  rounds: args.quick ? 1 : int("tasks-rounds", args["tasks-rounds"], 20),
  altRounds: args.quick ? 1 : 2,
  concurrency: int("tasks-concurrency", args["tasks-concurrency"], 256),
  pollMs: int("tasks-poll-ms", args["tasks-poll-ms"], 10_000),
  timeoutMs: 120_000,
  warmupTasks: 20,
  // Alternative max_batch_timeout values (seconds), each run on scratch copies of both configs.
  batchTimeouts: args["batch-timeouts"] === "" ? [] : args["batch-timeouts"].split(",").map((v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0 || n > 60) throw new Error(`--batch-timeouts expects seconds in 0–60, got ${v}`);
    return n;
  }),
};
const TASK_TARGET = 0.8;
const signallingConfig = {
  rounds: config.rounds,
  durationMs: config.durationMs,
  warmupMs: config.warmupMs,
  window: int("signalling-window", args["signalling-window"], 1024),
  stageRounds: config.stageRounds,
  stageDurationMs: config.stageDurationMs,
  profile: config.profile,
  profileDurationMs: config.profileDurationMs,
  profileIntervalUs: config.profileIntervalUs,
};
const PRODUCT_QUEUE = "agent-tasks";
const BASELINE_QUEUE = "baseline-tasks";

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

const SCRATCH_DIR = "bench/.scratch-tasks";
// Every run's full JSON (timestamped) goes here, git-ignored; only the latest-*.md summaries are committed.
const RUNS_DIR = "bench/results/runs";

async function stopServers() {
  await Promise.all(servers.map((s) => stopGroup(s)));
  servers.length = 0;
}

async function cleanup() {
  await stopServers();
  if (tempDir && !args["keep-temp"]) rmSync(tempDir, { recursive: true, force: true });
  rmSync(SCRATCH_DIR, { recursive: true, force: true });
}
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    log(`\n${signal}: stopping the servers…`);
    void cleanup().finally(() => process.exit(130));
  });
}

/** How both sides run (recorded in every result; see bench/lib/dev-server.mjs). */
const SERVER_SETUP = config.inspector
  ? "wrangler's local dev server (workerd) with the DevTools inspector attached, as under the `wrangler dev` CLI (--inspector)"
  : "wrangler's local dev server (workerd, the engine of `wrangler dev --local`) without the DevTools inspector";

/** What every result file records about the run: when, which build, which runtime, which machine. */
function runMeta({ group, startedAt, workerdBinary, workerdVersion, compatDate, loadBefore, loadAfter }) {
  return {
    date: startedAt.toISOString(),
    resultsFile: `${RUNS_DIR}/${group}-${startedAt.toISOString().replace(/:/g, "-").replace(/\.\d+Z$/, "Z")}.json`,
    git: gitInfo(),
    node: process.version,
    wrangler: JSON.parse(readFileSync("node_modules/wrangler/package.json", "utf8")).version,
    workerd: { version: workerdVersion ?? spawnSync(workerdBinary, ["--version"], { encoding: "utf8" }).stdout.trim(), binary: path.relative(ROOT, workerdBinary) },
    compatibilityDate: compatDate,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    loadAverage1m: { start: loadBefore, end: loadAfter },
    stores: storeRoot === "/dev/shm" ? "tmpfs (/dev/shm)" : `disk (${storeRoot})`,
    server: SERVER_SETUP,
  };
}

// Stores live on tmpfs by default: this VM's disk makes every DO commit wait for an fsync,
// which caps both sides on I/O instead of on the code under test. `--disk` measures that too.
const storeRoot = !args.disk && existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir();

/** Starts product and baseline; `tag` names this pair's stores and logs (one pair per config). */
async function startServers({ productConfig = "wrangler.toml", baselineConfig = "bench/baseline/wrangler.toml", tag = "state" } = {}) {
  tempDir ??= mkdtempSync(path.join(storeRoot, "dmsa-bench-"));
  const taken = new Set();
  const jwtSecret = randomBytes(32).toString("base64url");
  // An env file replaces .dev.vars, so the run never reads a developer's secrets. ADMIN_API_KEY
  // is set as `npm run dev` sets it: checking for it is part of every request's auth cost.
  const envFile = path.join(tempDir, `product-${tag}.env`);
  const adminApiKey = `dmsa_bench_${randomBytes(18).toString("base64url")}`;
  writeFileSync(envFile, `JWT_SECRET="${jwtSecret}"\nADMIN_API_KEY="${adminApiKey}"\n`, { mode: 0o600 });
  const productState = path.join(tempDir, `product-state-${tag}`);

  log(`Applying D1 migrations to a temporary store (${tempDir})…`);
  runWrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", productState, "-c", productConfig]);
  const product = startWranglerDev({
    name: "product",
    port: await freePort(taken),
    inspectorPort: config.inspector ? await freePort(taken) : null,
    args: ["-c", productConfig, "--persist-to", productState, "--env-file", envFile, "--var", "RATE_LIMIT:off", ...config.productVars.flatMap((v) => ["--var", v])],
    logPath: path.join(tempDir, `product-${tag}.log`),
  });
  servers.push(product);
  const baseline = startWranglerDev({
    name: "baseline",
    port: await freePort(taken),
    inspectorPort: config.inspector ? await freePort(taken) : null,
    args: ["-c", baselineConfig, "--persist-to", path.join(tempDir, `baseline-state-${tag}`)],
    logPath: path.join(tempDir, `baseline-${tag}.log`),
  });
  servers.push(baseline);
  log(`Starting product (:${product.port}) and baseline (:${baseline.port}) with wrangler's local dev server (workerd), ${config.inspector ? "inspector attached" : "no inspector"}…`);
  const t0 = Date.now();
  let health;
  await Promise.all([
    // /health shows its checks (rate_limit among them) only to a valid credential.
    waitReady(product, "/health", (res, text) => res.status === 200 && (health = JSON.parse(text)) !== undefined, { "x-api-key": adminApiKey }),
    waitReady(baseline, "/", (res) => res.status === 200),
  ]);
  if (!/disabled/.test(health.checks?.rate_limit?.detail ?? "")) throw new Error(`product rate limiting is not off: ${JSON.stringify(health.checks?.rate_limit)}`);
  log(`Both ready after ${((Date.now() - t0) / 1000).toFixed(1)} s.`);
  const bin = runtimeBinary(product);
  if (!bin || bin !== runtimeBinary(baseline)) throw new Error(`not the same workerd: product ${bin}, baseline ${runtimeBinary(baseline)}`);
  return { product, baseline, jwtSecret, storeRoot, workerdBinary: bin };
}

async function runStateGroup() {
  const startedAt = new Date();
  const warnings = [];
  const compatDate = compatibilityDate("wrangler.toml");
  if (compatibilityDate("bench/baseline/wrangler.toml") !== compatDate) throw new Error("bench/baseline/wrangler.toml must use the compatibility_date of wrangler.toml");
  const loadBefore = os.loadavg()[0];
  if (loadBefore > 0.8) warnings.push(`machine already busy at start (1-min load average ${loadBefore.toFixed(2)} on ${os.cpus().length} CPUs)`);

  const { product, baseline, jwtSecret, workerdBinary } = await startServers();
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

  const metaCommon = runMeta({ group: "state", startedAt, workerdBinary, compatDate, loadBefore, loadAfter });
  const resultsFile = metaCommon.resultsFile;
  const run = {
    meta: {
      ...metaCommon,
      payloadBytes: body.length,
      setup:
        "Two dev servers (bench/lib/dev-server.mjs) started by this script (product: wrangler.toml with --var RATE_LIMIT:off and JWT_SECRET/ADMIN_API_KEY from an env file; " +
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

  mkdirSync(RUNS_DIR, { recursive: true });
  writeFileSync(resultsFile, `${JSON.stringify(run, null, 2)}\n`);
  const stateSummary = `bench/results/latest-state${variantSuffix()}.md`;
  writeFileSync(stateSummary, markdownSummary(run, { budget: budgetTable(budget) }));
  log(`\nWrote ${resultsFile} and ${stateSummary}`);
  await stopServers();
  return missed.length;
}

/** A scratch copy of both configs under bench/ with other consumer settings (never wrangler.toml itself). */
function scratchConfigs(tag, settings) {
  mkdirSync(SCRATCH_DIR, { recursive: true });
  // Paths in a wrangler config are relative to its folder: point them back at the real sources.
  const product = withConsumerSettings(readFileSync("wrangler.toml", "utf8"), PRODUCT_QUEUE, settings)
    .replace(/^#:schema .*$/m, "#:schema ../../node_modules/wrangler/config-schema.json")
    .replace(/^main\s*=\s*"([^"]+)"/m, (_, m) => `main = "../../${m}"`)
    .replace(/^migrations_dir\s*=\s*"([^"]+)"/m, (_, m) => `migrations_dir = "../../${m}"`);
  const baseline = withConsumerSettings(readFileSync("bench/baseline/wrangler.toml", "utf8"), BASELINE_QUEUE, settings)
    .replace(/^#:schema .*$/m, "#:schema ../../node_modules/wrangler/config-schema.json")
    .replace(/^main\s*=\s*"([^"]+)"/m, (_, m) => `main = "../baseline/${m}"`);
  const productConfig = path.join(SCRATCH_DIR, `product-${tag}.toml`);
  const baselineConfig = path.join(SCRATCH_DIR, `baseline-${tag}.toml`);
  writeFileSync(productConfig, `# Scratch copy written by bench/run.mjs (deleted at the end): ${JSON.stringify(settings)}\n${product}`);
  writeFileSync(baselineConfig, `# Scratch copy written by bench/run.mjs (deleted at the end): ${JSON.stringify(settings)}\n${baseline}`);
  return { productConfig, baselineConfig };
}

async function runTasksGroup() {
  const startedAt = new Date();
  const warnings = [];
  const compatDate = compatibilityDate("wrangler.toml");
  if (compatibilityDate("bench/baseline/wrangler.toml") !== compatDate) throw new Error("bench/baseline/wrangler.toml must use the compatibility_date of wrangler.toml");
  const productToml = readFileSync("wrangler.toml", "utf8");
  const consumer = consumerSettings(productToml, PRODUCT_QUEUE);
  const baselineConsumer = consumerSettings(readFileSync("bench/baseline/wrangler.toml", "utf8"), BASELINE_QUEUE);
  if (!isDeepStrictEqual(consumer, baselineConsumer)) {
    throw new Error(`bench/baseline/wrangler.toml's ${BASELINE_QUEUE} consumer ${JSON.stringify(baselineConsumer)} must equal wrangler.toml's ${PRODUCT_QUEUE} consumer ${JSON.stringify(consumer)}`);
  }
  const vars = (name) => Number(new RegExp(`^${name}\\s*=\\s*"(\\d+)"`, "m").exec(productToml)?.[1]);
  const maxInstances = vars("MAX_INSTANCES") || 32;
  const perInstance = vars("TASK_CONCURRENCY_PER_INSTANCE") || 1;
  const loadBefore = os.loadavg()[0];
  if (loadBefore > 0.8) warnings.push(`machine already busy at start (1-min load average ${loadBefore.toFixed(2)} on ${os.cpus().length} CPUs)`);

  const variants = [
    { id: `timeout-${consumer.max_batch_timeout}`, label: `max_batch_timeout ${consumer.max_batch_timeout} s (wrangler.toml)`, settings: consumer, scratch: false },
    ...taskConfig.batchTimeouts
      .filter((t) => t !== consumer.max_batch_timeout)
      .map((t) => ({ id: `timeout-${t}`, label: `max_batch_timeout ${t} s (scratch copy)`, settings: { ...consumer, max_batch_timeout: t }, scratch: true })),
  ];
  const scenarios = [];
  const meta = { workerd: null, scaleRoute: null, laneMode: null };
  for (const [vi, variant] of variants.entries()) {
    const cfgs = variant.scratch ? scratchConfigs(variant.id, { max_batch_timeout: variant.settings.max_batch_timeout }) : {};
    log(`\nTasks, ${variant.label}: starting both servers…`);
    const { product, baseline, jwtSecret, workerdBinary } = await startServers({ ...cfgs, tag: `tasks-${variant.id}` });
    meta.workerd ??= { binary: workerdBinary, version: spawnSync(workerdBinary, ["--version"], { encoding: "utf8" }).stdout.trim() };
    const logOffsets = { product: logSize(product), baseline: logSize(baseline) };
    const key = new TextEncoder().encode(jwtSecret);
    const mint = (role) => new SignJWT({ role }).setProtectedHeader({ alg: "HS256" }).setSubject("bench").setIssuedAt().setExpirationTime("2h").sign(key);
    const auth = { authorization: `Bearer ${await mint("user")}` };
    // Scaling needs the developer role (SPEC §1); the tasks themselves are created as a user.
    const devAuth = { authorization: `Bearer ${await mint("developer")}` };
    const sides = {
      product: { server: product, ops: taskSide("product", { auth }), agent: keepAliveAgent(taskConfig.concurrency), queue: PRODUCT_QUEUE },
      baseline: { server: baseline, ops: taskSide("baseline"), agent: keepAliveAgent(taskConfig.concurrency), queue: BASELINE_QUEUE },
    };
    const base = `http://127.0.0.1:${product.port}`;
    const runTag = `${variant.id.replace(/[^A-Za-z0-9]/g, "")}-${Date.now().toString(36)}`;

    /** Scales a fresh agent to `n` instances; null when the scale route does not exist (404/405). */
    async function scale(agentId, n) {
      const res = await fetch(`${base}/api/v2/agents/${agentId}/scale`, {
        method: "POST",
        headers: { ...devAuth, "content-type": "application/json" },
        body: JSON.stringify({ target_instances: n }),
      });
      const text = await res.text();
      if (res.status === 404 || res.status === 405) return null;
      if (res.status !== 200) throw new Error(`scale ${agentId} to ${n}: ${res.status} ${text.slice(0, 300)}`);
      const doc = JSON.parse(text);
      const active = doc.current_instances ?? doc.instances?.length;
      if (active !== n) throw new Error(`scale ${agentId} to ${n}: ${active} instances (${text.slice(0, 300)})`);
      return doc;
    }
    /** Agents for a run with `lanes` lanes: one agent scaled to `lanes`, or (no scale route) `lanes` agents of 1 instance. */
    async function laneAgents(name, lanes) {
      const id = `bench-${name}-${runTag}`;
      if (lanes === 1) return { product: [id], baseline: [id], lanesPerAgent: 1 };
      const scaled = await scale(id, lanes);
      meta.scaleRoute ??= scaled ? "present" : "missing";
      if (scaled) {
        meta.laneMode = `1 agent scaled to ${lanes} instances (POST /api/v2/agents/{id}/scale)`;
        return { product: [id], baseline: [id], lanesPerAgent: lanes };
      }
      meta.laneMode = `POST /api/v2/agents/{id}/scale not available: ${lanes} agents × 1 instance (the baseline uses as many Durable Objects)`;
      const ids = Array.from({ length: lanes }, (_, i) => `${id}-${i}`);
      return { product: ids, baseline: ids, lanesPerAgent: 1 };
    }
    async function once(side, ids, count, lanesPerAgent) {
      const s = sides[side];
      return runTasksOnce({
        side,
        server: s.server,
        httpAgent: s.agent,
        ops: s.ops,
        agentIds: ids,
        count,
        concurrency: taskConfig.concurrency,
        lanes: lanesPerAgent * perInstance,
        pollMs: taskConfig.pollMs,
        timeoutMs: taskConfig.timeoutMs,
        queue: s.queue,
        maxBatchSize: variant.settings.max_batch_size,
      });
    }

    // Warm-up (not measured): bundles compiled, Durable Objects and queue consumers exercised.
    const warm = await laneAgents("warm", maxInstances);
    for (const side of ["baseline", "product"]) await once(side, warm[side], taskConfig.warmupTasks, warm.lanesPerAgent);

    const plan = [
      { key: "lanes", label: `${taskConfig.tasks} tasks, ${maxInstances} instances`, count: taskConfig.tasks, lanes: maxInstances, rounds: vi === 0 ? taskConfig.rounds : taskConfig.altRounds, target: TASK_TARGET },
      { key: "solo", label: `${taskConfig.soloTasks} tasks, 1 instance`, count: taskConfig.soloTasks, lanes: 1, rounds: 1, target: null },
    ];
    for (const sc of plan) {
      const rounds = { baseline: [], product: [] };
      let lanesPerAgent = 1;
      let agentsUsed = 1;
      for (let r = 0; r < sc.rounds; r++) {
        // Others edit src/ while this runs: a wrangler reload drops the local queue's messages, so
        // a round that saw one is run again (at most twice) on fresh agents, after the server is back.
        for (let attempt = 0; ; attempt++) {
          const ids = await laneAgents(`${sc.key}${r}${attempt ? `r${attempt}` : ""}`, sc.lanes);
          lanesPerAgent = ids.lanesPerAgent;
          agentsUsed = ids.product.length;
          try {
            const pair = {};
            for (const side of r % 2 === 0 ? ["baseline", "product"] : ["product", "baseline"]) {
              pair[side] = await once(side, ids[side], sc.count, ids.lanesPerAgent);
              await sleep(config.settleMs);
            }
            rounds.baseline.push(pair.baseline);
            rounds.product.push(pair.product);
            break;
          } catch (err) {
            if (!(err instanceof ReloadedError) || attempt >= 2) throw err;
            warnings.push(`${variant.label} · ${sc.label} round ${r + 1}: ${err.message}; round run again`);
            log(`  ${err.message}; waiting for it, then running round ${r + 1} again`);
            await sleep(3000);
            await waitReady(product, "/health", (res) => res.status === 200);
            await waitReady(baseline, "/", (res) => res.status === 200);
            for (const s of servers) logOffsets[s.name] = logSize(s);
          }
        }
        const b = rounds.baseline[r];
        const p = rounds.product[r];
        log(
          `  ${variant.label} · ${sc.label}: round ${r + 1}/${sc.rounds}: baseline ${b.tasksPerS.toFixed(1)} tasks/s (p50 ${b.latency.p50} ms), ` +
            `product ${p.tasksPerS.toFixed(1)} tasks/s (p50 ${p.latency.p50} ms, ${p.instancesSeen} instance(s) used)`,
        );
      }
      const med = (side, f) => median(rounds[side].map(f));
      const summary = (side) => ({
        tasksPerS: med(side, (x) => x.tasksPerS),
        tasksPerSServer: med(side, (x) => x.tasksPerSServer),
        tasksPerSObserved: med(side, (x) => x.tasksPerSObserved),
        wallMs: med(side, (x) => x.wallMs),
        createPhaseMs: med(side, (x) => x.createdAllMs),
        drainMs: med(side, (x) => x.drainMs),
        p50: med(side, (x) => x.latency.p50),
        p95: med(side, (x) => x.latency.p95),
        laneWaitP50: med(side, (x) => x.laneWait.p50),
        queueWaitP50: med(side, (x) => x.queueWait.p50),
        runP50: med(side, (x) => x.run.p50),
        laneWaitMean: med(side, (x) => x.laneWait.mean),
        queueWaitMean: med(side, (x) => x.queueWait.mean),
        runMean: med(side, (x) => x.run.mean),
        createRps: med(side, (x) => x.createRps),
        batches: med(side, (x) => x.batches.count),
        timerFlushed: med(side, (x) => x.batches.timerFlushed),
        batchMeanSize: med(side, (x) => x.batches.meanSize),
        consumerMsPerBatch: med(side, (x) => x.batches.meanConsumerMs),
        maxRunning: med(side, (x) => x.maxRunning),
        instancesSeen: med(side, (x) => x.instancesSeen),
        cpuMsPerTask: Object.fromEntries(Object.keys(rounds[side][0].cpuMsPerTask).map((role) => [role, med(side, (x) => x.cpuMsPerTask[role])])),
      });
      const b = summary("baseline");
      const p = summary("product");
      scenarios.push({
        id: `${variant.id}-${sc.key}`,
        variant: variant.id,
        variantLabel: variant.label,
        consumer: variant.settings,
        key: sc.key,
        label: sc.label,
        count: sc.count,
        instances: sc.lanes,
        agents: agentsUsed,
        lanesPerAgent,
        target: variant.scratch ? null : sc.target,
        baseline: { summary: b, rounds: rounds.baseline },
        product: { summary: p, rounds: rounds.product },
        ratios: {
          tasksPerS: p.tasksPerS / b.tasksPerS,
          p50: p.p50 / b.p50,
          p95: p.p95 / b.p95,
          pairedTasksPerS: median(rounds.product.map((x, i) => x.tasksPerS / rounds.baseline[i].tasksPerS)),
        },
      });
    }
    const reloaded = servers.filter((s) => reloadedSince(s, logOffsets[s.name])).map((s) => s.name);
    if (reloaded.length) warnings.push(`${variant.label}: wrangler reloaded ${reloaded.join(" and ")} during the run (a source file changed): numbers may mix two builds`);
    await stopServers();
  }

  const loadAfter = os.loadavg()[0];
  const metaCommon = runMeta({ group: "tasks", startedAt, workerdBinary: meta.workerd.binary, workerdVersion: meta.workerd.version, compatDate, loadBefore, loadAfter });
  const resultsFile = metaCommon.resultsFile;
  const run = {
    meta: {
      ...metaCommon,
      consumer,
      maxInstances,
      taskConcurrencyPerInstance: perInstance,
      scaleRoute: meta.scaleRoute,
      laneMode: meta.laneMode,
      setup:
        "Product: wrangler.toml (queue agent-tasks), noop tasks created with a role-user JWT, RATE_LIMIT off; the agent scaled with a role-developer JWT. " +
        "Baseline: bench/baseline/wrangler.toml (queue baseline-tasks, same consumer settings): POST /agents/{id}/tasks → one DO row + one message; consumer → completed_at. " +
        "Latency from the servers' timestamps (created_at → completed_at); tasks/s = tasks ÷ wall time from the first create sent (client clock) to the last completed_at (server clock, same machine); " +
        "tasksPerSObserved uses the poll that saw all completed instead.",
    },
    config: taskConfig,
    target: TASK_TARGET,
    scenarios,
    warnings,
  };
  run.findings = tasksFindings(run);
  run.verdict = tasksVerdict(run);
  log(renderTasksText(run));
  mkdirSync(RUNS_DIR, { recursive: true });
  writeFileSync(resultsFile, `${JSON.stringify(run, null, 2)}\n`);
  const tasksSummary = `bench/results/latest-tasks${variantSuffix()}.md`;
  writeFileSync(tasksSummary, tasksMarkdown(run));
  log(`\nWrote ${resultsFile} and ${tasksSummary}`);
  return scenarios.filter((s) => s.target && s.ratios.tasksPerS < s.target).length;
}

async function runSignallingGroup() {
  const startedAt = new Date();
  const warnings = [];
  const compatDate = compatibilityDate("wrangler.toml");
  if (compatibilityDate("bench/baseline/wrangler.toml") !== compatDate) throw new Error("bench/baseline/wrangler.toml must use the compatibility_date of wrangler.toml");
  const cfg = signallingConfig;
  const loadBefore = os.loadavg()[0];
  if (loadBefore > 0.8) warnings.push(`machine already busy at start (1-min load average ${loadBefore.toFixed(2)} on ${os.cpus().length} CPUs)`);
  log("\nSignalling: starting both servers…");
  const { product, baseline, jwtSecret, workerdBinary } = await startServers({ tag: "signalling" });
  const logOffsets = { product: logSize(product), baseline: logSize(baseline) };
  // Creating a call and adding participants needs calls:write (role developer, SPEC §1).
  const token = await new SignJWT({ role: "developer" }).setProtectedHeader({ alg: "HS256" }).setSubject("bench").setIssuedAt().setExpirationTime("2h").sign(new TextEncoder().encode(jwtSecret));
  const room = `bench-${Date.now().toString(36)}`;
  const auth = { authorization: `Bearer ${token}` };
  const connectors = {
    product: () => connectProduct({ port: product.port, auth }),
    baseline: () => connectBaseline({ port: baseline.port, room: `${room}-relay` }),
    json: () => connectBaseline({ port: baseline.port, mode: "json", room: `${room}-json` }),
    "json-sql": () => connectBaseline({ port: baseline.port, mode: "json-sql", room: `${room}-json-sql` }),
  };
  const serverOf = { product, baseline, json: baseline, "json-sql": baseline };
  const pairs = {};
  /** (Re)opens every pair of sockets and checks one relayed frame on each. */
  async function connectAll() {
    for (const [key, connect] of Object.entries(connectors)) {
      closePair(pairs[key]);
      pairs[key] = await connect();
      await checkRelay(pairs[key]);
    }
  }
  /**
   * Others edit src/ while this runs: a wrangler reload restarts the Worker and drops its sockets
   * (frames vanish or the socket closes). A step that failed after a reload is run again (at most
   * 5 times) on fresh sockets, once both servers answer again.
   */
  async function retryOnReload(label, step) {
    for (let attempt = 0; ; attempt++) {
      const offsets = Object.fromEntries(servers.map((x) => [x.name, logSize(x)]));
      try {
        return await step();
      } catch (err) {
        // wrangler may log the reload a little after the sockets went quiet: give its log 3 s.
        await sleep(3000);
        const reloaded = servers.filter((x) => reloadedSince(x, offsets[x.name])).map((x) => x.name);
        if (reloaded.length === 0 || attempt >= 5) throw err;
        warnings.push(`${label}: wrangler reloaded ${reloaded.join(" and ")} (a source file changed) and the relay broke (${err.message}); sockets reopened, step run again`);
        log(`  ${label}: wrangler reloaded ${reloaded.join(" and ")}; reopening the sockets and running it again`);
        // Edits come in bursts: wait until no server has reloaded for 3 s (at most 30 s).
        for (let quiet = 0; quiet < 10; quiet++) {
          const mark = Object.fromEntries(servers.map((x) => [x.name, logSize(x)]));
          await sleep(3000);
          if (!servers.some((x) => reloadedSince(x, mark[x.name]))) break;
        }
        await waitReady(product, "/health", (res) => res.status === 200);
        await waitReady(baseline, "/", (res) => res.status === 200);
        await connectAll();
      }
    }
  }
  try {
    await retryOnReload("connect", connectAll);
    log(`Checked: each side relays an ice frame A → B unchanged (product: call ${pairs.product.callId}, from stamped; baseline: room ${room}).`);

    /** One window on `key`'s pair: CPU per message per process around the timed part. */
    async function measure(key, { window, durationMs, warmupMs }) {
      const pair = pairs[key];
      const server = serverOf[key];
      if (warmupMs > 0) await relayWindow(pair, { window, durationMs: warmupMs });
      const cpu0 = groupCpu(server);
      const lg0 = process.cpuUsage();
      const r = await relayWindow(pair, { window, durationMs });
      const cpu1 = groupCpu(server);
      const lg = process.cpuUsage(lg0);
      const per = (ms) => ms / Math.max(1, r.received);
      r.cpuMsPerMessage = Object.fromEntries(Object.keys(cpu1).map((role) => [role, per(cpu1[role] - cpu0[role])]));
      r.cpuMsPerMessage.loadgen = per((lg.user + lg.system) / 1000);
      await sleep(config.settleMs);
      return r;
    }
    const summarize = (rounds) => ({
      msgsPerS: median(rounds.map((r) => r.msgsPerS)),
      msgsPerSMin: Math.min(...rounds.map((r) => r.msgsPerS)),
      msgsPerSMax: Math.max(...rounds.map((r) => r.msgsPerS)),
      p50: median(rounds.map((r) => r.p50)),
      p99: median(rounds.map((r) => r.p99)),
      messages: rounds.reduce((n, r) => n + r.received, 0),
      cpuMsPerMessage: Object.fromEntries(Object.keys(rounds[0].cpuMsPerMessage).map((role) => [role, median(rounds.map((r) => r.cpuMsPerMessage[role]))])),
    });

    // Profiles before the timed windows (see the state group: the inspector proxy replays console events).
    const profiles = {};
    if (cfg.profile) {
      log("Profiling the Workers' isolates during a relay window (not timed)…");
      for (const side of ["baseline", "product"]) {
        try {
          profiles[side] = await retryOnReload(`profile of ${side}`, async () => {
            const cdp = await connectInspector(serverOf[side].inspectorPort);
            try {
              const maps = await moduleMaps(cdp, side === "baseline" ? "bench/baseline" : "");
              const { result, profile } = await profileDuring(cdp, () => measure(side, { window: cfg.window, durationMs: cfg.profileDurationMs, warmupMs: 300 }), cfg.profileIntervalUs);
              if (!profile) throw new Error("the inspector returned no profile");
              return summarizeProfile(profile, maps, result.received);
            } finally {
              cdp.close();
            }
          });
        } catch (err) {
          warnings.push(`profile of ${side} failed: ${err.message}`);
        }
      }
      await retryOnReload("reconnect after the profiles", connectAll);
    }

    log(`\nMeasuring: ${cfg.rounds} round(s) × ${cfg.durationMs / 1000} s per side and scenario, baseline and product alternating.`);
    const plan = [
      { id: `window-${cfg.window}`, label: `throughput, window ${cfg.window}`, window: cfg.window },
      { id: "sequential", label: "latency, sequential (window 1)", window: 1 },
    ];
    const rounds = Object.fromEntries(plan.map((sc) => [sc.id, { baseline: [], product: [] }]));
    for (let r = 0; r < cfg.rounds; r++) {
      const round = await retryOnReload(`round ${r + 1}`, async () => {
        const out = Object.fromEntries(plan.map((sc) => [sc.id, {}]));
        for (const side of r % 2 === 0 ? ["baseline", "product"] : ["product", "baseline"]) {
          for (const sc of plan) out[sc.id][side] = await measure(side, { window: sc.window, durationMs: cfg.durationMs, warmupMs: r === 0 ? cfg.warmupMs * 2 : cfg.warmupMs });
        }
        return out;
      });
      for (const sc of plan) for (const side of ["baseline", "product"]) rounds[sc.id][side].push(round[sc.id][side]);
      log(`  round ${r + 1}/${cfg.rounds}: ${plan.map((sc) => `${sc.label}: baseline ${rounds[sc.id].baseline[r].msgsPerS.toFixed(0)}, product ${rounds[sc.id].product[r].msgsPerS.toFixed(0)} msgs/s`).join("; ")}`);
    }
    const scenarios = plan.map((sc) => {
      const b = summarize(rounds[sc.id].baseline);
      const p = summarize(rounds[sc.id].product);
      return {
        ...sc,
        baseline: { summary: b, rounds: rounds[sc.id].baseline },
        product: { summary: p, rounds: rounds[sc.id].product },
        ratios: {
          msgsPerS: p.msgsPerS / b.msgsPerS,
          p50: p.p50 / b.p50,
          p99: p.p99 / b.p99,
          pairedMsgsPerS: median(rounds[sc.id].product.map((x, i) => x.msgsPerS / rounds[sc.id].baseline[i].msgsPerS)),
          serverCpu: serverCpu(b.cpuMsPerMessage) / serverCpu(p.cpuMsPerMessage),
        },
      };
    });
    for (const s of scenarios) {
      for (const side of ["baseline", "product"]) {
        const { msgsPerSMin: lo, msgsPerSMax: hi } = s[side].summary;
        if (hi / lo > 1.3) warnings.push(`${s.label} ${side}: rounds vary ${lo.toFixed(0)}–${hi.toFixed(0)} msgs/s (noisy machine)`);
      }
    }

    log("\nMeasuring stages of the relay (interleaved)…");
    const relayStages = [
      { id: "relay", key: "baseline", label: "baseline: bare relay (the baseline)" },
      { id: "json", key: "json", label: "baseline mode json: + JSON.parse, stamp from, route by to, JSON.stringify" },
      { id: "json-sql", key: "json-sql", label: "baseline mode json-sql: + one SQLite SELECT of the sender's row" },
      { id: "product", key: "product", label: "product: CallSessionDO signalling" },
    ];
    const stageRounds = relayStages.map(() => []);
    for (let r = 0; r < cfg.stageRounds; r++) {
      const round = await retryOnReload(`stage round ${r + 1}`, async () => {
        const out = [];
        for (const spec of relayStages) out.push(await measure(spec.key, { window: cfg.window, durationMs: cfg.stageDurationMs, warmupMs: 200 }));
        return out;
      });
      round.forEach((x, i) => stageRounds[i].push(x));
    }
    const stages = relayStages.map((spec, i) => ({ id: spec.id, label: spec.label, summary: summarize(stageRounds[i]), rounds: stageRounds[i] }));

    const reloaded = servers.filter((s) => reloadedSince(s, logOffsets[s.name])).map((s) => s.name);
    if (reloaded.length) warnings.push(`wrangler reloaded ${reloaded.join(" and ")} during the run (a source file changed): numbers may mix two builds`);
    const metaCommon = runMeta({ group: "signalling", startedAt, workerdBinary, compatDate, loadBefore, loadAfter: os.loadavg()[0] });
    const resultsFile = metaCommon.resultsFile;
    const run = {
      meta: {
        ...metaCommon,
        frameBytes: Buffer.byteLength(iceFrame(pairs.product.idB, 1000)),
        setup:
          "Product: wrangler.toml (RATE_LIMIT off), POST /api/v2/calls + /start + 2 × /participants with a role-developer JWT, sockets on /api/v2/calls/{id}/ws?token=<join token>. " +
          "Baseline: bench/baseline/wrangler.toml, GET /relay/{room}/ws?peer=&mode=relay → BaselineRelayDO (hibernatable accept, each frame sent as it is to the other socket). " +
          "Clients: Node's global WebSocket, A and B in the load generator's process; msgs/s = frames that reached B inside the window ÷ window; latency = A's send → B's message event (one clock).",
      },
      config: cfg,
      scenarios,
      stages,
      profiles,
      warnings,
    };
    run.findings = signallingFindings(run);
    log(renderSignallingText(run));
    mkdirSync(RUNS_DIR, { recursive: true });
    writeFileSync(resultsFile, `${JSON.stringify(run, null, 2)}\n`);
    const summaryFile = `bench/results/latest-signalling${variantSuffix()}.md`;
    writeFileSync(summaryFile, signallingMarkdown(run));
    log(`\nWrote ${resultsFile} and ${summaryFile}`);
  } finally {
    for (const pair of Object.values(pairs)) closePair(pair);
    await stopServers();
  }
}

let exitCode = 0;
try {
  let missed = 0;
  if (groups.includes("state")) missed += await runStateGroup();
  if (groups.includes("tasks")) missed += await runTasksGroup();
  if (groups.includes("signalling")) await runSignallingGroup();
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

/** A run with --product-var or --inspector writes its own summary (e.g. latest-state-log-warn.md), so it never replaces the default one. */
function variantSuffix() {
  const vars = config.productVars.map((v) => `-${v.replace(/_LEVEL/, "").replace(/[^A-Za-z0-9]+/g, "-").toLowerCase()}`).join("");
  return `${vars}${config.inspector ? "-inspector" : ""}`;
}
