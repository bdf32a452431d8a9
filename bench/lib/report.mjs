// Medians, ratios and the printed/markdown tables of a benchmark run.

export function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Median over rounds of every per-round number (rps, p50, p99, CPU per request …). */
export function summarizeRounds(rounds) {
  const roles = Object.keys(rounds[0]?.cpuMsPerRequest ?? {});
  return {
    rps: median(rounds.map((r) => r.rps)),
    rpsMin: Math.min(...rounds.map((r) => r.rps)),
    rpsMax: Math.max(...rounds.map((r) => r.rps)),
    p50: median(rounds.map((r) => r.p50)),
    p99: median(rounds.map((r) => r.p99)),
    requests: rounds.reduce((n, r) => n + r.completed, 0),
    cpuMsPerRequest: Object.fromEntries(roles.map((role) => [role, median(rounds.map((r) => r.cpuMsPerRequest[role]))])),
  };
}

// Cell formatting and tables shared by every group's report.
export const fmt = (v, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : "–");
export const ratio = (v) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : "–");
export const pad = (s, n) => String(s).padStart(n);
export const padEnd = (s, n) => String(s).padEnd(n);

/** Rows (the first is the header) as an aligned text table: first column left, the rest right. */
export function textTable(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  const line = (r) => r.map((c, i) => (i === 0 ? padEnd(c, widths[i]) : pad(c, widths[i]))).join(" │ ");
  return [line(rows[0]), "─".repeat(line(rows[0]).length), ...rows.slice(1).map(line)].join("\n");
}

