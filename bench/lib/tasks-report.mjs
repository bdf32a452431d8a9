// The printed table, findings and markdown summary of the task pipeline benchmark.
import { fmt, mdTable, padEnd, ratio, textTable } from "./report.mjs";
import { serverCpu } from "./stages.mjs";

const scenarioName = (s) => `${s.label} · timeout ${s.consumer.max_batch_timeout} s`;
const targetCell = (s, md = false) =>
  s.target ? `≥${s.target.toFixed(2)}× ${s.ratios.tasksPerS >= s.target ? "met" : md ? "**missed**" : "MISSED"}` : "–";

export function tasksVerdict(run) {
  const judged = run.scenarios.filter((s) => s.target);
  const missed = judged.filter((s) => s.ratios.tasksPerS < s.target);
  const list = (xs) => xs.map((s) => `${scenarioName(s)} (${ratio(s.ratios.tasksPerS)})`).join(", ") || "none";
  return missed.length ? `target ≥ ${run.target}× missed for ${list(missed)}` : `target ≥ ${run.target}× met for ${list(judged)}`;
}

function mainRows(run) {
  const rows = [
    [
      "scenario",
      "baseline tasks/s",
      "p50 ms",
      "p95 ms",
      "product tasks/s",
      "p50 ms",
      "p95 ms",
      "tasks/s ratio",
      "p50 ratio",
      "p95 ratio",
      "instances (agents × inst.)",
      "target",
    ],
  ];
  for (const s of run.scenarios) {
    const b = s.baseline.summary;
    const p = s.product.summary;
    rows.push([
      scenarioName(s),
      fmt(b.tasksPerS),
      fmt(b.p50, 0),
      fmt(b.p95, 0),
      fmt(p.tasksPerS),
      fmt(p.p50, 0),
      fmt(p.p95, 0),
      ratio(s.ratios.tasksPerS),
      ratio(s.ratios.p50),
      ratio(s.ratios.p95),
      `${s.agents} × ${s.lanesPerAgent} (used ${fmt(p.instancesSeen, 0)})`,
      targetCell(s),
    ]);
  }
  return rows;
}

function breakdownRows(run) {
  const rows = [
    [
      "scenario · side",
      "wall = create phase + drain",
      "create req/s",
      "lane wait p50/mean",
      "queue wait p50/mean",
      "run p50/mean",
      "batches (timer-flushed)",
      "mean size",
      "consumer ms/batch",
      "max running",
      "server CPU ms/task (runtime/proxy/wrangler)",
    ],
  ];
  for (const s of run.scenarios) {
    for (const side of ["baseline", "product"]) {
      const x = s[side].summary;
      rows.push([
        `${scenarioName(s)} · ${side}`,
        `${fmt(x.wallMs, 0)} = ${fmt(x.createPhaseMs, 0)} + ${fmt(x.drainMs, 0)}`,
        fmt(x.createRps, 0),
        side === "baseline" ? "–" : `${fmt(x.laneWaitP50, 0)} / ${fmt(x.laneWaitMean, 0)}`,
        `${fmt(x.queueWaitP50, 0)} / ${fmt(x.queueWaitMean, 0)}`,
        `${fmt(x.runP50, 0)} / ${fmt(x.runMean, 0)}`,
        `${fmt(x.batches, 0)} (${fmt(x.timerFlushed, 0)})`,
        fmt(x.batchMeanSize, 1),
        fmt(x.consumerMsPerBatch, 0),
        fmt(x.maxRunning, 0),
        `${fmt(serverCpu(x.cpuMsPerTask), 2)} (${fmt(x.cpuMsPerTask.workerd_runtime, 2)}/${fmt(x.cpuMsPerTask.workerd_proxy, 2)}/${fmt(x.cpuMsPerTask.wrangler_node, 2)})`,
      ]);
    }
  }
  return rows;
}

