// Plain-language findings derived from a run's numbers: for every scenario that misses its
// target, where the product's extra time goes. Nothing here is hard-coded about the product's
// code except where a measured stage points (file names are given so the reader can look).
import { serverCpu } from "./stages.mjs";

const f = (v, d = 3) => (Number.isFinite(v) ? v.toFixed(d) : "–");
const pct = (v) => `${(v * 100).toFixed(0)}%`;

function cpuSentence(s) {
  const b = s.baseline.summary.cpuMsPerRequest;
  const p = s.product.summary.cpuMsPerRequest;
  return (
    `server CPU ${f(serverCpu(p))} vs ${f(serverCpu(b))} ms/req ` +
    `(runtime workerd ${f(p.workerd_runtime)} vs ${f(b.workerd_runtime)}, proxy workerd ${f(p.workerd_proxy)} vs ${f(b.workerd_proxy)}, ` +
    `wrangler node ${f(p.wrangler_node)} vs ${f(b.wrangler_node)})`
  );
}

function profileSentence(op, profile) {
  if (!profile?.product) return null;
  const p = profile.product;
  const b = profile.baseline;
  const cats = Object.entries(p.categories)
    .slice(0, 5)
    .map(([k, v]) => `${k} ${pct(v.share)}${b?.categories[k] ? ` (baseline ${pct(b.categories[k].share)})` : ""}`);
  const fns = p.topFunctions.slice(0, 5).map((t) => `${t.function} ${pct(t.share)}`);
  return `${op} profile of the product's isolate: ${cats.join(", ")}. Top functions: ${fns.join("; ")}.`;
}

const AGAINST = { baseline: "the baseline's req/s", sdk: "the Agents SDK peer's req/s", oneAgent: "the product's own save, 1 agent" };

/** "0.71× the baseline's req/s (target ≥ 0.75×)" for each missed check of a scenario. */
const missedChecks = (s) =>
  s.checks
    .filter((c) => !c.met)
    .map((c) => `${f(c.value, 2)}× ${AGAINST[c.against]} (target ≥ ${c.min}×)`)
    .join(", ");

export function deriveFindings({ scenarios, stages, budget, profiles, agents }) {
  const findings = [];
  const missed = scenarios.filter((s) => s.checks.some((c) => !c.met));
  if (missed.length === 0) return findings;
  findings.push(
    "The machine is CPU-bound during every window (load generator, and per server wrangler + a proxy workerd + a runtime workerd, on 2 cores), " +
      "so req/s follows server CPU per request: the gap is read in CPU ms per request.",
  );
  for (const s of missed) findings.push(`${s.label}: ${missedChecks(s)}; ${cpuSentence(s)}.`);
  if (missed.some((s) => s.op === "save") && budget) {
    const parts = budget.parts.map((part) => `${part.stage}: ${f(part.ms)} ms${budget.gap > 0 ? ` (${pct(part.ms / budget.gap)})` : ""}`);
    findings.push(`Save gap, ${agents} agents (${f(budget.gap)} ms/req): ${parts.join("; ")}.`);
    const logged = stages.find((x) => x.id === "baselineSaveLogged");
    const bare = stages.find((x) => x.id === "baselineSave");
    if (logged && bare) {
      const d = (role) => logged.summary.cpuMsPerRequest[role] - bare.summary.cpuMsPerRequest[role];
      findings.push(
        `The log line: src/state/service.ts saveState logs "state.saved" (src/lib/log.ts, console.log) on every save; under wrangler dev one such line costs ` +
          `${f(d("workerd_runtime"))} ms in the runtime, ${f(d("workerd_proxy"))} ms in the proxy workerd and ${f(d("wrangler_node"))} ms in wrangler's node process per request ` +
          "(under wrangler dev each line goes to wrangler's node process as a structured log on workerd's stdout and, as a DevTools Runtime.consoleAPICalled event, " +
          "to wrangler's InspectorProxyWorker in the proxy workerd, which keeps it while no DevTools is attached). In production it goes to Workers Logs instead; " +
          "most of this part is a local-dev cost, the runtime share is not.",
      );
    }
    findings.push(
      "The versioned-write part is AgentDO.saveState (durable-objects/agent.ts with agent/state-store.ts: history row, meta upsert, pruning, sync marker, backstop timer) " +
        "plus the derived KV/D1 sync it starts after every save (durable-objects/agent/derived-sync.ts); the baseline does one upsert. " +
        "Locally the KV put and D1 upsert run in miniflare's simulators inside the same runtime workerd, so they are on this machine's CPU bill.",
    );
  }
  const many = scenarios.filter((s) => s.op === "save" && s.agents > 1).at(-1);
  const one = scenarios.find((s) => s.op === "save" && s.agents === 1);
  if (many && one && missed.some((s) => s.op === "save")) {
    const rt = (s, side) => s[side].summary.cpuMsPerRequest.workerd_runtime;
    findings.push(
      `Runtime workerd CPU per save, ${many.agents} agents vs 1 agent: product ${f(rt(many, "product"))} vs ${f(rt(one, "product"))} ms, baseline ${f(rt(many, "baseline"))} vs ${f(rt(one, "baseline"))} ms. ` +
        "Work that shrinks when saves pile up on one agent is work that coalesces per agent: the derived KV/D1 sync (one copy per burst, derived-sync.ts run()).",
    );
  }
  for (const op of ["save", "load"]) {
    if (missed.some((s) => s.op === op)) {
      const sentence = profileSentence(`${op}, ${agents} agents`, profiles[op]);
      if (sentence) findings.push(sentence);
    }
  }
  return findings;
}

export function noiseWarnings(scenarios, sides = ["baseline", "product"]) {
  const warnings = [];
  for (const s of scenarios) {
    for (const side of sides) {
      const { rpsMin, rpsMax } = s[side].summary;
      if (rpsMax / rpsMin > 1.3)
        warnings.push(`${s.label} ${side}: rounds vary ${rpsMin.toFixed(0)}–${rpsMax.toFixed(0)} req/s (noisy machine)`);
    }
  }
  return warnings;
}

const SHORT = { baseline: "baseline", sdk: "SDK", oneAgent: "1 agent" };

export function verdictOf(scenarios) {
  const all = scenarios.flatMap((s) => s.checks.map((c) => ({ s, c })));
  const list = (xs) => xs.map(({ s, c }) => `${s.label} ÷ ${SHORT[c.against]} ${f(c.value, 2)}× (≥ ${c.min}×)`).join("; ") || "none";
  const missed = all.filter((x) => !x.c.met);
  return missed.length ? `target missed for ${list(missed)}. Met: ${list(all.filter((x) => x.c.met))}` : `all targets met: ${list(all)}`;
}
