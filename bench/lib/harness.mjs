// What every benchmark group shares: the product/baseline pair of dev servers (started, tracked
// and stopped together), the temporary stores, the metadata every result records, and where the
// results are written. bench/run.mjs makes one harness per run and hands it to each group.
import { randomBytes } from "node:crypto";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { applyMigrations, freePort } from "../../scripts/lib/local-server.mjs";
import { runtimeBinary, startWranglerDev, stopGroup, waitReady } from "./servers.mjs";

/** The tasks group's scratch wrangler configs (git-ignored; removed by `cleanup`). */
export const SCRATCH_DIR = "bench/.scratch-tasks";
/** The Agents SDK peer Worker (bench/agents-sdk/), measured beside the product by the state group. */
export const SDK_CONFIG = "bench/agents-sdk/wrangler.toml";
// Every run's full JSON (timestamped) goes here, git-ignored; only the latest-*.md summaries are committed.
const RUNS_DIR = "bench/results/runs";

export const log = (line = "") => process.stdout.write(`${line}\n`);

export function compatibilityDate(file) {
  const m = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(readFileSync(file, "utf8"));
  if (!m) throw new Error(`${file} has no compatibility_date`);
  return m[1];
}

/** wrangler.toml's compatibility_date, after checking that the baseline and the SDK peer use the same one. */
export function checkedCompatibilityDate() {
  const compatDate = compatibilityDate("wrangler.toml");
  for (const peer of ["bench/baseline/wrangler.toml", SDK_CONFIG])
    if (compatibilityDate(peer) !== compatDate) throw new Error(`${peer} must use the compatibility_date of wrangler.toml`);
  return compatDate;
}

/** The 1-minute load average now; a warning in `warnings` when the machine is already busy. */
export function loadAtStart(warnings) {
  const loadBefore = os.loadavg()[0];
  if (loadBefore > 0.8)
    warnings.push(`machine already busy at start (1-min load average ${loadBefore.toFixed(2)} on ${os.cpus().length} CPUs)`);
  return loadBefore;
}

function gitInfo() {
  const git = (a) => spawnSync("git", a, { encoding: "utf8" }).stdout?.trim() ?? "";
  return {
    commit: git(["rev-parse", "--short", "HEAD"]) || "unknown",
    dirty: git(["status", "--porcelain", "--", "src", "durable-objects", "workers", "wrangler.toml"]).length > 0,
  };
}

/**
 * @param {{ root: string, inspector: boolean, productVars: string[], disk: boolean, keepTemp: boolean }} options
 *   `root` is the project folder (the working directory); `keepTemp` can be set later (e.g. after a failure).
 */
