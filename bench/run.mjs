// `npm run bench`: the product against the bare baseline Worker (bench/baseline/) (and, for state,
// the Agents SDK peer of bench/agents-sdk/), all on wrangler's local dev server (the engine of
// `wrangler dev --local`) on the same workerd binary, measured in turn in one run. The DevTools inspector that the `wrangler dev` CLI always
// attaches is off (it costs ~1.4 ms of CPU per console line; bench/lib/dev-server.mjs); with
// `--inspector` it is on, as under the CLI, and the isolate profiles are taken.
// This file parses the options and runs the groups; each group is a module in bench/groups/
// (state.mjs, tasks.mjs, signalling.mjs) on the shared harness of bench/lib/harness.mjs (the
// product/baseline server pair, run metadata, results files). See bench/README.md.
import path from "node:path";
import { parseArgs } from "node:util";
import { runSignallingGroup } from "./groups/signalling.mjs";
import { runStateGroup } from "./groups/state.mjs";
import { runTasksGroup } from "./groups/tasks.mjs";
import { runVoiceGroup } from "./groups/voice.mjs";
import { createHarness, log } from "./lib/harness.mjs";
import { logTail } from "./lib/servers.mjs";

const USAGE = `npm run bench [-- options]: the product ÷ a bare baseline Worker, on the same workerd.
Groups (--only state,tasks,signalling; default all three, ~12 min):
  state       versioned save and load against the baseline and the Agents SDK peer at 1, 64 and 1,000
              agents (5 rounds × 2 s per side and scenario), operations per save and their cost,
              growth with history and with the number of agents (~7 min; --quick ~2 min)
  tasks       noop tasks through the Queue: tasks/s, create→complete p50/p95 (~2.5 min)
  signalling  WebRTC signalling frames through the call's Durable Object: msgs/s, p50/p99 (~1.5 min)
  voice       (only with --only voice) the answering agent: end of an utterance → first byte of its audio
              at a page, minus the fake providers' fixed delays: overhead p50/p99 against ≤150/≤400 ms
              (~1.5 min; needs espeak-ng)
Each writes bench/results/runs/<group>-<date>.json (git-ignored) and bench/results/latest-<group>.md.

  npm run bench -- --quick            1 round × 1 s, short counting windows, no profile (smoke test)
  npm run bench -- --rounds 5 --duration 2000 --warmup 300 --concurrency 16
  npm run bench -- --only state --spreads 1,64,1000 --load-spreads 64,1 [--no-sdk]
  npm run bench -- --only state --ops-window 10000 --ops-paced 20000 --ops-quiet 2000 [--no-ops] [--no-throughput]
  npm run bench -- --only state --history 10000 --list-sizes 10000,100000 [--no-growth]
  npm run bench -- --only state --product-config /path/to/other/checkout/wrangler.toml
  npm run bench -- --only state --save-reference "before the change"   keep this run's figures to compare with
  npm run bench -- --no-profile --disk --keep-temp
  npm run bench -- --fail-on-miss     exit 2 when a target is missed (exit 1 = the run itself failed)
  npm run bench -- --product-var LOG_LEVEL:warn   an extra --var for the product (recorded)
  npm run bench -- --inspector        both sides with the DevTools inspector (as \`wrangler dev\`), with profiles
  npm run bench -- --only tasks --tasks 200 --tasks-solo 20 --tasks-rounds 5 --tasks-concurrency 16
  npm run bench -- --only tasks --batch-timeouts 0,1 --tasks-poll-ms 250
  npm run bench -- --only signalling --signalling-window 16 (frames in flight)
  npm run bench -- --only voice --voice-turns 60 --voice-stt-ms 100 --voice-llm-ms 200 --voice-tts-ms 150 [--voice-no-live]`;

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
process.chdir(ROOT);

