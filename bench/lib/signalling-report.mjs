// The printed tables, findings and markdown summary of the signalling relay benchmark.
import { fmt, mdTable, padEnd, profileTable, ratio, textTable } from "./report.mjs";
import { serverCpu } from "./stages.mjs";

const pct = (v) => (Number.isFinite(v) ? `${(v * 100).toFixed(0)}%` : "–");

function mainRows(run) {
  const rows = [
    [
      "scenario",
      "baseline msgs/s",
      "p50 ms",
      "p99 ms",
      "product msgs/s",
      "p50 ms",
      "p99 ms",
      "msgs/s ratio",
      "p50 ratio",
      "p99 ratio",
      "paired msgs/s ratio",
      "server CPU/msg ratio (b ÷ p)",
    ],
  ];
  for (const s of run.scenarios) {
    const b = s.baseline.summary;
    const p = s.product.summary;
    rows.push([
      s.label,
      fmt(b.msgsPerS, 0),
      fmt(b.p50, 3),
      fmt(b.p99, 3),
      fmt(p.msgsPerS, 0),
      fmt(p.p50, 3),
      fmt(p.p99, 3),
      ratio(s.ratios.msgsPerS),
      ratio(s.ratios.p50),
      ratio(s.ratios.p99),
      ratio(s.ratios.pairedMsgsPerS),
      ratio(s.ratios.serverCpu),
    ]);
  }
  return rows;
}

function cpuCell(c) {
  return `${fmt(serverCpu(c), 3)} (${fmt(c.workerd_runtime, 3)}/${fmt(c.workerd_proxy, 3)}/${fmt(c.wrangler_node, 3)})`;
}

function cpuRows(run) {
  const rows = [["scenario · side", "server CPU ms/msg (runtime/proxy/wrangler)", "client CPU ms/msg"]];
  for (const s of run.scenarios) {
    for (const side of ["baseline", "product"]) {
      const c = s[side].summary.cpuMsPerMessage;
      rows.push([`${s.label} · ${side}`, cpuCell(c), fmt(c.loadgen, 3)]);
    }
  }
  return rows;
}

function stageRows(run) {
  const rows = [
    ["stage (window " + run.config.window + ", interleaved)", "msgs/s", "p50 ms", "server CPU ms/msg (runtime/proxy/wrangler)"],
  ];
  for (const st of run.stages)
    rows.push([st.label, fmt(st.summary.msgsPerS, 0), fmt(st.summary.p50, 3), cpuCell(st.summary.cpuMsPerMessage)]);
  return rows;
}

/** What the product does per relayed frame, from reading the code (the numbers below say what it costs). */
export const PRODUCT_PER_FRAME =
  "Per `ice`/`offer`/`answer` frame the product's CallSessionDO.webSocketMessage → Signalling.message (durable-objects/call-session/signalling.ts) does: " +
  "ws.deserializeAttachment() (participant id), JSON.parse, the `from` check, ClientMessage.safeParse (zod discriminated union of 8 frame types; `ice` has a 4-field candidate object; src/calls/messages.ts), " +
  "getWebSockets(to).filter(readyState) for the peer, a spread to stamp `from`, and one JSON.stringify for all the peer's sockets. No storage read or write and no log line per frame " +
  "(an open socket already means its participant is in the call: leaving, removal and the end of the call close it). " +
  "The baseline relay (bench/baseline/index.ts BaselineRelayDO) sends the received string to the room's other socket.";