export function createHarness({ root, inspector, productVars, disk, keepTemp }) {
  const servers = [];
  let tempDir;

  // Stores live on tmpfs by default: this VM's disk makes every DO commit wait for an fsync,
  // which caps both sides on I/O instead of on the code under test. `--disk` measures that too.
  const storeRoot = !disk && existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir();

  /** How both sides run (recorded in every result; see bench/lib/dev-server.mjs). */
  const SERVER_SETUP = inspector
    ? "wrangler's local dev server (workerd) with the DevTools inspector attached, as under the `wrangler dev` CLI (--inspector)"
    : "wrangler's local dev server (workerd, the engine of `wrangler dev --local`) without the DevTools inspector";

  const harness = {
    servers,
    keepTemp,
    get tempDir() {
      return tempDir;
    },

    /** The run's temporary folder (stores, logs, scratch configs), created on first use. */
    ensureTempDir() {
      return (tempDir ??= mkdtempSync(path.join(storeRoot, "dmsa-bench-")));
    },

    async stopServers() {
      await Promise.all(servers.map((s) => stopGroup(s)));
      servers.length = 0;
    },

    async cleanup() {
      await harness.stopServers();
      if (tempDir && !harness.keepTemp) rmSync(tempDir, { recursive: true, force: true });
      rmSync(SCRATCH_DIR, { recursive: true, force: true });
    },

    /**
     * Starts product and baseline (and, with `sdk: true`, the Agents SDK peer of bench/agents-sdk/);
     * `tag` names this set's stores and logs (one set per config).
     */
    async startServers({
      productConfig = "wrangler.toml",
      baselineConfig = "bench/baseline/wrangler.toml",
      sdk = false,
      tag = "state",
    } = {}) {
      const t0 = Date.now();
      const taken = [];
      const baselinePort = await freePort(taken);
      taken.push(baselinePort);
      const sdkPort = sdk ? await freePort(taken) : null;
      if (sdkPort) taken.push(sdkPort);
      const productStart = harness.startProduct({ config: productConfig, tag, exclude: taken, announce: false });
      const baseline = startWranglerDev({
        name: "baseline",
        port: baselinePort,
        inspectorPort: inspector ? await freePort([...taken, baselinePort]) : null,
        args: ["-c", baselineConfig, "--persist-to", path.join(tempDir, `baseline-state-${tag}`)],
        logPath: path.join(tempDir, `baseline-${tag}.log`),
      });
      servers.push(baseline);
      const peer = sdkPort
        ? startWranglerDev({
            name: "sdk",
            port: sdkPort,
            inspectorPort: null,
            args: ["-c", SDK_CONFIG, "--persist-to", path.join(tempDir, `sdk-state-${tag}`)],
            logPath: path.join(tempDir, `sdk-${tag}.log`),
          })
        : null;
      if (peer) servers.push(peer);
      const { product, jwtSecret } = await productStart;
      log(
        `Starting product (:${product.port}), baseline (:${baseline.port})${peer ? ` and the Agents SDK peer (:${peer.port})` : ""} ` +
          `with wrangler's local dev server (workerd), ${inspector ? "inspector attached" : "no inspector"}…`,
      );
      await Promise.all([
        product.ready,
        waitReady(baseline, "/", (res) => res.status === 200),
        peer ? waitReady(peer, "/", (res) => res.status === 200) : null,
      ]);
      log(`All ready after ${((Date.now() - t0) / 1000).toFixed(1)} s.`);
      const bin = runtimeBinary(product);
      for (const other of [baseline, peer].filter(Boolean)) {
        if (!bin || bin !== runtimeBinary(other))
          throw new Error(`not the same workerd: product ${bin}, ${other.name} ${runtimeBinary(other)}`);
      }
      return { product, baseline, sdk: peer, jwtSecret, storeRoot, workerdBinary: bin };
    },

    /**
     * Starts one product dev server on `config` (D1 migrations applied to a fresh store first,
     * rate limiting off, secrets from a fresh env file; `vars`: extra `NAME:value` for this server only). Resolves when its process is spawned;
     * `product.ready` resolves when /health answers. `name` tells it apart in logs and CPU tables.
     */
    async startProduct({ config = "wrangler.toml", tag = "state", name = "product", exclude = [], announce = true, vars = [] }) {
      harness.ensureTempDir();
      const jwtSecret = randomBytes(32).toString("base64url");
      // An env file replaces .dev.vars, so the run never reads a developer's secrets. ADMIN_API_KEY
      // is set as `npm run dev` sets it: checking for it is part of every request's auth cost.
      const envFile = path.join(tempDir, `${name}-${tag}.env`);
      const adminApiKey = `dmsa_bench_${randomBytes(18).toString("base64url")}`;
      writeFileSync(envFile, `JWT_SECRET="${jwtSecret}"\nADMIN_API_KEY="${adminApiKey}"\n`, { mode: 0o600 });
      const productState = path.join(tempDir, `${name}-state-${tag}`);
      log(`Applying D1 migrations to a temporary store (${productState})…`);
      applyMigrations(productState, { config });
      const port = await freePort(exclude);
      const product = startWranglerDev({
        name,
        port,
        inspectorPort: inspector ? await freePort([...exclude, port]) : null,
        args: [
          "-c",
          config,
          "--persist-to",
          productState,
          "--env-file",
          envFile,
          "--var",
          "RATE_LIMIT:off",
          ...productVars.flatMap((v) => ["--var", v]),
          ...vars.flatMap((v) => ["--var", v]),
        ],
        logPath: path.join(tempDir, `${name}-${tag}.log`),
      });
      servers.push(product);
      if (announce) log(`Starting ${name} (:${product.port}) on ${config}…`);
      product.persistDir = productState;
      product.ready = (async () => {
        let health;
        // /health shows its checks (rate_limit among them) only to a valid credential.
        await waitReady(product, "/health", (res, text) => res.status === 200 && (health = JSON.parse(text)) !== undefined, {
          "x-api-key": adminApiKey,
        });
        if (!/disabled/.test(health.checks?.rate_limit?.detail ?? ""))
          throw new Error(`${name} rate limiting is not off: ${JSON.stringify(health.checks?.rate_limit)}`);
      })();
      return { product, jwtSecret };
    },

    /** Stops the given servers (and forgets them). */
    async stop(...which) {
      await Promise.all(which.filter(Boolean).map((s) => stopGroup(s)));
      for (const s of which) {
        const i = servers.indexOf(s);
        if (i >= 0) servers.splice(i, 1);
      }
    },

    /** What every result file records about the run: when, which build, which runtime, which machine. */
    runMeta({ group, startedAt, workerdBinary, workerdVersion, compatDate, loadBefore, loadAfter }) {
      return {
        date: startedAt.toISOString(),
        resultsFile: `${RUNS_DIR}/${group}-${startedAt
          .toISOString()
          .replace(/:/g, "-")
          .replace(/\.\d+Z$/, "Z")}.json`,
        git: gitInfo(),
        node: process.version,
        wrangler: JSON.parse(readFileSync("node_modules/wrangler/package.json", "utf8")).version,
        workerd: {
          version: workerdVersion ?? spawnSync(workerdBinary, ["--version"], { encoding: "utf8" }).stdout.trim(),
          binary: path.relative(root, workerdBinary),
        },
        compatibilityDate: compatDate,
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? "unknown",
        loadAverage1m: { start: loadBefore, end: loadAfter },
        stores: storeRoot === "/dev/shm" ? "tmpfs (/dev/shm)" : `disk (${storeRoot})`,
        server: SERVER_SETUP,
      };
    },

    /** `-log-warn`, `-inspector`, …: names a run's files after its --product-var and --inspector. */
    variantSuffix() {
      const vars = productVars
        .map(
          (v) =>
            `-${v
              .replace(/_LEVEL/, "")
              .replace(/[^A-Za-z0-9]+/g, "-")
              .toLowerCase()}`,
        )
        .join("");
      return `${vars}${inspector ? "-inspector" : ""}`;
    },

    /**
     * Writes the run's full JSON (run.meta.resultsFile) and `bench/results/latest-<group><variant>.md`.
     * A run with --product-var or --inspector writes its own summary (e.g. latest-state-log-warn.md),
     * so it never replaces the default one.
     */
    saveRun(group, run, markdown) {
      const resultsFile = run.meta.resultsFile;
      mkdirSync(RUNS_DIR, { recursive: true });
      writeFileSync(resultsFile, `${JSON.stringify(run, null, 2)}\n`);
      const summary = `bench/results/latest-${group}${harness.variantSuffix()}.md`;
      writeFileSync(summary, markdown);
      log(`\nWrote ${resultsFile} and ${summary}`);
    },
  };
  return harness;
}
