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
// Every run's full JSON (timestamped) goes here, git-ignored; only the latest-*.md summaries are committed.
const RUNS_DIR = "bench/results/runs";

export const log = (line = "") => process.stdout.write(`${line}\n`);

export function compatibilityDate(file) {
  const m = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(readFileSync(file, "utf8"));
  if (!m) throw new Error(`${file} has no compatibility_date`);
  return m[1];
}

/** wrangler.toml's compatibility_date, after checking that the baseline uses the same one. */
export function checkedCompatibilityDate() {
  const compatDate = compatibilityDate("wrangler.toml");
  if (compatibilityDate("bench/baseline/wrangler.toml") !== compatDate)
    throw new Error("bench/baseline/wrangler.toml must use the compatibility_date of wrangler.toml");
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

    async stopServers() {
      await Promise.all(servers.map((s) => stopGroup(s)));
      servers.length = 0;
    },

    async cleanup() {
      await harness.stopServers();
      if (tempDir && !harness.keepTemp) rmSync(tempDir, { recursive: true, force: true });
      rmSync(SCRATCH_DIR, { recursive: true, force: true });
    },

    /** Starts product and baseline; `tag` names this pair's stores and logs (one pair per config). */
    async startServers({ productConfig = "wrangler.toml", baselineConfig = "bench/baseline/wrangler.toml", tag = "state" } = {}) {
      tempDir ??= mkdtempSync(path.join(storeRoot, "dmsa-bench-"));
      const taken = [];
      const pickPort = async () => {
        const port = await freePort(taken);
        taken.push(port);
        return port;
      };
      const jwtSecret = randomBytes(32).toString("base64url");
      // An env file replaces .dev.vars, so the run never reads a developer's secrets. ADMIN_API_KEY
      // is set as `npm run dev` sets it: checking for it is part of every request's auth cost.
      const envFile = path.join(tempDir, `product-${tag}.env`);
      const adminApiKey = `dmsa_bench_${randomBytes(18).toString("base64url")}`;
      writeFileSync(envFile, `JWT_SECRET="${jwtSecret}"\nADMIN_API_KEY="${adminApiKey}"\n`, { mode: 0o600 });
      const productState = path.join(tempDir, `product-state-${tag}`);

      log(`Applying D1 migrations to a temporary store (${tempDir})…`);
      applyMigrations(productState, { config: productConfig });
      const product = startWranglerDev({
        name: "product",
        port: await pickPort(),
        inspectorPort: inspector ? await pickPort() : null,
        args: [
          "-c",
          productConfig,
          "--persist-to",
          productState,
          "--env-file",
          envFile,
          "--var",
          "RATE_LIMIT:off",
          ...productVars.flatMap((v) => ["--var", v]),
        ],
        logPath: path.join(tempDir, `product-${tag}.log`),
      });
      servers.push(product);
      const baseline = startWranglerDev({
        name: "baseline",
        port: await pickPort(),
        inspectorPort: inspector ? await pickPort() : null,
        args: ["-c", baselineConfig, "--persist-to", path.join(tempDir, `baseline-state-${tag}`)],
        logPath: path.join(tempDir, `baseline-${tag}.log`),
      });
      servers.push(baseline);
      log(
        `Starting product (:${product.port}) and baseline (:${baseline.port}) with wrangler's local dev server (workerd), ${inspector ? "inspector attached" : "no inspector"}…`,
      );
      const t0 = Date.now();
      let health;
      await Promise.all([
        // /health shows its checks (rate_limit among them) only to a valid credential.
        waitReady(product, "/health", (res, text) => res.status === 200 && (health = JSON.parse(text)) !== undefined, {
          "x-api-key": adminApiKey,
        }),
        waitReady(baseline, "/", (res) => res.status === 200),
      ]);
      if (!/disabled/.test(health.checks?.rate_limit?.detail ?? ""))
        throw new Error(`product rate limiting is not off: ${JSON.stringify(health.checks?.rate_limit)}`);
      log(`Both ready after ${((Date.now() - t0) / 1000).toFixed(1)} s.`);
      const bin = runtimeBinary(product);
      if (!bin || bin !== runtimeBinary(baseline))
        throw new Error(`not the same workerd: product ${bin}, baseline ${runtimeBinary(baseline)}`);
      return { product, baseline, jwtSecret, storeRoot, workerdBinary: bin };
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

    /**
     * Writes the run's full JSON (run.meta.resultsFile) and `bench/results/latest-<group><variant>.md`.
     * A run with --product-var or --inspector writes its own summary (e.g. latest-state-log-warn.md),
     * so it never replaces the default one.
     */
    saveRun(group, run, markdown) {
      const resultsFile = run.meta.resultsFile;
      mkdirSync(RUNS_DIR, { recursive: true });
      writeFileSync(resultsFile, `${JSON.stringify(run, null, 2)}\n`);
      const vars = productVars
        .map(
          (v) =>
            `-${v
              .replace(/_LEVEL/, "")
              .replace(/[^A-Za-z0-9]+/g, "-")
              .toLowerCase()}`,
        )
        .join("");
      const summary = `bench/results/latest-${group}${vars}${inspector ? "-inspector" : ""}.md`;
      writeFileSync(summary, markdown);
      log(`\nWrote ${resultsFile} and ${summary}`);
    },
  };
  return harness;
}