const { values: args } = parseArgs({
  options: {
    help: { type: "boolean", short: "h", default: false },
    rounds: { type: "string", default: "5" },
    duration: { type: "string", default: "2000" },
    warmup: { type: "string", default: "300" },
    concurrency: { type: "string", default: "16" },
    spreads: { type: "string", default: "1,64,1000" },
    "load-spreads": { type: "string", default: "64,1" },
    "no-sdk": { type: "boolean", default: false },
    "no-ops": { type: "boolean", default: false },
    "no-throughput": { type: "boolean", default: false },
    "ops-window": { type: "string", default: "10000" },
    "ops-paced": { type: "string", default: "20000" },
    "ops-quiet": { type: "string", default: "2000" },
    "ops-max-settle": { type: "string", default: "40000" },
    "no-growth": { type: "boolean", default: false },
    history: { type: "string", default: "10000" },
    "list-sizes": { type: "string", default: "10000,100000" },
    "product-config": { type: "string", default: "wrangler.toml" },
    "save-reference": { type: "string", default: "" },
    quick: { type: "boolean", default: false },
    disk: { type: "boolean", default: false },
    "no-profile": { type: "boolean", default: false },
    "fail-on-miss": { type: "boolean", default: false },
    "keep-temp": { type: "boolean", default: false },
    "product-var": { type: "string", multiple: true, default: [] },
    inspector: { type: "boolean", default: false },
    only: { type: "string", default: "state,tasks,signalling" },
    tasks: { type: "string", default: "200" },
    "tasks-solo": { type: "string", default: "20" },
    "tasks-rounds": { type: "string", default: "5" },
    "tasks-concurrency": { type: "string", default: "16" },
    "tasks-poll-ms": { type: "string", default: "250" },
    "batch-timeouts": { type: "string", default: "" },
    "signalling-window": { type: "string", default: "16" },
    "voice-turns": { type: "string", default: "60" },
    "voice-stt-ms": { type: "string", default: "100" },
    "voice-llm-ms": { type: "string", default: "200" },
    "voice-tts-ms": { type: "string", default: "150" },
    "voice-no-live": { type: "boolean", default: false },
  },
});
if (args.help) {
  log(USAGE);
  process.exit(0);
}
const groups = args.only.split(",").map((g) => g.trim());
for (const g of groups)
  if (!["state", "tasks", "signalling", "voice"].includes(g))
    throw new Error(`--only expects a comma-separated list of state, tasks, signalling, voice; got ${g}`);
