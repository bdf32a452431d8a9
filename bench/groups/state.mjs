// The state group (`npm run bench -- --only state`): versioned save and load, the product against
// the bare baseline and the Agents SDK peer, at several spreads of agents (1, 64, 1,000 by
// default). Prints req/s, p50, p99 and the ratios, shows where the product's time goes (CPU per
// process, stage endpoints, an isolate profile with --inspector), then counts the operations per
// save and their cost (bench/lib/ops.mjs) and measures growth with history and with the number of
// agents (bench/lib/growth.mjs). Writes bench/results/runs/state-<date>.json (git-ignored) and
// bench/results/latest-state.md.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { isDeepStrictEqual } from "node:util";
import { mintDevToken } from "../../scripts/lib/dev-token.mjs";
import { deriveFindings, noiseWarnings, verdictOf } from "../lib/findings.mjs";
import { measureGrowth } from "../lib/growth.mjs";
import { checkedCompatibilityDate, loadAtStart, log } from "../lib/harness.mjs";
import { keepAliveAgent, runWindow } from "../lib/load.mjs";
import { costPerMillion, countingConfig, loadPrices, measureOps } from "../lib/ops.mjs";
import { agentState } from "../lib/payload.mjs";
import { connectInspector, moduleMaps, profileDuring, summarizeProfile } from "../lib/profile.mjs";
import { budgetTable, median, summarizeRounds } from "../lib/report.mjs";
import { groupCpu, logSize, reloadedSince, runtimeBinary } from "../lib/servers.mjs";
import { saveBudget, serverCpu, stageSpecs } from "../lib/stages.mjs";
import { markdownSummary, renderText } from "../lib/state-report.mjs";

/**
 * Where `--save-reference` keeps a run's figures, shown beside later runs of the same variant
 * (e.g. before a change): state-reference.json, state-reference-log-warn.json, …
 */
const referenceFile = (harness) => `bench/results/state-reference${harness.variantSuffix()}.json`;

/**
 * What each scenario must reach. `baseline`/`sdk`: product ÷ that side's req/s; `oneAgent`:
 * product req/s ÷ the product's own save, 1 agent (a save must not cost more with more agents).
 */
function checksFor(op, agents) {
  if (op === "load") return [{ against: "baseline", min: 0.9 }];
  const checks = [
    { against: "baseline", min: agents === 64 ? 0.75 : 0.7 },
    { against: "sdk", min: 1.0 },
  ];
  if (agents > 1) checks.push({ against: "oneAgent", min: 0.9 });
  return checks;
}

/** The commit of the checkout that holds `productConfig` (it may be another worktree than this one). */
function productCommit(productConfig) {
  const dir = path.dirname(path.resolve(productConfig));
  const git = (a) => spawnSync("git", ["-C", dir, ...a], { encoding: "utf8" }).stdout?.trim() ?? "";
  return {
    commit: git(["rev-parse", "--short", "HEAD"]) || "unknown",
    dirty: git(["status", "--porcelain", "--", "src", "durable-objects", "workers", "wrangler.toml"]).length > 0,
  };
}

const agentsSdkVersion = () => JSON.parse(readFileSync("node_modules/agents/package.json", "utf8")).version;

const spreadIds = (n) => (n === 1 ? ["bench-solo"] : Array.from({ length: n }, (_, i) => `bench-${n}-${String(i).padStart(4, "0")}`));

/**
 * Save and load throughput of the product, the baseline and the Agents SDK peer at each spread,
 * with the stage windows and (with --inspector) the isolate profiles; stops the servers after.
 */
