// The state group's printed report and its Markdown summary (bench/results/latest-state.md):
// throughput against the baseline and the Agents SDK peer, operations per save and their cost,
// growth, and a reference run's figures beside this run's when bench/results/state-reference.json
// exists.
import { budgetTable, cpuTable, fmt, mdTable, profileTable, ratio, stageTable, textTable } from "./report.mjs";

const SIDE_LABEL = { baseline: "baseline", product: "product", sdk: "Agents SDK" };
const sidesOf = (run) => ["baseline", "product", "sdk"].filter((side) => run.scenarios[0]?.[side]);
const money = (v) => (Number.isFinite(v) ? `$${v < 0.1 ? v.toFixed(3) : v.toFixed(2)}` : "–");
const num = (v, d = 3) => (Number.isFinite(v) ? (v === 0 ? "0" : v.toFixed(d)) : "–");

function checkCell(s) {
  return s.checks
    .map((c) => `${{ baseline: "B", sdk: "SDK", oneAgent: "1ag" }[c.against]} ≥${c.min} ${c.met ? "met" : "MISSED"}`)
    .join(", ");
}

function throughputRows(run) {
  const sides = sidesOf(run);
  const head = [
    "scenario",
    "per agent/s",
    ...sides.flatMap((side) => [`${SIDE_LABEL[side]} req/s`, "p50 ms", "p99 ms"]),
    "product ÷ baseline",
    ...(sides.includes("sdk") ? ["product ÷ SDK", "SDK ÷ baseline"] : []),
    "product ÷ own 1-agent save",
    "targets",
  ];
  const rows = run.scenarios.map((s) => {
    const one = s.checks.find((c) => c.against === "oneAgent");
    return [
      s.label,
      fmt(s.perAgentPerSecond, s.perAgentPerSecond < 10 ? 2 : 0),
      ...sides.flatMap((side) => [fmt(s[side].summary.rps), fmt(s[side].summary.p50, 2), fmt(s[side].summary.p99, 2)]),
      ratio(s.ratios.rps),
      ...(sides.includes("sdk") ? [ratio(s.ratios.sdkRps), ratio(s.ratios.sdkVsBaseline)] : []),
      one ? ratio(one.value) : "",
      checkCell(s),
    ];
  });
  return [head, ...rows];
}

const OPS_COLUMNS = [
  ["do_requests", "DO requests"],
  ["do_rows_written", "DO rows written"],
  ["do_rows_read", "DO rows read"],
  ["kv_writes", "KV writes"],
  ["kv_reads", "KV reads"],
  ["d1_rows_written", "D1 rows written"],
  ["d1_rows_read", "D1 rows read"],
];

function opsRows(rows) {
  const head = ["per save", "saves/agent/s", ...OPS_COLUMNS.map(([, l]) => l), "$ per million saves"];
  return [
    head,
    ...rows.map((r) => [r.label, fmt(r.savesPerAgentPerSecond, 2), ...OPS_COLUMNS.map(([k]) => num(r.ops[k])), money(r.cost.total)]),
  ];
}

/** Reference (e.g. before a change) beside this run, matched by scenario label. */
function comparedOpsRows(run) {
  const ref = run.reference?.ops;
  if (!ref) return null;
  const head = ["per save", "DO requests (ref → now)", "DO rows written", "KV writes", "D1 rows written", "$ per million saves"];
  const pair = (a, b, d = 3) => `${num(a, d)} → ${num(b, d)}`;
  const rows = run.ops.rows.map((r) => {
    const old = ref.find((x) => x.label === r.label);
    if (!old)
      return [
        r.label,
        ...["do_requests", "do_rows_written", "kv_writes", "d1_rows_written"].map((k) => `– → ${num(r.ops[k])}`),
        `– → ${money(r.cost.total)}`,
      ];
    return [
      r.label,
      ...["do_requests", "do_rows_written", "kv_writes", "d1_rows_written"].map((k) => pair(old.ops[k], r.ops[k])),
      `${money(old.cost.total)} → ${money(r.cost.total)}`,
    ];
  });
  return [head, ...rows];
}