const int = (name, v, max) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`--${name} must be an integer in 1–${max}`);
  return n;
};
const intList = (name, v, max) => v.split(",").map((x) => int(name, x.trim(), max));
const config = {
  rounds: args.quick ? 1 : int("rounds", args.rounds, 20),
  durationMs: args.quick ? 1000 : int("duration", args.duration, 60_000),
  warmupMs: args.quick ? 300 : int("warmup", args.warmup, 10_000),
  concurrency: int("concurrency", args.concurrency, 256),
  // State: agents per save scenario and per load scenario (each agent saves about rps ÷ agents per second).
  spreads: intList("spreads", args.spreads, 100_000),
  loadSpreads: args.quick ? [64] : intList("load-spreads", args["load-spreads"], 100_000),
  sdk: !args["no-sdk"],
  productConfig: args["product-config"],
  saveReference: args["save-reference"],
  // Operations per save (bench/lib/ops.mjs): counting windows, and how long the counters must stay
  // still afterwards before they are read (copies trail the last save).
  ops: !args["no-ops"],
  // --no-throughput: only the operations and growth parts (no product/baseline/SDK windows).
  throughput: !args["no-throughput"],
  opsSpreads: intList("spreads", args.spreads, 100_000),
  opsPacedAgents: 64,
  // New agents whose first save is counted (default: as many as the largest spread).
  opsNewAgents: args.quick ? 200 : undefined,
  opsWindowMs: args.quick ? 3000 : int("ops-window", args["ops-window"], 600_000),
  opsPacedMs: args.quick ? 5000 : int("ops-paced", args["ops-paced"], 600_000),
  opsQuietMs: args.quick ? 1500 : int("ops-quiet", args["ops-quiet"], 600_000),
  opsMaxSettleMs: args.quick ? 6000 : int("ops-max-settle", args["ops-max-settle"], 600_000),
  // Growth (bench/lib/growth.mjs): saves behind one agent, and agents in the list index.
  growth: !args["no-growth"],
  historySaves: args.quick ? 500 : int("history", args.history, 1_000_000),
  historySamples: args.quick ? 60 : 200,
  listSizes: args.quick ? [1000, 10_000] : intList("list-sizes", args["list-sizes"], 10_000_000),
  pageSamples: args.quick ? 10 : 30,
  walkPages: args.quick ? 3 : 10,
  stageRounds: args.quick ? 1 : 3,
  stageDurationMs: args.quick ? 700 : 1200,
  // Profiles need the DevTools inspector, which is off unless --inspector (see bench/lib/dev-server.mjs).
  inspector: args.inspector,
  profile: args.inspector && !args.quick && !args["no-profile"],
  profileDurationMs: 1500,
  profileIntervalUs: 200,
  maxRequestsPerWindow: 200_000,
  productVars: args["product-var"].map((v) => {
    if (!/^[A-Z0-9_]+:.*$/.test(v)) throw new Error(`--product-var expects NAME:value, got ${v}`);
    return v;
  }),
  settleMs: 200,
};
const taskConfig = {
  tasks: int("tasks", args.tasks, 5000),
  // One lane runs one task per queue batch; at max_batch_timeout 1 s that is ~1 task/s, so the
  // 1-instance scenario uses fewer tasks to keep the run short (its tasks/s is a steady rate).
  soloTasks: args.quick ? 5 : int("tasks-solo", args["tasks-solo"], 5000),
  rounds: args.quick ? 1 : int("tasks-rounds", args["tasks-rounds"], 20),
  altRounds: args.quick ? 1 : 2,
  concurrency: int("tasks-concurrency", args["tasks-concurrency"], 256),
  pollMs: int("tasks-poll-ms", args["tasks-poll-ms"], 10_000),
  timeoutMs: 120_000,
  warmupTasks: 20,
  // Alternative max_batch_timeout values (seconds), each run on scratch copies of both configs.
  batchTimeouts:
    args["batch-timeouts"] === ""
      ? []
      : args["batch-timeouts"].split(",").map((v) => {
          const n = Number(v);
          if (!Number.isFinite(n) || n < 0 || n > 60) throw new Error(`--batch-timeouts expects seconds in 0–60, got ${v}`);
          return n;
        }),
};
const signallingConfig = {
  rounds: config.rounds,
  durationMs: config.durationMs,
  warmupMs: config.warmupMs,
  window: int("signalling-window", args["signalling-window"], 1024),
  stageRounds: config.stageRounds,
  stageDurationMs: config.stageDurationMs,
  profile: config.profile,
  profileDurationMs: config.profileDurationMs,
  profileIntervalUs: config.profileIntervalUs,
};

const voiceConfig = {
  turns: args.quick ? 10 : int("voice-turns", args["voice-turns"], 10_000),
  warmup: args.quick ? 2 : 5,
  sttMs: int("voice-stt-ms", args["voice-stt-ms"], 60_000),
  llmMs: int("voice-llm-ms", args["voice-llm-ms"], 60_000),
  ttsMs: int("voice-tts-ms", args["voice-tts-ms"], 60_000),
  live: !args["voice-no-live"],
};

const harness = createHarness({
  root: ROOT,
  inspector: config.inspector,
  productVars: config.productVars,
  disk: args.disk,
  keepTemp: args["keep-temp"],
});
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    log(`\n${signal}: stopping the servers…`);
    void harness.cleanup().finally(() => process.exit(130));
  });
}

let exitCode = 0;
try {
  let missed = 0;
  if (groups.includes("state")) missed += await runStateGroup(harness, config);
  if (groups.includes("tasks")) missed += await runTasksGroup(harness, taskConfig, { settleMs: config.settleMs });
  if (groups.includes("signalling")) await runSignallingGroup(harness, signallingConfig, { settleMs: config.settleMs });
  if (groups.includes("voice")) missed += await runVoiceGroup(harness, voiceConfig);
  if (missed && args["fail-on-miss"]) exitCode = 2;
} catch (err) {
  exitCode = 1;
  console.error(`\nbench failed: ${err.stack ?? err}`);
  for (const s of harness.servers) console.error(`\n--- ${s.name} log (tail) ---\n${logTail(s, 40)}`);
  if (harness.tempDir) console.error(`\n(temporary files kept in ${harness.tempDir})`);
  harness.keepTemp = true;
} finally {
  await harness.cleanup();
}
process.exit(exitCode);
