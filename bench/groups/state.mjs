// The state group (`npm run bench -- --only state`): versioned save and load, product against the
// baseline. Prints req/s, p50, p99 and product ÷ baseline ratios, shows where the product's time
// goes (CPU per process, stage endpoints, an isolate profile with --inspector), and writes
// bench/results/runs/state-<date>.json (git-ignored) and bench/results/latest-state.md.
import os from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { isDeepStrictEqual } from "node:util";
import { mintDevToken } from "../../scripts/lib/dev-token.mjs";
import { deriveFindings, noiseWarnings, verdictOf } from "../lib/findings.mjs";
import { checkedCompatibilityDate, loadAtStart, log } from "../lib/harness.mjs";
import { keepAliveAgent, runWindow } from "../lib/load.mjs";
import { agentState } from "../lib/payload.mjs";
import { connectInspector, moduleMaps, profileDuring, summarizeProfile } from "../lib/profile.mjs";
import { budgetTable, markdownSummary, median, renderText, summarizeRounds } from "../lib/report.mjs";
import { groupCpu, logSize, reloadedSince } from "../lib/servers.mjs";
import { saveBudget, serverCpu, stageSpecs } from "../lib/stages.mjs";

/** Product ÷ baseline req/s each operation must reach. */
const TARGETS = { save: 0.7, load: 0.9 };

/**
 * Runs the state group on `harness` (bench/lib/harness.mjs) with `config` (bench/run.mjs);
 * returns how many scenarios missed their target.
 */
export async function runStateGroup(harness, config) {
  const { servers, startServers, stopServers, runMeta } = harness;
  const startedAt = new Date();
  const warnings = [];
  const compatDate = checkedCompatibilityDate();
  const loadBefore = loadAtStart(warnings);

  const { product, baseline, jwtSecret, workerdBinary } = await startServers();
  const logOffsets = { product: logSize(product), baseline: logSize(baseline) };

  // Requests: bodies and headers built once; the clients do no per-request work.
  const token = await mintDevToken(jwtSecret, { sub: "bench", role: "user" }, { ttl: "2h" });
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
  const sides = {
    baseline: { server: baseline, agent: keepAliveAgent(config.concurrency) },
    product: { server: product, agent: keepAliveAgent(config.concurrency) },
  };
  for (const side of ["product", "baseline"]) {
    const base = `http://127.0.0.1:${sides[side].server.port}`;
    for (const id of [...agentIds, soloId]) {
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
  }
  log(`Checked: both sides save and load the ${body.length}-byte state for ${config.agents + 1} agents.`);

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

  /** Alternates the sides round by round (B P, P B, B P …) so drift and noise hit both alike. */
  async function compare(label, op, ids) {
    const reqs = { baseline: ids.map(build.baseline[op]), product: ids.map(build.product[op]) };
    const rounds = { baseline: [], product: [] };
    for (let r = 0; r < config.rounds; r++) {
      for (const side of r % 2 === 0 ? ["baseline", "product"] : ["product", "baseline"]) {
        rounds[side].push(
          await measure(side, reqs[side], { durationMs: config.durationMs, warmupMs: r === 0 ? config.warmupMs * 2 : config.warmupMs }),
        );
      }
      log(
        `  ${label}: round ${r + 1}/${config.rounds}: baseline ${rounds.baseline[r].rps.toFixed(0)} req/s, product ${rounds.product[r].rps.toFixed(0)} req/s`,
      );
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
    `\nMeasuring: ${config.rounds} round(s) × ${config.durationMs / 1000} s per side, ${config.concurrency} clients, baseline and product alternating.`,
  );
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

  const reloaded = servers.filter((s) => reloadedSince(s, logOffsets[s.name])).map((s) => s.name);
  if (reloaded.length)
    warnings.push(`wrangler reloaded ${reloaded.join(" and ")} during the run (a source file changed): numbers may mix two builds`);
  warnings.push(...noiseWarnings(scenarios));
  const loadAfter = os.loadavg()[0];
  const findings = deriveFindings({ scenarios, stages, budget, profiles, agents: config.agents });
  const missed = scenarios.filter((s) => s.ratios.rps < s.target);
  const verdict = verdictOf(scenarios);

  const metaCommon = runMeta({ group: "state", startedAt, workerdBinary, compatDate, loadBefore, loadAfter });
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

  harness.saveRun("state", run, markdownSummary(run, { budget: budgetTable(budget) }));
  await stopServers();
  return missed.length;
}