function comparedThroughputRows(run) {
  const ref = run.reference?.scenarios;
  if (!ref) return null;
  const head = ["scenario", "product req/s (ref → now)", "product ÷ baseline", "product ÷ SDK", "product ÷ own 1-agent save"];
  const pair = (a, b, f) => `${f(a)} → ${f(b)}`;
  const rows = run.scenarios.map((s) => {
    const old = ref.find((x) => x.id === s.id) ?? { ratios: {} };
    const one = s.checks.find((c) => c.against === "oneAgent")?.value;
    return [
      s.label,
      pair(old.productRps, s.product.summary.rps, (v) => fmt(v, 0)),
      pair(old.ratios.rps, s.ratios.rps, ratio),
      pair(old.ratios.sdkRps, s.ratios.sdkRps, ratio),
      one === undefined ? "" : pair(old.ratios.oneAgent, one, ratio),
    ];
  });
  return [head, ...rows];
}

function costRows(run) {
  const keys = Object.keys(run.prices.items).filter((k) => run.ops.rows.some((r) => r.cost.items.some((i) => i.key === k)));
  const head = ["$ per million saves", ...run.ops.rows.map((r) => r.label)];
  const rows = keys.map((k) => [
    `${run.prices.items[k].label} ($${run.prices.items[k].price_per_million} / M)`,
    ...run.ops.rows.map((r) => money(r.cost.items.find((i) => i.key === k)?.dollars ?? 0)),
  ]);
  rows.push(["total", ...run.ops.rows.map((r) => money(r.cost.total))]);
  return [head, ...rows];
}

function growthRows(growth) {
  const h = growth.history;
  const rows = [["growth", "p50 ms", "p99 ms", "vs new agent (p50)"]];
  for (const op of ["save", "load"]) {
    rows.push([`${op}, new agent`, fmt(h[op].fresh.p50, 2), fmt(h[op].fresh.p99, 2), ""]);
    rows.push([
      `${op}, ${h.versionBehind.toLocaleString("en-US")} versions behind`,
      fmt(h[op].old.p50, 2),
      fmt(h[op].old.p99, 2),
      ratio(h[op].p50Ratio),
    ]);
  }
  return rows;
}

function listRows(growth) {
  if (!growth.list) return null;
  const depths = growth.list[0].depths.map((d) => d.label);
  const head = [
    "agents in the index",
    ...depths.map((d) => `page ${d}, p50 ms`),
    "walk by next_cursor, p50 ms: first pass (cold) / second",
    "DO requests per page",
    "D1 rows read per page",
  ];
  return [
    head,
    ...growth.list.map((r) => [
      r.size.toLocaleString("en-US"),
      ...r.depths.map((d) => fmt(d.p50, 2)),
      r.walkColdP50 !== undefined ? `${fmt(r.walkColdP50, 2)} / ${fmt(r.walkP50, 2)} (${r.walkPages} pages)` : fmt(r.walkP50, 2),
      r.opsPerPage ? fmt(r.opsPerPage.do_requests, 1) : "–",
      r.opsPerPage ? fmt(r.opsPerPage.d1_rows_read, 0) : "–",
    ]),
  ];
}

function opsNote(run) {
  const o = run.ops;
  return (
    "Counted on the product run through the bench's counting wrapper (bench/ops/instrument.ts), each scenario on its own agents: " +
    `closed-loop windows of ${o.windowMs / 1000} s (${run.config.concurrency} clients, round-robin over the agents), the paced window ${o.pacedMs / 1000} s; ` +
    `the counters were read once quiet for ${o.quietMs / 1000} s with no alarm of these agents due within ${o.maxSettleMs / 1000} s, so copies and timers that trail the last save are included ` +
    '("deferred": alarms still set then, due later, not counted). ' +
    "DO requests = RPC calls on stubs + alarm invocations; DO rows written = SQLite cursor rowsWritten + setAlarm() calls (each billed as a row); " +
    "D1 rows = meta.rows_written / rows_read of every statement. Cost: marginal prices of bench/prices.json (taken " +
    `${[...new Set(Object.values(run.prices.items).map((i) => i.taken))].join(", ")}), beyond the plan's included usage; ` +
    "not priced: Durable Objects duration, Workers CPU time, storage."
  );
}