/** Where the time goes, from the measured split (lane wait, queue wait, run), batch counts and CPU. */
export function tasksFindings(run) {
  const out = [];
  const find = (variant, key) => run.scenarios.find((s) => s.variant === variant && s.key === key);
  const asIs = run.scenarios[0]?.variant;
  const alts = [...new Set(run.scenarios.map((s) => s.variant))].filter((v) => v !== asIs);
  out.push(
    "Split of create→complete per task (server timestamps): lane wait = created → dispatched to a lane (replayed from created/completed times: the agent's backlog is FIFO and a completion frees a lane); " +
      "queue wait = dispatched → started (message in the local queue until its batch is delivered); run = started → completed (consumer: beginAttempt, noop, completeTask). " +
      "A batch smaller than max_batch_size is one the broker flushed on the max_batch_timeout timer.",
  );
  for (const s of run.scenarios) {
    const b = s.baseline.summary;
    const p = s.product.summary;
    const share = (v) => `${fmt((100 * v) / Math.max(1e-9, p.laneWaitMean + p.queueWaitMean + p.runMean), 0)}%`;
    const cpu = (x) =>
      `${fmt(serverCpu(x), 2)} ms (runtime workerd ${fmt(x.workerd_runtime, 2)}, proxy workerd ${fmt(x.workerd_proxy, 2)}, wrangler node ${fmt(x.wrangler_node, 2)})`;
    out.push(
      `${scenarioName(s)}: product ${fmt(p.tasksPerS)} vs baseline ${fmt(b.tasksPerS)} tasks/s (${ratio(s.ratios.tasksPerS)}). ` +
        `Wall time = creating all tasks + draining after the last create: product ${fmt(p.wallMs, 0)} = ${fmt(p.createPhaseMs, 0)} + ${fmt(p.drainMs, 0)} ms, ` +
        `baseline ${fmt(b.wallMs, 0)} = ${fmt(b.createPhaseMs, 0)} + ${fmt(b.drainMs, 0)} ms (creates at ${fmt(p.createRps, 0)} vs ${fmt(b.createRps, 0)} req/s; ` +
        `server CPU per task ${cpu(p.cpuMsPerTask)} vs ${cpu(b.cpuMsPerTask)}, on ${run.meta.cpus} CPUs shared with the clients). Product mean per task: lane wait ${fmt(p.laneWaitMean, 0)} ms (${share(p.laneWaitMean)}), ` +
        `queue wait ${fmt(p.queueWaitMean, 0)} ms (${share(p.queueWaitMean)}), run ${fmt(p.runMean, 0)} ms (${share(p.runMean)}); baseline queue wait ${fmt(b.queueWaitMean, 0)} ms, run ${fmt(b.runMean, 0)} ms. ` +
        `Batches: product ${fmt(p.batches, 0)} (${fmt(p.timerFlushed, 0)} timer-flushed, mean ${fmt(p.batchMeanSize, 1)} msgs), baseline ${fmt(b.batches, 0)} (${fmt(b.timerFlushed, 0)} timer-flushed, mean ${fmt(b.batchMeanSize, 1)} msgs). ` +
        `At most ${fmt(p.maxRunning, 0)} product tasks ran at once (baseline ${fmt(b.maxRunning, 0)}).`,
    );
  }
  const solo = find(asIs, "solo");
  if (solo) {
    const p = solo.product.summary;
    out.push(
      `1 instance: one lane runs one task at a time, so every task's message is alone in the queue and waits for the batch timer (${solo.consumer.max_batch_timeout} s): ` +
        `${fmt(p.tasksPerS, 2)} tasks/s ≈ 1 ÷ (timeout + run ${fmt(p.runMean, 0)} ms + dispatch). That is the lane design (TASK_CONCURRENCY_PER_INSTANCE=${run.meta.taskConcurrencyPerInstance}), not the pipeline's throughput; no target applies.`,
    );
  }
  for (const alt of alts) {
    for (const key of ["lanes", "solo"]) {
      const a = find(asIs, key);
      const b = find(alt, key);
      if (!a || !b) continue;
      out.push(
        `${a.label}, max_batch_timeout ${a.consumer.max_batch_timeout} s → ${b.consumer.max_batch_timeout} s: product ${fmt(a.product.summary.tasksPerS)} → ${fmt(b.product.summary.tasksPerS)} tasks/s, ` +
          `p50 ${fmt(a.product.summary.p50, 0)} → ${fmt(b.product.summary.p50, 0)} ms, p95 ${fmt(a.product.summary.p95, 0)} → ${fmt(b.product.summary.p95, 0)} ms, queue wait mean ${fmt(a.product.summary.queueWaitMean, 0)} → ${fmt(b.product.summary.queueWaitMean, 0)} ms; ` +
          `baseline ${fmt(a.baseline.summary.tasksPerS)} → ${fmt(b.baseline.summary.tasksPerS)} tasks/s, p50 ${fmt(a.baseline.summary.p50, 0)} → ${fmt(b.baseline.summary.p50, 0)} ms; ratio ${ratio(a.ratios.tasksPerS)} → ${ratio(b.ratios.tasksPerS)}.`,
      );
    }
  }
  out.push(
    "Local queue semantics (miniflare's broker, wrangler dev): a batch is delivered at once when max_batch_size messages are waiting, otherwise when max_batch_timeout expires; " +
      "with a timeout of 0 every message is delivered at once, but only one batch is in flight at a time. On Cloudflare the consumer's concurrency scales out; read these as the local pipeline.",
  );
  return out;
}

