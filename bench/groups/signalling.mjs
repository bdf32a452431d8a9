// The signalling group (`npm run bench -- --only signalling`): two WebSocket clients on one call
// (lib/signalling.mjs): A sends `ice` frames `to` B through the product's CallSessionDO, against a
// bare Durable Object WebSocket relay in the baseline; msgs/s with a window of frames in flight,
// sequential send→arrival p50/p99, CPU per message, stage windows and an isolate profile. Writes
// bench/results/runs/signalling-<date>.json and bench/results/latest-signalling.md.
import os from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { mintDevToken } from "../../scripts/lib/dev-token.mjs";
import { checkedCompatibilityDate, loadAtStart, log } from "../lib/harness.mjs";
import { connectInspector, moduleMaps, profileDuring, summarizeProfile } from "../lib/profile.mjs";
import { median } from "../lib/report.mjs";
import { groupCpu, logSize, reloadedSince, waitReady } from "../lib/servers.mjs";
import { checkRelay, closePair, connectBaseline, connectProduct, iceFrame, relayWindow } from "../lib/signalling.mjs";
import { renderSignallingText, signallingFindings, signallingMarkdown } from "../lib/signalling-report.mjs";
import { serverCpu } from "../lib/stages.mjs";

/**
 * Runs the signalling group on `harness` (bench/lib/harness.mjs) with `cfg` (bench/run.mjs's
 * signallingConfig) and `settleMs` (the pause between two measured windows).
 */
export async function runSignallingGroup(harness, cfg, { settleMs }) {
  const { servers, startServers, stopServers, runMeta } = harness;
  const startedAt = new Date();
  const warnings = [];
  const compatDate = checkedCompatibilityDate();
  const loadBefore = loadAtStart(warnings);
  log("\nSignalling: starting both servers…");
  const { product, baseline, jwtSecret, workerdBinary } = await startServers({ tag: "signalling" });
  const logOffsets = { product: logSize(product), baseline: logSize(baseline) };
  // Creating a call and adding participants needs calls:write (role developer).
  const token = await mintDevToken(jwtSecret, { sub: "bench", role: "developer" }, { ttl: "2h" });
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
        warnings.push(
          `${label}: wrangler reloaded ${reloaded.join(" and ")} (a source file changed) and the relay broke (${err.message}); sockets reopened, step run again`,
        );
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
    log(
      `Checked: each side relays an ice frame A → B unchanged (product: call ${pairs.product.callId}, from stamped; baseline: room ${room}).`,
    );

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
      await sleep(settleMs);
      return r;
    }
    const summarize = (rounds) => ({
      msgsPerS: median(rounds.map((r) => r.msgsPerS)),
      msgsPerSMin: Math.min(...rounds.map((r) => r.msgsPerS)),
      msgsPerSMax: Math.max(...rounds.map((r) => r.msgsPerS)),
      p50: median(rounds.map((r) => r.p50)),
      p99: median(rounds.map((r) => r.p99)),
      messages: rounds.reduce((n, r) => n + r.received, 0),
      cpuMsPerMessage: Object.fromEntries(
        Object.keys(rounds[0].cpuMsPerMessage).map((role) => [role, median(rounds.map((r) => r.cpuMsPerMessage[role]))]),
      ),
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
              const { result, profile } = await profileDuring(
                cdp,
                () => measure(side, { window: cfg.window, durationMs: cfg.profileDurationMs, warmupMs: 300 }),
                cfg.profileIntervalUs,
              );
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
          for (const sc of plan)
            out[sc.id][side] = await measure(side, {
              window: sc.window,
              durationMs: cfg.durationMs,
              warmupMs: r === 0 ? cfg.warmupMs * 2 : cfg.warmupMs,
            });
        }
        return out;
      });
      for (const sc of plan) for (const side of ["baseline", "product"]) rounds[sc.id][side].push(round[sc.id][side]);
      log(
        `  round ${r + 1}/${cfg.rounds}: ${plan.map((sc) => `${sc.label}: baseline ${rounds[sc.id].baseline[r].msgsPerS.toFixed(0)}, product ${rounds[sc.id].product[r].msgsPerS.toFixed(0)} msgs/s`).join("; ")}`,
      );
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
        for (const spec of relayStages)
          out.push(await measure(spec.key, { window: cfg.window, durationMs: cfg.stageDurationMs, warmupMs: 200 }));
        return out;
      });
      round.forEach((x, i) => stageRounds[i].push(x));
    }
    const stages = relayStages.map((spec, i) => ({
      id: spec.id,
      label: spec.label,
      summary: summarize(stageRounds[i]),
      rounds: stageRounds[i],
    }));

    const reloaded = servers.filter((s) => reloadedSince(s, logOffsets[s.name])).map((s) => s.name);
    if (reloaded.length)
      warnings.push(`wrangler reloaded ${reloaded.join(" and ")} during the run (a source file changed): numbers may mix two builds`);
    const metaCommon = runMeta({ group: "signalling", startedAt, workerdBinary, compatDate, loadBefore, loadAfter: os.loadavg()[0] });
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
    harness.saveRun("signalling", run, signallingMarkdown(run));
  } finally {
    for (const pair of Object.values(pairs)) closePair(pair);
    await stopServers();
  }
}