async function measureThroughput(harness, config, warnings, { state, body, jsonBody }) {
  const { product, baseline, sdk, jwtSecret, workerdBinary } = await harness.startServers({
    productConfig: config.productConfig,
    sdk: config.sdk,
  });
  const logOffsets = Object.fromEntries(harness.servers.map((s) => [s.name, logSize(s)]));
  const sideNames = ["baseline", "product", ...(sdk ? ["sdk"] : [])];

  const token = await mintDevToken(jwtSecret, { sub: "bench", role: "user" }, { ttl: "4h" });
  const auth = { authorization: `Bearer ${token}` };
  const bare = {
    save: (id) => ({ method: "POST", path: `/agents/${id}/state`, headers: jsonBody, body }),
    load: (id) => ({ method: "GET", path: `/agents/${id}/state`, headers: {} }),
  };
  const build = {
    product: {
      save: (id) => ({ method: "POST", path: `/api/v2/agents/${id}/state`, headers: { ...auth, ...jsonBody }, body }),
      load: (id) => ({ method: "GET", path: `/api/v2/agents/${id}/state`, headers: auth }),
    },
    // The baseline and the SDK peer serve the same routes.
    baseline: bare,
    sdk: bare,
  };
  const sides = {
    baseline: { server: baseline, agent: keepAliveAgent(config.concurrency) },
    product: { server: product, agent: keepAliveAgent(config.concurrency) },
    ...(sdk ? { sdk: { server: sdk, agent: keepAliveAgent(config.concurrency) } } : {}),
  };

  // Correctness first: a sample of agents saved and read back on every side, then every agent of
  // every spread saved once (so loads find state and saves replace an existing one).
  const spreads = [...new Set([...config.spreads, ...config.loadSpreads])];
  const allIds = spreads.flatMap(spreadIds);
  for (const side of sideNames) {
    const base = `http://127.0.0.1:${sides[side].server.port}`;
    for (const id of ["bench-check-a", "bench-check-b"]) {
      const s = build[side].save(id);
      const saved = await fetch(base + s.path, { method: "POST", headers: s.headers, body: s.body });
      if (saved.status !== 200) throw new Error(`${side} save ${id}: ${saved.status} ${await saved.text()}`);
      const l = build[side].load(id);
      const loaded = await fetch(base + l.path, { headers: l.headers });
      const doc = await loaded.json();
      if (loaded.status !== 200 || !isDeepStrictEqual(doc.state_data, state))
        throw new Error(`${side} load ${id}: ${loaded.status}, state differs`);
      if (side === "product" && doc.version !== 1) throw new Error(`product: version ${doc.version} after the first save of ${id}`);
    }
    const seeded = await runWindow({
      agent: sides[side].agent,
      port: sides[side].server.port,
      concurrency: config.concurrency,
      durationMs: 600_000,
      maxRequests: allIds.length,
      nextRequest: (i) => build[side].save(allIds[i]),
    });
    if (seeded.errors) throw new Error(`${side}: seeding ${allIds.length} agents: ${seeded.errors} failed (first: ${seeded.firstError})`);
  }
  log(
    `Checked: every side saves and loads the ${body.length}-byte state; ${allIds.length} agents seeded on each (${sideNames.join(", ")}).`,
  );

  async function measure(side, requests, { durationMs, warmupMs, okStatus = [200] }) {
    const { server, agent } = sides[side];
    const common = {
      agent,
      port: server.port,
      concurrency: config.concurrency,
      maxRequests: config.maxRequestsPerWindow,
      okStatus,
      nextRequest: (i) => requests[i % requests.length],
    };
    if (warmupMs > 0) await runWindow({ ...common, durationMs: warmupMs });
    const cpu0 = groupCpu(server);
    const lg0 = process.cpuUsage();
    const r = await runWindow({ ...common, durationMs });
    const cpu1 = groupCpu(server);
    const lg = process.cpuUsage(lg0);
    if (r.errors > 0)
      throw new Error(
        `${side}: ${r.errors} of ${r.completed + r.errors} requests failed (first: ${r.firstError}); statuses ${JSON.stringify(r.statuses)}`,
      );
    const per = (ms) => ms / Math.max(1, r.completed);
    r.cpuMsPerRequest = Object.fromEntries(Object.keys(cpu1).map((role) => [role, per(cpu1[role] - cpu0[role])]));
    r.cpuMsPerRequest.loadgen = per((lg.user + lg.system) / 1000);
    await sleep(config.settleMs);
    return r;
  }

  /** Rotates the sides round by round (B P S, P S B, S B P …) so drift and noise hit all alike. */
  async function compare(op, n) {
    const ids = spreadIds(n);
    const label = `${op}, ${n === 1 ? "1 agent" : `${n.toLocaleString("en-US")} agents`}`;
    const reqs = Object.fromEntries(sideNames.map((side) => [side, ids.map(build[side][op])]));
    const rounds = Object.fromEntries(sideNames.map((side) => [side, []]));
    for (let r = 0; r < config.rounds; r++) {
      const order = sideNames.map((_, i) => sideNames[(i + r) % sideNames.length]);
      for (const side of order)
        rounds[side].push(
          await measure(side, reqs[side], { durationMs: config.durationMs, warmupMs: r === 0 ? config.warmupMs * 2 : config.warmupMs }),
        );
      log(
        `  ${label}: round ${r + 1}/${config.rounds}: ${sideNames.map((side) => `${side} ${rounds[side][r].rps.toFixed(0)}`).join(", ")} req/s`,
      );
    }
    const summary = Object.fromEntries(sideNames.map((side) => [side, summarizeRounds(rounds[side])]));
    const p = summary.product;
    const b = summary.baseline;
    const paired = (other) => median(rounds.product.map((x, i) => x.rps / rounds[other][i].rps));
    return {
      id: `${op}-${n}`,
      label,
      op,
      agents: n,
      // Saves (or loads) per agent per second at the product's rate: with 1,000 agents each agent
      // saves well under once a second, so nothing the product does per agent can coalesce.
      perAgentPerSecond: p.rps / n,
      ...Object.fromEntries(sideNames.map((side) => [side, { summary: summary[side], rounds: rounds[side] }])),
      ratios: {
        rps: p.rps / b.rps,
        p50: p.p50 / b.p50,
        p99: p.p99 / b.p99,
        // Cross-checks less exposed to other load on the machine: the median of the per-round
        // ratios (each pair ran back to back) and the inverse ratio of server CPU per request.
        pairedRps: paired("baseline"),
        serverCpu: serverCpu(b.cpuMsPerRequest) / serverCpu(p.cpuMsPerRequest),
        ...(sdk
          ? {
              sdkRps: p.rps / summary.sdk.rps,
              sdkPairedRps: paired("sdk"),
              sdkP50: p.p50 / summary.sdk.p50,
              sdkVsBaseline: summary.sdk.rps / b.rps,
            }
          : {}),
      },
    };
  }

  const stageIds = spreadIds(config.spreads.includes(64) ? 64 : config.spreads[config.spreads.length - 1]);

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
          const reqs = stageIds.map(build[side][op]);
          const { result, profile } = await profileDuring(
            cdp,
            () => measure(side, reqs, { durationMs: config.profileDurationMs, warmupMs: 300 }),
            config.profileIntervalUs,
          );
          (profiles[op] ??= {})[side] = summarizeProfile(profile, maps, result.completed);
        }
      } catch (err) {
        warnings.push(`profile of ${side} failed: ${err.message}`);
      } finally {
        cdp?.close();
      }
    }
  }

  log(
    `\nMeasuring: ${config.rounds} round(s) × ${config.durationMs / 1000} s per side and scenario, ${config.concurrency} clients, ${sideNames.join(", ")} in turn.`,
  );
  const scenarios = [];
  for (const n of config.spreads) scenarios.push(await compare("save", n));
  for (const n of config.loadSpreads) scenarios.push(await compare("load", n));
  const oneAgentSave = scenarios.find((s) => s.op === "save" && s.agents === 1);
  for (const s of scenarios) {
    s.checks = checksFor(s.op, s.agents)
      .map((c) => {
        const value =
          c.against === "baseline"
            ? s.ratios.rps
            : c.against === "sdk"
              ? s.ratios.sdkRps
              : oneAgentSave
                ? s.product.summary.rps / oneAgentSave.product.summary.rps
                : undefined;
        return { ...c, value, met: value >= c.min };
      })
      .filter((c) => Number.isFinite(c.value));
  }

  log("\nMeasuring stages of the save path (interleaved)…");
  const specs = stageSpecs({ auth, agentIds: stageIds, baselineSave: build.baseline.save, productSave: build.product.save });
  const stageRounds = specs.map(() => []);
  for (let r = 0; r < config.stageRounds; r++) {
    for (const [i, spec] of specs.entries())
      stageRounds[i].push(await measure(spec.side, spec.reqs, { durationMs: config.stageDurationMs, warmupMs: 300, okStatus: spec.ok }));
  }
  const stages = specs.map((spec, i) => ({
    id: spec.id,
    side: spec.side,
    label: spec.label,
    summary: summarizeRounds(stageRounds[i]),
    rounds: stageRounds[i],
  }));
  const budget = saveBudget(stages);

  const reloaded = harness.servers.filter((s) => reloadedSince(s, logOffsets[s.name] ?? 0)).map((s) => s.name);
  if (reloaded.length)
    warnings.push(`wrangler reloaded ${reloaded.join(" and ")} during the run (a source file changed): numbers may mix two builds`);
  warnings.push(...noiseWarnings(scenarios, sideNames));
  for (const s of Object.values(sides)) s.agent.destroy();
  await harness.stopServers();
  return { scenarios, stages, budget, profiles, stageAgents: stageIds.length, workerdBinary, sdkVersion: sdk ? agentsSdkVersion() : null };
}

