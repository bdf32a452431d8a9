// Medians, ratios and the table helpers the groups' reports share (the state group's own report is
// bench/lib/state-report.mjs).

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

const ROLE_LABELS = {
  workerd_runtime: "runtime workerd",
  workerd_proxy: "proxy workerd",
  wrangler_node: "wrangler (node)",
  loadgen: "load gen",
};

export function cpuTable(rows) {
  const roles = Object.keys(ROLE_LABELS);
  const lines = [`${padEnd("", 38)} ${roles.map((r) => pad(ROLE_LABELS[r], 16)).join(" ")} ${pad("server total", 13)}`];
  for (const row of rows) {
    const c = row.cpu;
    const total = c.workerd_runtime + c.workerd_proxy + c.wrangler_node + (c.other ?? 0);
    lines.push(`${padEnd(row.label, 38)} ${roles.map((r) => pad(fmt(c[r], 3), 16)).join(" ")} ${pad(fmt(total, 3), 13)}`);
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