/** The whole printed report of a run. */
export function renderText(run) {
  const { config, meta, scenarios, stages, profiles } = run;
  const sides = sidesOf(run);
  const out = [
    `\nState save/load — product against the baseline${sides.includes("sdk") ? ` and the Agents SDK peer (agents ${meta.agentsSdk})` : ""} ` +
      `(median of ${config.rounds} rotated round(s) × ${config.durationMs / 1000} s, ${config.concurrency} clients, ${meta.payloadBytes}-byte body)`,
    `${meta.workerd.version} (${meta.workerd.binary}), wrangler ${meta.wrangler}, Node ${meta.node}, ${meta.cpus} CPUs, stores on ${meta.stores}, ` +
      `product commit ${meta.product.commit}${meta.product.dirty ? "+changes" : ""}${config.productConfig !== "wrangler.toml" ? ` (${config.productConfig})` : ""}${config.productVars.length ? ` with --var ${config.productVars.join(" ")}` : ""}, ` +
      `load avg ${fmt(meta.loadAverage1m.start, 2)} → ${fmt(meta.loadAverage1m.end, 2)}\n`,
  ];
  if (scenarios.length)
    out.push(
      textTable(throughputRows(run)),
      "\nreq/s per round:",
      ...scenarios.map(
        (s) =>
          `  ${s.label}: ${sides.map((side) => `${side} ${s[side].rounds.map((r) => fmt(r.rps, 0)).join(" / ")}`).join(";  ")}; ` +
          `product ÷ baseline per round median ${ratio(s.ratios.pairedRps)}${s.ratios.sdkPairedRps ? `, product ÷ SDK ${ratio(s.ratios.sdkPairedRps)}` : ""}; server-CPU ratio ${ratio(s.ratios.serverCpu)}`,
      ),
      "\nCPU ms per request by process (median of rounds):",
      cpuTable(
        scenarios.flatMap((s) =>
          sides.map((side) => ({ label: `${s.label} · ${SIDE_LABEL[side]}`, cpu: s[side].summary.cpuMsPerRequest })),
        ),
      ),
      `\nStages of the save path (${run.stageAgents} agents; median of ${config.stageRounds} interleaved × ${config.stageDurationMs / 1000} s):`,
      stageTable(stages),
      `\nSave gap split by stage (server CPU per request, from the stage windows):\n${budgetTable(run.saveBudget)}`,
    );
  for (const op of ["save", "load"])
    if (profiles[op]?.product) out.push(`\n${profileTable(op, profiles[op].baseline, profiles[op].product)}`);
  if (run.ops) {
    out.push("\nOperations per save (counted):", textTable(opsRows(run.ops.rows)));
    const cmp = comparedOpsRows(run);
    if (cmp) out.push(`\nAgainst the reference run (${run.reference.label}, ${run.reference.commit}):`, textTable(cmp));
    out.push("\nCost of a million saves:", textTable(costRows(run)), opsNote(run));
  }
  if (run.growth) {
    out.push(`\nGrowth (one request at a time, ${run.growth.history.samples} samples each):`, textTable(growthRows(run.growth)));
    const lr = listRows(run.growth);
    out.push(
      lr
        ? `\nAgents list, pages of ${run.growth.pageLimit} by cursor:\n${textTable(lr)}`
        : `\nAgents list: not measured (${run.growth.listError}).`,
    );
  }
  const cmpT = comparedThroughputRows(run);
  if (cmpT) out.push(`\nThroughput against the reference run (${run.reference.label}, ${run.reference.commit}):`, textTable(cmpT));
  out.push(`\nVerdict: ${run.verdict}`);
  for (const x of run.findings) out.push(`  • ${x}`);
  for (const w of run.warnings) out.push(`  ! ${w}`);
  return out.join("\n");
}