/**
 * Runs the state group on `harness` (bench/lib/harness.mjs) with `config` (bench/run.mjs);
 * returns how many checks missed their target.
 */
export async function runStateGroup(harness, config) {
  const { runMeta } = harness;
  const startedAt = new Date();
  const warnings = [];
  const compatDate = checkedCompatibilityDate();
  const loadBefore = loadAtStart(warnings);

  // Requests: bodies and headers built once; the clients do no per-request work.
  const state = agentState();
  const body = Buffer.from(JSON.stringify({ state_data: state }));
  const jsonBody = { "content-type": "application/json", "content-length": String(body.length) };
  const t = config.throughput
    ? await measureThroughput(harness, config, warnings, { state, body, jsonBody })
    : { scenarios: [], stages: [], budget: null, profiles: {}, stageAgents: 0, workerdBinary: null, sdkVersion: null };
  const { scenarios, stages, budget, profiles } = t;
  let workerdBinary = t.workerdBinary;

  // Operations per save and growth, on the product run through the bench's counting wrapper.
  let ops = null;
  let growth = null;
  const prices = loadPrices();
  if (config.ops) {
    const { product: counted, jwtSecret: countedSecret } = await harness.startProduct({
      config: countingConfig({ productConfig: config.productConfig, dir: harness.ensureTempDir(), root: process.cwd() }),
      tag: "ops",
      name: "counted",
    });
    await counted.ready;
    workerdBinary ??= runtimeBinary(counted);
    const countedToken = await mintDevToken(countedSecret, { sub: "bench", role: "user" }, { ttl: "4h" });
    const countedAuth = { authorization: `Bearer ${countedToken}` };
    const countedBuild = {
      save: (id) => ({ method: "POST", path: `/api/v2/agents/${id}/state`, headers: { ...countedAuth, ...jsonBody }, body }),
      load: (id) => ({ method: "GET", path: `/api/v2/agents/${id}/state`, headers: countedAuth }),
    };
    const probe = await fetch(`http://127.0.0.1:${counted.port}/__bench/ops`);
    if (probe.status !== 200) throw new Error(`the counting wrapper does not answer /__bench/ops (${probe.status})`);
    const rows = await measureOps({
      server: counted,
      buildSave: countedBuild.save,
      spreads: config.opsSpreads,
      pacedAgents: config.opsPacedAgents,
      newAgents: config.opsNewAgents,
      windowMs: config.opsWindowMs,
      pacedMs: config.opsPacedMs,
      quietMs: config.opsQuietMs,
      maxSettleMs: config.opsMaxSettleMs,
      concurrency: config.concurrency,
    });
    for (const row of rows) row.cost = costPerMillion(row.ops, prices);
    const counterCheck = rows.find((r) => r.kind === "steady");
    if (counterCheck && !(counterCheck.ops.do_rows_written > 0))
      warnings.push(
        "the counting wrapper saw no SQLite rows written by the agent's Durable Object: its counters may not reach the objects' isolate",
      );
    ops = {
      rows,
      windowMs: config.opsWindowMs,
      pacedMs: config.opsPacedMs,
      quietMs: config.opsQuietMs,
      maxSettleMs: config.opsMaxSettleMs,
    };
    if (config.growth) {
      growth = await measureGrowth({
        server: counted,
        build: countedBuild,
        auth: countedAuth,
        historySaves: config.historySaves,
        historySamples: config.historySamples,
        listSizes: config.listSizes,
        pageLimit: 100,
        pageSamples: config.pageSamples,
        walkPages: config.walkPages,
        concurrency: config.concurrency,
      });
    }
    await harness.stop(counted);
  }

  const loadAfter = os.loadavg()[0];
  const findings = budget ? deriveFindings({ scenarios, stages, budget, profiles, agents: t.stageAgents }) : [];
  const missed = scenarios.flatMap((s) => s.checks.filter((c) => !c.met));
  const verdict = verdictOf(scenarios);
  const refFile = referenceFile(harness);
  const reference = existsSync(refFile) ? { ...JSON.parse(readFileSync(refFile, "utf8")), file: refFile } : null;

  const metaCommon = runMeta({ group: "state", startedAt, workerdBinary, compatDate, loadBefore, loadAfter });
  const run = {
    meta: {
      ...metaCommon,
      payloadBytes: body.length,
      agentsSdk: t.sdkVersion,
      productConfig: config.productConfig,
      product: productCommit(config.productConfig),
      setup:
        "Three dev servers (bench/lib/dev-server.mjs) started by this script (product: wrangler.toml with --var RATE_LIMIT:off and JWT_SECRET/ADMIN_API_KEY from an env file; " +
        "baseline: bench/baseline/wrangler.toml; Agents SDK peer: bench/agents-sdk/wrangler.toml), each = wrangler (node) + proxy workerd on the public port + runtime workerd. " +
        "Operations and growth on a fourth, started afterwards: the product through the bench's counting wrapper (bench/ops/instrument.ts).",
    },
    config,
    scenarios,
    stageAgents: t.stageAgents,
    stages,
    saveBudget: budget,
    profiles,
    ops,
    growth,
    prices,
    reference,
    verdict,
    findings,
    warnings,
  };

  log(renderText(run));

  const markdown = markdownSummary(run, { budget: budget ? budgetTable(budget) : null });
  harness.saveRun("state", run, markdown);
  if (config.saveReference) {
    writeFileSync(
      refFile,
      `${JSON.stringify(
        {
          label: config.saveReference,
          date: run.meta.date,
          commit: run.meta.product.commit,
          dirty: run.meta.product.dirty,
          productConfig: config.productConfig,
          scenarios: scenarios.map((s) => ({
            id: s.id,
            label: s.label,
            productRps: s.product.summary.rps,
            ratios: {
              rps: s.ratios.rps,
              sdkRps: s.ratios.sdkRps ?? null,
              oneAgent: s.checks.find((c) => c.against === "oneAgent")?.value ?? null,
            },
          })),
          ops:
            ops?.rows.map((r) => ({
              label: r.label,
              kind: r.kind,
              agents: r.agents,
              savesPerAgentPerSecond: r.savesPerAgentPerSecond,
              ops: r.ops,
              cost: r.cost,
            })) ?? null,
        },
        null,
        2,
      )}\n`,
    );
    // Its summary too, which the docs can link to after later runs replaced latest-state*.md.
    writeFileSync(refFile.replace(/\.json$/, ".md"), markdown);
    log(`Wrote ${refFile} and its summary (${config.saveReference}).`);
  }
  return missed.length;
}