export function renderTasksText(run) {
  const m = run.meta;
  const out = [
    `\nTask pipeline — product ÷ baseline (noop tasks created over HTTP by ${run.config.concurrency} clients, run through the local Queue; median of rounds)`,
    `${m.workerd.version}, wrangler ${m.wrangler}, Node ${m.node}, ${m.cpus} CPUs, stores on ${m.stores}, product commit ${m.git.commit}${m.git.dirty ? "+changes" : ""}, ` +
      `consumer ${JSON.stringify(m.consumer)}, MAX_INSTANCES ${m.maxInstances}, TASK_CONCURRENCY_PER_INSTANCE ${m.taskConcurrencyPerInstance}; lanes: ${m.laneMode ?? "–"}; ` +
      `load avg ${fmt(m.loadAverage1m.start, 2)} → ${fmt(m.loadAverage1m.end, 2)}\n`,
    textTable(mainRows(run)),
    "\nper round (tasks/s baseline / product):",
    ...run.scenarios.map(
      (s) =>
        `  ${padEnd(scenarioName(s), 40)} ${s.baseline.rounds.map((r, i) => `${fmt(r.tasksPerS)} / ${fmt(s.product.rounds[i].tasksPerS)}`).join(";  ")}  (paired median ${ratio(s.ratios.pairedTasksPerS)})`,
    ),
    "\nWhere a task's time goes (ms; medians of rounds):",
    textTable(breakdownRows(run)),
    `\nVerdict: ${run.verdict}`,
    ...run.findings.map((f) => `  • ${f}`),
    ...run.warnings.map((w) => `  ! ${w}`),
  ];
  return out.join("\n");
}

export function tasksMarkdown(run) {
  const m = run.meta;
  const md = [
    `# Task pipeline benchmark — ${m.date}`,
    "",
    `Product (\`POST /api/v2/agents/{id}/tasks\` with \`task_type: "noop"\`, JWT, rate limit off, queue \`agent-tasks\`) against the bare baseline ` +
      `(\`bench/baseline/\`: POST → one Durable Object row + one queue message; the consumer writes completed_at; queue \`baseline-tasks\` with the same consumer settings), ` +
      `both on ${m.server ?? "`wrangler dev --local`"}, the same workerd (${m.workerd.version}), alternating sides round by round. Tasks created by ${run.config.concurrency} keep-alive clients; ` +
      `tasks/s = tasks ÷ wall time from the first create to the poll (every ${run.config.pollMs} ms) that saw all completed; latency = server created_at → completed_at. ` +
      `${m.cpus} CPUs, stores on ${m.stores}. Commit ${m.git.commit}${m.git.dirty ? " with uncommitted changes to the product" : ""}. ` +
      `Consumer settings of wrangler.toml: ${JSON.stringify(m.consumer)}. MAX_INSTANCES ${m.maxInstances}, TASK_CONCURRENCY_PER_INSTANCE ${m.taskConcurrencyPerInstance}. Lanes: ${m.laneMode ?? "–"}.`,
    "",
    mdTable(mainRows(run)),
    "",
    `Verdict: ${run.verdict}`,
    "",
    "## Where a task's time goes",
    "",
    mdTable(breakdownRows(run)),
    "",
    ...run.findings.map((f) => `- ${f}`),
    "",
    `Full numbers (every round, batch sizes, CPU per process), kept on the machine that ran it (git-ignored): \`${m.resultsFile}\`. Warnings: ${run.warnings.length ? run.warnings.join("; ") : "none"}.`,
    "",
  ];
  return md.join("\n");
}