export function markdownSummary(run, extra = {}) {
  const { meta, config } = run;
  const sides = sidesOf(run);
  const md = [`# State save/load benchmark — ${meta.date}`, ""];
  md.push(
    `Product (\`POST/GET /api/v2/agents/{id}/state\`, JWT, rate limit off${config.productVars.length ? `, --var ${config.productVars.join(" ")}` : ""}) against the bare baseline ` +
      `(\`bench/baseline/\`: Hono → DO RPC → one SQLite statement)${sides.includes("sdk") ? ` and the Agents SDK peer (\`bench/agents-sdk/\`: Hono → \`getAgentByName\` → \`Agent.setState\`, agents ${meta.agentsSdk})` : ""}, ` +
      `all on ${meta.server}, the same workerd (${meta.workerd.version}), measured in turn: ${config.rounds} rounds × ${config.durationMs / 1000} s per side and scenario, ` +
      `${config.concurrency} keep-alive clients, ${meta.cpus} CPUs shared with the load generator. Medians of rounds. Stores on ${meta.stores}. ` +
      `Product commit ${meta.product.commit}${meta.product.dirty ? " with uncommitted changes" : ""}${config.productConfig !== "wrangler.toml" ? ` (from \`${config.productConfig}\`)` : ""}. "per agent/s": the product's requests per agent per second in that window.`,
  );
  if (run.scenarios.length) {
    md.push("", mdTable(throughputRows(run)), "");
    md.push(
      `Cross-checks (less exposed to other load on the machine): median of per-round product ÷ baseline ${run.scenarios.map((s) => `${s.label} ${ratio(s.ratios.pairedRps)}`).join(", ")}` +
        `${sides.includes("sdk") ? `; product ÷ SDK ${run.scenarios.map((s) => `${s.label} ${ratio(s.ratios.sdkPairedRps)}`).join(", ")}` : ""}; ` +
        `baseline ÷ product server CPU per request ${run.scenarios.map((s) => `${s.label} ${ratio(s.ratios.serverCpu)}`).join(", ")}.`,
    );
    md.push("", `Verdict: ${run.verdict}`);
  }
  if (run.ops) {
    md.push("", "## Operations per save and cost", "", mdTable(opsRows(run.ops.rows)), "", opsNote(run));
    const cmp = comparedOpsRows(run);
    if (cmp)
      md.push(
        "",
        `### Against the reference run: ${run.reference.label}`,
        "",
        `Reference: commit ${run.reference.commit}, ${run.reference.date} (\`${run.reference.file}\`); now: commit ${meta.product.commit}${meta.product.dirty ? " with uncommitted changes" : ""}.`,
        "",
        mdTable(cmp),
      );
    md.push("", "### Cost of a million saves, by item", "", mdTable(costRows(run)));
  }
  if (run.growth) {
    md.push(
      "",
      "## Growth",
      "",
      `One request at a time, ${run.growth.history.samples} samples each, interleaved; the long history was written by ${run.growth.history.historySaves.toLocaleString("en-US")} saves (${fmt(run.growth.history.fillRps, 0)} saves/s, ${config.concurrency} clients).`,
      "",
      mdTable(growthRows(run.growth)),
    );
    const lr = listRows(run.growth);
    md.push(
      "",
      lr
        ? `Agents list (\`GET /api/v2/agents?limit=${run.growth.pageLimit}\`), by cursor, synthetic index rows seeded straight into the local D1 (bench/ops/instrument.ts):\n\n${mdTable(lr)}`
        : `Agents list: not measured (${run.growth.listError}).`,
    );
  }
  const cmpT = comparedThroughputRows(run);
  if (cmpT) md.push("", `## Throughput against the reference run: ${run.reference.label}`, "", mdTable(cmpT));
  if (run.findings.length) {
    md.push("", "## Where the product's time goes", "");
    if (extra.budget) md.push("```", extra.budget, "```", "");
    for (const f of run.findings) md.push(`- ${f}`);
  }
  md.push(
    "",
    `Full numbers (per round, CPU per process, every counter, profiles), kept on the machine that ran it (git-ignored): \`${meta.resultsFile}\`. Warnings: ${run.warnings.length ? run.warnings.join("; ") : "none"}.`,
    "",
  );
  return md.join("\n");
}
