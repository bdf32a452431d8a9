// The tasks group (`npm run bench -- --only tasks`): N noop tasks created over HTTP and run to
// completed through the local Queue (lib/tasks.mjs), tasks/s and create→complete p50/p95, with the
// agent at 1 and at MAX_INSTANCES instances, and again with another max_batch_timeout (scratch
// copies of both configs). Writes bench/results/runs/tasks-<date>.json and bench/results/latest-tasks.md.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { isDeepStrictEqual } from "node:util";
import { mintDevToken } from "../../scripts/lib/dev-token.mjs";
import { SCRATCH_DIR, checkedCompatibilityDate, loadAtStart, log } from "../lib/harness.mjs";
import { keepAliveAgent } from "../lib/load.mjs";
import { median } from "../lib/report.mjs";
import { logSize, reloadedSince, waitReady } from "../lib/servers.mjs";
import { ReloadedError, consumerSettings, runTasksOnce, taskSide, withConsumerSettings } from "../lib/tasks.mjs";
import { renderTasksText, tasksFindings, tasksMarkdown, tasksVerdict } from "../lib/tasks-report.mjs";

/** Product ÷ baseline tasks/s at MAX_INSTANCES instances. */
const TASK_TARGET = 0.8;
const PRODUCT_QUEUE = "agent-tasks";
const BASELINE_QUEUE = "baseline-tasks";

/** A scratch copy of both configs under bench/ with other consumer settings (never wrangler.toml itself). */
function scratchConfigs(tag, settings) {
  mkdirSync(SCRATCH_DIR, { recursive: true });
  // Paths in a wrangler config are relative to its folder: point them back at the real sources.
  const product = withConsumerSettings(readFileSync("wrangler.toml", "utf8"), PRODUCT_QUEUE, settings)
    .replace(/^#:schema .*$/m, "#:schema ../../node_modules/wrangler/config-schema.json")
    .replace(/^main\s*=\s*"([^"]+)"/m, (_, m) => `main = "../../${m}"`)
    .replace(/^migrations_dir\s*=\s*"([^"]+)"/m, (_, m) => `migrations_dir = "../../${m}"`)
    // [assets] directory (the built browser code).
    .replace(/^directory\s*=\s*"([^"]+)"/m, (_, m) => `directory = "../../${m}"`);
  const baseline = withConsumerSettings(readFileSync("bench/baseline/wrangler.toml", "utf8"), BASELINE_QUEUE, settings)
    .replace(/^#:schema .*$/m, "#:schema ../../node_modules/wrangler/config-schema.json")
    .replace(/^main\s*=\s*"([^"]+)"/m, (_, m) => `main = "../baseline/${m}"`);
  const productConfig = path.join(SCRATCH_DIR, `product-${tag}.toml`);
  const baselineConfig = path.join(SCRATCH_DIR, `baseline-${tag}.toml`);
  writeFileSync(productConfig, `# Scratch copy written by bench/run.mjs (deleted at the end): ${JSON.stringify(settings)}\n${product}`);
  writeFileSync(baselineConfig, `# Scratch copy written by bench/run.mjs (deleted at the end): ${JSON.stringify(settings)}\n${baseline}`);
  return { productConfig, baselineConfig };
}

/**
 * Runs the tasks group on `harness` (bench/lib/harness.mjs) with `taskConfig` (bench/run.mjs) and
 * `settleMs` (the pause between two measured windows); returns how many scenarios missed their target.
 */
export async function runTasksGroup(harness, taskConfig, { settleMs }) {
  const { servers, startServers, stopServers, runMeta } = harness;
  const startedAt = new Date();
  const warnings = [];
  const compatDate = checkedCompatibilityDate();
  const productToml = readFileSync("wrangler.toml", "utf8");
  const consumer = consumerSettings(productToml, PRODUCT_QUEUE);
  const baselineConsumer = consumerSettings(readFileSync("bench/baseline/wrangler.toml", "utf8"), BASELINE_QUEUE);
  if (!isDeepStrictEqual(consumer, baselineConsumer)) {
    throw new Error(
      `bench/baseline/wrangler.toml's ${BASELINE_QUEUE} consumer ${JSON.stringify(baselineConsumer)} must equal wrangler.toml's ${PRODUCT_QUEUE} consumer ${JSON.stringify(consumer)}`,
    );
  }
  const vars = (name) => Number(new RegExp(`^${name}\\s*=\\s*"(\\d+)"`, "m").exec(productToml)?.[1]);
  const maxInstances = vars("MAX_INSTANCES") || 32;
  const perInstance = vars("TASK_CONCURRENCY_PER_INSTANCE") || 1;
  const loadBefore = loadAtStart(warnings);

  const variants = [
    {
      id: `timeout-${consumer.max_batch_timeout}`,
      label: `max_batch_timeout ${consumer.max_batch_timeout} s (wrangler.toml)`,
      settings: consumer,
      scratch: false,
    },
    ...taskConfig.batchTimeouts
      .filter((t) => t !== consumer.max_batch_timeout)
      .map((t) => ({
        id: `timeout-${t}`,
        label: `max_batch_timeout ${t} s (scratch copy)`,
        settings: { ...consumer, max_batch_timeout: t },
        scratch: true,
      })),
  ];
  const scenarios = [];
  const meta = { workerd: null, scaleRoute: null, laneMode: null };
  for (const [vi, variant] of variants.entries()) {
    const cfgs = variant.scratch ? scratchConfigs(variant.id, { max_batch_timeout: variant.settings.max_batch_timeout }) : {};
    log(`\nTasks, ${variant.label}: starting both servers…`);
    const { product, baseline, jwtSecret, workerdBinary } = await startServers({ ...cfgs, tag: `tasks-${variant.id}` });
    meta.workerd ??= { binary: workerdBinary, version: spawnSync(workerdBinary, ["--version"], { encoding: "utf8" }).stdout.trim() };
    const logOffsets = { product: logSize(product), baseline: logSize(baseline) };
    const mint = (role) => mintDevToken(jwtSecret, { sub: "bench", role }, { ttl: "2h" });
    const auth = { authorization: `Bearer ${await mint("user")}` };
    // Scaling needs the developer role; the tasks themselves are created as a user.
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
      {
        key: "lanes",
        label: `${taskConfig.tasks} tasks, ${maxInstances} instances`,
        count: taskConfig.tasks,
        lanes: maxInstances,
        rounds: vi === 0 ? taskConfig.rounds : taskConfig.altRounds,
        target: TASK_TARGET,
      },
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
              await sleep(settleMs);
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
        cpuMsPerTask: Object.fromEntries(
          Object.keys(rounds[side][0].cpuMsPerTask).map((role) => [role, med(side, (x) => x.cpuMsPerTask[role])]),
        ),
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
    if (reloaded.length)
      warnings.push(
        `${variant.label}: wrangler reloaded ${reloaded.join(" and ")} during the run (a source file changed): numbers may mix two builds`,
      );
    await stopServers();
  }

  const loadAfter = os.loadavg()[0];
  const metaCommon = runMeta({
    group: "tasks",
    startedAt,
    workerdBinary: meta.workerd.binary,
    workerdVersion: meta.workerd.version,
    compatDate,
    loadBefore,
    loadAfter,
  });
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
  harness.saveRun("tasks", run, tasksMarkdown(run));
  return scenarios.filter((s) => s.target && s.ratios.tasksPerS < s.target).length;
}