/** The same rows as a Markdown table (numbers right-aligned). */
export function mdTable(rows) {
  return [
    `| ${rows[0].join(" | ")} |`,
    `|${rows[0].map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`,
    ...rows.slice(1).map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}

export function mainTable(scenarios) {
  const lines = [];
  lines.push(
    `${padEnd("scenario", 16)} │ ${pad("baseline req/s", 14)} ${pad("p50 ms", 7)} ${pad("p99 ms", 7)} │ ${pad("product req/s", 13)} ${pad("p50 ms", 7)} ${pad("p99 ms", 7)} │ ${pad("req/s ratio", 11)} ${pad("p50 ratio", 9)} ${pad("p99 ratio", 9)} │ target`,
  );
  lines.push("─".repeat(lines[0].length + 8));
  for (const s of scenarios) {
    const b = s.baseline.summary;
    const p = s.product.summary;
    const verdict = s.target ? `≥${s.target.toFixed(2)}× ${s.ratios.rps >= s.target ? "met" : "MISSED"}` : "";
    lines.push(
      `${padEnd(s.label, 16)} │ ${pad(fmt(b.rps), 14)} ${pad(fmt(b.p50, 2), 7)} ${pad(fmt(b.p99, 2), 7)} │ ${pad(fmt(p.rps), 13)} ${pad(fmt(p.p50, 2), 7)} ${pad(fmt(p.p99, 2), 7)} │ ${pad(ratio(s.ratios.rps), 11)} ${pad(ratio(s.ratios.p50), 9)} ${pad(ratio(s.ratios.p99), 9)} │ ${verdict}`,
    );
  }
  return lines.join("\n");
}

export function spreadTable(scenarios) {
  return scenarios
    .map((s) => {
      const pairs = s.product.rounds.map((p, i) => ratio(p.rps / s.baseline.rounds[i].rps)).join(" ");
      return (
        `  ${padEnd(s.label, 16)} baseline ${s.baseline.rounds.map((r) => fmt(r.rps, 0)).join(" / ")};  product ${s.product.rounds.map((r) => fmt(r.rps, 0)).join(" / ")};  ` +
        `ratio per round ${pairs} (median ${ratio(s.ratios.pairedRps)}); server-CPU ratio ${ratio(s.ratios.serverCpu)}`
      );
    })
    .join("\n");
}

const ROLE_LABELS = {
  workerd_runtime: "runtime workerd",
  workerd_proxy: "proxy workerd",
  wrangler_node: "wrangler (node)",
  loadgen: "load gen",
};

export function cpuTable(rows) {
  const roles = Object.keys(ROLE_LABELS);
  const lines = [`${padEnd("", 30)} ${roles.map((r) => pad(ROLE_LABELS[r], 16)).join(" ")} ${pad("server total", 13)}`];
  for (const row of rows) {
    const c = row.cpu;
    const total = c.workerd_runtime + c.workerd_proxy + c.wrangler_node + (c.other ?? 0);
    lines.push(`${padEnd(row.label, 30)} ${roles.map((r) => pad(fmt(c[r], 3), 16)).join(" ")} ${pad(fmt(total, 3), 13)}`);
  }
  return lines.join("\n");
}

export function stageTable(stages) {
  const lines = [
    `${padEnd("", 68)} ${pad("req/s", 7)} ${pad("p50 ms", 7)} │ CPU ms/req: ${pad("runtime", 7)} ${pad("proxy", 6)} ${pad("wrangler", 8)} ${pad("server", 7)}`,
  ];
  for (const st of stages) {
    const c = st.summary.cpuMsPerRequest;
    const total = c.workerd_runtime + c.workerd_proxy + c.wrangler_node + (c.other ?? 0);
    lines.push(
      `${padEnd(st.label, 68)} ${pad(fmt(st.summary.rps), 7)} ${pad(fmt(st.summary.p50, 2), 7)} │ ${pad("", 11)} ${pad(fmt(c.workerd_runtime, 3), 7)} ${pad(fmt(c.workerd_proxy, 3), 6)} ${pad(fmt(c.wrangler_node, 3), 8)} ${pad(fmt(total, 3), 7)}`,
    );
  }
  return lines.join("\n");
}

export function budgetTable(budget) {
  const lines = [
    `  product save ${fmt(budget.productSave, 3)} ms − baseline save ${fmt(budget.baselineSave, 3)} ms = ${fmt(budget.gap, 3)} ms of server CPU per request, made of:`,
  ];
  for (const part of budget.parts) {
    const share = budget.gap > 0 ? `${pad(((part.ms / budget.gap) * 100).toFixed(0), 4)}%` : "";
    lines.push(`  ${pad(fmt(part.ms, 3), 8)} ms ${share}  ${part.stage}`);
  }
  return lines.join("\n");
}

const pct = (v) => (Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : "–");

export function profileTable(label, baseline, product) {
  const cats = new Set([...Object.keys(baseline?.categories ?? {}), ...Object.keys(product.categories)]);
  const lines = [
    `${label}: where the Worker's isolate spends its time (V8 sampling; shares of busy samples)`,
    `  ${padEnd("", 50)} ${pad("baseline", 9)} ${pad("product", 9)}`,
  ];
  const rows = [...cats]
    .map((c) => [c, baseline?.categories[c]?.share ?? 0, product.categories[c]?.share ?? 0])
    .sort((a, b) => b[2] - a[2]);
  for (const [c, b, p] of rows) {
    if (b < 0.002 && p < 0.002) continue;
    lines.push(`  ${padEnd(c, 50)} ${pad(pct(b), 9)} ${pad(pct(p), 9)}`);
  }
  lines.push(
    `  ${padEnd("sampled ms per request (wall clock, profiler on)", 50)} ${pad(fmt(baseline?.busySampledMsPerRequest, 2), 9)} ${pad(fmt(product.busySampledMsPerRequest, 2), 9)}`,
  );
  lines.push("  product's top functions (self time):");
  for (const f of product.topFunctions.slice(0, 10)) lines.push(`    ${pad(pct(f.share), 6)}  ${f.function}`);
  return lines.join("\n");
}

/** The whole printed report of a run. */
export function renderText(run) {
  const { config, meta, scenarios, stages, profiles } = run;
  const out = [
    `\nState save/load — product ÷ baseline (median of ${config.rounds} interleaved round(s) × ${config.durationMs / 1000} s, ${config.concurrency} clients, ${meta.payloadBytes}-byte body)`,
    `${meta.workerd.version} (${meta.workerd.binary}), wrangler ${meta.wrangler}, Node ${meta.node}, ${meta.cpus} CPUs, stores on ${meta.stores}, ` +
      `product commit ${meta.git.commit}${meta.git.dirty ? "+changes" : ""}${config.productVars.length ? ` with --var ${config.productVars.join(" ")}` : ""}, ` +
      `load avg ${fmt(meta.loadAverage1m.start, 2)} → ${fmt(meta.loadAverage1m.end, 2)}\n`,
    mainTable(scenarios),
    `\nreq/s per round:\n${spreadTable(scenarios)}`,
    "\nCPU ms per request by process (median of rounds):",
    cpuTable(
      scenarios.flatMap((s) => [
        { label: `${s.label} · baseline`, cpu: s.baseline.summary.cpuMsPerRequest },
        { label: `${s.label} · product`, cpu: s.product.summary.cpuMsPerRequest },
      ]),
    ),
    `\nStages of the save path (${config.agents} agents; median of ${config.stageRounds} interleaved × ${config.stageDurationMs / 1000} s):`,
    stageTable(stages),
    `\nSave gap, ${config.agents} agents, split by stage (server CPU per request, from the stage windows):\n${budgetTable(run.saveBudget)}`,
  ];
  for (const op of ["save", "load"])
    if (profiles[op]?.product) out.push(`\n${profileTable(`${op}, ${config.agents} agents`, profiles[op].baseline, profiles[op].product)}`);
  out.push(`\nVerdict: ${run.verdict}`);
  for (const x of run.findings) out.push(`  • ${x}`);
  for (const w of run.warnings) out.push(`  ! ${w}`);
  return out.join("\n");
}

export function markdownSummary(run, extra = {}) {
  const md = [];
  md.push(`# State save/load benchmark — ${run.meta.date}`);
  md.push("");
  md.push(
    `Product (\`POST/GET /api/v2/agents/{id}/state\`, JWT, rate limit off) against the bare baseline (\`bench/baseline/\`: Hono → DO RPC → one SQLite statement), ` +
      `both on ${run.meta.server ?? "`wrangler dev --local`"}, the same workerd (${run.meta.workerd.version}), measured alternately: ` +
      `${run.config.rounds} rounds × ${run.config.durationMs / 1000} s per side and scenario, ${run.config.concurrency} keep-alive clients, ` +
      `${run.meta.cpus} CPUs shared with the load generator. Medians of rounds. Stores on ${run.meta.stores}. Commit ${run.meta.git.commit}${run.meta.git.dirty ? " with uncommitted changes to the product" : ""}.`,
  );
  md.push("");
  md.push(
    "| scenario | baseline req/s | p50 ms | p99 ms | product req/s | p50 ms | p99 ms | req/s ratio | p50 ratio | p99 ratio | target |",
  );
  md.push("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
  for (const s of run.scenarios) {
    const b = s.baseline.summary;
    const p = s.product.summary;
    const verdict = s.target ? `≥ ${s.target}× ${s.ratios.rps >= s.target ? "met" : "**missed**"}` : "";
    md.push(
      `| ${s.label} | ${fmt(b.rps)} | ${fmt(b.p50, 2)} | ${fmt(b.p99, 2)} | ${fmt(p.rps)} | ${fmt(p.p50, 2)} | ${fmt(p.p99, 2)} | ${ratio(s.ratios.rps)} | ${ratio(s.ratios.p50)} | ${ratio(s.ratios.p99)} | ${verdict} |`,
    );
  }
  md.push("");
  md.push(
    `Cross-checks (less exposed to other load on the machine): median of per-round ratios ${run.scenarios.map((s) => `${s.label} ${ratio(s.ratios.pairedRps)}`).join(", ")}; ` +
      `baseline ÷ product server CPU per request ${run.scenarios.map((s) => `${s.label} ${ratio(s.ratios.serverCpu)}`).join(", ")}.`,
  );
  md.push("");
  md.push(`Verdict: ${run.verdict}`);
  if (run.findings.length) {
    md.push("");
    md.push("## Where the product's time goes");
    md.push("");
    if (extra.budget) md.push("```", extra.budget, "```", "");
    for (const f of run.findings) md.push(`- ${f}`);
  }
  md.push("");
  md.push(
    `Full numbers (per round, CPU per process, profiles), kept on the machine that ran it (git-ignored): \`${run.meta.resultsFile}\`. Warnings: ${run.warnings.length ? run.warnings.join("; ") : "none"}.`,
  );
  md.push("");
  return md.join("\n");
}