export function signallingFindings(run) {
  const out = [];
  const thr = run.scenarios.find((s) => s.window > 1);
  const seq = run.scenarios.find((s) => s.window === 1);
  out.push(
    "Everything runs on this machine's CPUs (clients, and per side wrangler's node + proxy workerd + runtime workerd; every frame crosses the proxy workerd both ways), " +
      "so msgs/s with a window of frames in flight follows server CPU per message; the sequential latency is the one-way send → arrival time through both workerd processes.",
  );
  for (const s of [thr, seq].filter(Boolean)) {
    const b = s.baseline.summary.cpuMsPerMessage;
    const p = s.product.summary.cpuMsPerMessage;
    out.push(
      `${s.label}: product ${fmt(s.product.summary.msgsPerS, 0)} vs baseline ${fmt(s.baseline.summary.msgsPerS, 0)} msgs/s (${ratio(s.ratios.msgsPerS)}), p50 ${fmt(s.product.summary.p50, 3)} vs ${fmt(s.baseline.summary.p50, 3)} ms, ` +
        `p99 ${fmt(s.product.summary.p99, 3)} vs ${fmt(s.baseline.summary.p99, 3)} ms; server CPU per message ${fmt(serverCpu(p), 3)} vs ${fmt(serverCpu(b), 3)} ms ` +
        `(runtime workerd ${fmt(p.workerd_runtime, 3)} vs ${fmt(b.workerd_runtime, 3)}, proxy workerd ${fmt(p.workerd_proxy, 3)} vs ${fmt(b.workerd_proxy, 3)}, wrangler node ${fmt(p.wrangler_node, 3)} vs ${fmt(b.wrangler_node, 3)}).`,
    );
  }
  const st = Object.fromEntries(run.stages.map((x) => [x.id, x.summary]));
  if (st.relay && st.product) {
    const rt = (x) => x?.cpuMsPerMessage.workerd_runtime;
    const gap = rt(st.product) - rt(st.relay);
    const parts = [
      ["JSON.parse + stamp `from` + route by `to` + JSON.stringify (baseline json stage − relay)", rt(st.json) - rt(st.relay)],
      ["one SQLite read of the sender's row (json-sql − json)", rt(st["json-sql"]) - rt(st.json)],
      [
        "the rest of the product (zod safeParse, renderParticipant, readyState filter, …) (product − json-sql)",
        rt(st.product) - rt(st["json-sql"]),
      ],
    ];
    out.push(
      `Runtime workerd CPU per message, stage windows: relay ${fmt(rt(st.relay), 3)} → json ${fmt(rt(st.json), 3)} → json-sql ${fmt(rt(st["json-sql"]), 3)} → product ${fmt(rt(st.product), 3)} ms ` +
        `(gap ${fmt(gap, 3)} ms: ${parts.map(([k, v]) => `${k} ${fmt(v, 3)} ms${gap > 0 ? ` (${pct(v / gap)})` : ""}`).join("; ")}). ` +
        "CPU ticks are 10 ms and the machine is shared, so read small differences as noise.",
    );
  }
  const prof = run.profiles?.product;
  if (prof) {
    const cats = Object.entries(prof.categories)
      .slice(0, 6)
      .map(
        ([k, v]) =>
          `${k} ${pct(v.share)}${run.profiles.baseline?.categories[k] ? ` (baseline ${pct(run.profiles.baseline.categories[k].share)})` : ""}`,
      );
    out.push(
      `Isolate profile during a window-${run.config.window} relay (V8 sampling, shares of busy samples): ${cats.join(", ")}; sampled ${fmt(prof.busySampledMsPerRequest, 3)} ms per message ` +
        `vs baseline ${fmt(run.profiles.baseline?.busySampledMsPerRequest, 3)} ms. Top product functions: ${prof.topFunctions
          .slice(0, 6)
          .map((t) => `${t.function} ${pct(t.share)}`)
          .join("; ")}.`,
    );
    const share = (re) => prof.topFunctions.filter((t) => re.test(t.function)).reduce((n, t) => n + t.share, 0);
    const sqlShare = share(/^(exec|toArray) \[native/);
    const zodShare = prof.categories.zod?.share ?? 0;
    out.push(
      `Per frame, the product's isolate spends ${pct(sqlShare)} of its busy samples in SQLite (native sql.exec + cursor toArray; relayed frames read none, so this is other frames' work) ` +
        `and ${pct(zodShare)} in zod (ClientMessage.safeParse); the baseline relay has neither. Sampled isolate time per message ${fmt(prof.busySampledMsPerRequest, 3)} vs ${fmt(run.profiles.baseline?.busySampledMsPerRequest, 3)} ms ` +
        "(the rest of the runtime workerd's CPU per message, outside this isolate (socket I/O, workerd itself), is common to both sides).",
    );
  }
  out.push(PRODUCT_PER_FRAME);
  return out;
}

export function renderSignallingText(run) {
  const m = run.meta;
  const out = [
    `\nSignalling relay — product ÷ baseline (A → B ice frames through one Durable Object; median of ${run.config.rounds} interleaved round(s) × ${run.config.durationMs / 1000} s per side and scenario)`,
    `${m.workerd.version}, wrangler ${m.wrangler}, Node ${m.node}, ${m.cpus} CPUs, stores on ${m.stores}, product commit ${m.git.commit}${m.git.dirty ? "+changes" : ""}, frame ${m.frameBytes} bytes, ` +
      `load avg ${fmt(m.loadAverage1m.start, 2)} → ${fmt(m.loadAverage1m.end, 2)}\n`,
    textTable(mainRows(run)),
    "\nmsgs/s per round (baseline / product):",
    ...run.scenarios.map(
      (s) =>
        `  ${padEnd(s.label, 34)} ${s.baseline.rounds.map((r, i) => `${fmt(r.msgsPerS, 0)} / ${fmt(s.product.rounds[i].msgsPerS, 0)}`).join(";  ")}`,
    ),
    "\nCPU per message by process (median of rounds):",
    textTable(cpuRows(run)),
    `\nStages (${run.config.stageRounds} interleaved rounds × ${run.config.stageDurationMs / 1000} s; json and json-sql are diagnostic baseline modes, never the baseline's numbers):`,
    textTable(stageRows(run)),
  ];
  if (run.profiles?.product)
    out.push(
      `\n${profileTable(`relay, window ${run.config.window} (per message, not per request)`, run.profiles.baseline, run.profiles.product)}`,
    );
  out.push("");
  for (const f of run.findings) out.push(`  • ${f}`);
  for (const w of run.warnings) out.push(`  ! ${w}`);
  return out.join("\n");
}

export function signallingMarkdown(run) {
  const m = run.meta;
  const md = [
    `# Signalling relay benchmark — ${m.date}`,
    "",
    "Product: a call created over HTTP (role-developer JWT, rate limit off), two participants, both sockets on `GET /api/v2/calls/{id}/ws?token=` (join tokens), `roster` awaited; " +
      "A sends `ice` frames `to` B, B measures arrival (sequence number inside the candidate string, one clock). " +
      "Baseline (`bench/baseline/`, BaselineRelayDO): a bare Durable Object with two hibernatable WebSockets that sends each text frame as it is to the other socket (no pure echo). " +
      `Both on ${m.server ?? "`wrangler dev --local`"}, the same workerd (${m.workerd.version}), alternating sides round by round: ${run.config.rounds} rounds × ${run.config.durationMs / 1000} s per side and scenario; ` +
      `“window ${run.config.window}” keeps ${run.config.window} frames in flight (throughput; its latency includes queueing), “sequential” sends the next frame when B has the previous one (latency). ` +
      `Frame ${m.frameBytes} bytes. ${m.cpus} CPUs shared with the clients and with other work. Medians of rounds. Commit ${m.git.commit}${m.git.dirty ? " with uncommitted changes to the product" : ""}. No target is set (issue #5).`,
    "",
    mdTable(mainRows(run)),
    "",
    "## Where the product's time goes",
    "",
    mdTable(cpuRows(run)),
    "",
    mdTable(stageRows(run)),
    "",
    ...run.findings.map((f) => `- ${f}`),
    "",
    `Full numbers (every round, CPU per process, profiles), kept on the machine that ran it (git-ignored): \`${m.resultsFile}\`. Warnings: ${run.warnings.length ? run.warnings.join("; ") : "none"}.`,
    "",
  ];
  return md.join("\n");
}
