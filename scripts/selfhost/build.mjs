// `npm run build:selfhost` (and `npm start` before it serves): everything the self-hosted server
// (start.mjs) runs, built once with the dev dependencies, so the server itself needs neither
// wrangler nor esbuild:
// - dist/client/: the static assets (scripts/build-client.mjs);
// - dist/selfhost/worker/: the Worker bundled by wrangler itself (the same bundling as
//   `npm run deploy`), entered through src/selfhost/entry.ts;
// - dist/selfhost/config.json: what the server needs from wrangler.toml, in the subset of keys
//   workerd's wrangler-config mode accepts (bindings it lacks, send_email, ratelimits and ai, are
//   left out; the entry fills in the rate limiter), plus the secret names and the rate limit;
// - dist/selfhost/migrations.json: migrations/*.sql split into statements by wrangler's own splitter.
// Runs offline: no Cloudflare account, no Request.cf download, no metrics.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { unstable_readConfig, unstable_splitSqlQuery } from "wrangler";
import { PROJECT_ROOT, nodeBinary, runWrangler, wranglerEnv } from "../lib/local-server.mjs";
import { SECRET_NAMES } from "./start-command.mjs";

const OUT = join(PROJECT_ROOT, "dist/selfhost");
const ENTRY = "src/selfhost/entry.ts";

/** The keys workerd's wrangler-config mode accepts (any other key is a hard error there). */
const WORKERD_KEYS = [
  "name",
  "compatibility_date",
  "compatibility_flags",
  "vars",
  "durable_objects",
  "migrations",
  "kv_namespaces",
  "queues",
  "d1_databases",
];

function buildClient() {
  const result = spawnSync(nodeBinary(), [join(PROJECT_ROOT, "scripts/build-client.mjs")], { cwd: PROJECT_ROOT, stdio: "inherit" });
  if (result.status !== 0) throw new Error("scripts/build-client.mjs failed");
}

function bundleWorker() {
  const outdir = join(OUT, "worker");
  rmSync(outdir, { recursive: true, force: true });
  runWrangler(["deploy", "--dry-run", "--outdir", outdir, ENTRY], { env: wranglerEnv() });
  const main = readdirSync(outdir).find((name) => name.endsWith(".js"));
  if (!main) throw new Error(`wrangler wrote no bundle into ${outdir}`);
  return `worker/${main}`;
}

/** @param {ReturnType<typeof unstable_readConfig>} config */
function migrations(config) {
  const db = config.d1_databases.find((d) => d.binding === "DB");
  const dir = join(PROJECT_ROOT, db?.migrations_dir ?? "migrations");
  return readdirSync(dir)
    .filter((name) => name.endsWith(".sql"))
    .sort()
    .map((name) => ({ name, statements: unstable_splitSqlQuery(readFileSync(join(dir, name), "utf8")) }));
}

/** @param {ReturnType<typeof unstable_readConfig>} config @param {string} main */
function runtimeConfig(config, main) {
  /** @type {Record<string, unknown>} */
  const worker = {};
  for (const key of WORKERD_KEYS) worker[key] = /** @type {Record<string, unknown>} */ (config)[key];
  // workerd keys its stores by binding; ids only name them, so give each a stable one.
  worker.kv_namespaces = config.kv_namespaces.map((kv) => ({ binding: kv.binding, id: kv.id ?? kv.binding }));
  worker.d1_databases = config.d1_databases.map((d1) => ({
    binding: d1.binding,
    database_name: d1.database_name,
    database_id: d1.database_id ?? d1.binding,
  }));
  const assets = config.assets;
  const limiter = config.ratelimits.find((r) => r.name === "RATE_LIMITER");
  return {
    worker: { ...worker, main, no_bundle: true },
    // The asset settings workerd's mode shares with wrangler (run_worker_first keeps API paths off the asset lookup).
    assets: assets
      ? {
          directory: relative(PROJECT_ROOT, resolve(PROJECT_ROOT, assets.directory ?? "dist/client")),
          binding: assets.binding,
          html_handling: assets.html_handling,
          not_found_handling: assets.not_found_handling,
          run_worker_first: assets.run_worker_first,
        }
      : undefined,
    varNames: Object.keys(config.vars),
    secretNames: SECRET_NAMES,
    rateLimit: limiter?.simple ? { limit: limiter.simple.limit, period: limiter.simple.period } : { limit: 600, period: 60 },
  };
}

const started = Date.now();
buildClient();
mkdirSync(OUT, { recursive: true });
const config = unstable_readConfig({ config: join(PROJECT_ROOT, "wrangler.toml") });
const main = bundleWorker();
writeFileSync(join(OUT, "config.json"), `${JSON.stringify(runtimeConfig(config, main), null, 2)}\n`);
writeFileSync(join(OUT, "migrations.json"), `${JSON.stringify(migrations(config))}\n`);
console.log(`self-hosted server built into ${relative(PROJECT_ROOT, OUT)}/ in ${((Date.now() - started) / 1000).toFixed(1)} s`);
