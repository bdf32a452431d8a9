// The self-hosted server (`npm start`, and the container's command): the same Worker as on
// Cloudflare, run by workerd in its wrangler-config mode, with every store on local disk under
// DATA_DIR. Built first by build.mjs (dist/selfhost/); needs no network, no Cloudflare account and
// neither wrangler nor esbuild.
// 1. Start-up pass: workerd on a private loopback port applies the D1 migrations through the
//    Worker (POST /__selfhost/migrate with a one-time token), then stops. A failed migration ends
//    the server with exit code 1 before the public port ever opens.
// 2. Serve: workerd on HOST:PORT. SIGTERM/SIGINT are passed on; workerd stops accepting, lets
//    in-flight requests finish and exits 0, and this process exits with its code.
// Vars: wrangler.toml's [vars], each overridden by an environment variable of the same name;
// secrets (start-command.mjs SECRET_NAMES) from the environment only; RUNTIME=selfhost always.
// workerd reads them from a config file in DATA_DIR/.runtime (mode 0600) that is deleted as soon
// as the server is ready. That file is workerd's binary config, compiled from a wrangler-style one
// and edited to open OUTBOUND_PRIVATE_NETWORKS (outbound-network.mjs).
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { connect, createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { outboundAllowList, withInternetService } from "./outbound-network.mjs";
import { RUNTIME_VAR, START_ENV } from "./start-command.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const BUILT = join(ROOT, "dist/selfhost");
const MIGRATE_PATH = "/__selfhost/migrate";
const started = Date.now();

/** @param {string} event @param {Record<string, unknown>} [fields] */
function log(event, fields = {}) {
  const level = event.endsWith("failed") ? "error" : "info";
  console.log(JSON.stringify({ time: new Date().toISOString(), level, event, ...fields }));
}

/** @param {string} message */
function fail(message) {
  log("selfhost.start_failed", { error: message });
  process.exit(1);
}

/** @param {string} name */
function readBuilt(name) {
  const path = join(BUILT, name);
  if (!existsSync(path)) fail(`${path} is missing: run \`npm run build:selfhost\` first (\`npm start\` does)`);
  return JSON.parse(readFileSync(path, "utf8"));
}

function workerdBinary() {
  const require = createRequire(join(ROOT, "package.json"));
  const { version } = require("workerd/package.json");
  const [, build = "0"] = String(version).split(".");
  // The wrangler-config mode has KV, D1, queues and assets from this build on.
  if (Number(build) < 20261117) fail(`workerd ${version} is too old for the self-hosted server (needs 1.20261117.1 or newer)`);
  return /** @type {string} */ (require("workerd").default);
}

const env = process.env;
const dataDir = resolve(env.DATA_DIR || START_ENV.DATA_DIR);
const port = Number(env.PORT || START_ENV.PORT);
const host = env.HOST || START_ENV.HOST;
/**
 * How long a stop waits for requests in flight. An open task event stream or call WebSocket is
 * one, and workerd would wait for it forever; after this the server is killed (committed data is
 * safe), below the 30 s a container runtime gives before it kills everything itself.
 */
const graceSeconds = Number(env.SHUTDOWN_GRACE_SECONDS || START_ENV.SHUTDOWN_GRACE_SECONDS);
if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`PORT must be a TCP port number, not "${env.PORT}"`);
if (!(graceSeconds > 0)) fail(`SHUTDOWN_GRACE_SECONDS must be a positive number, not "${env.SHUTDOWN_GRACE_SECONDS}"`);

/** @type {string[]} */
let outboundAllow = [];
try {
  outboundAllow = outboundAllowList(env.OUTBOUND_PRIVATE_NETWORKS);
} catch (err) {
  fail(/** @type {Error} */ (err).message);
}

const built = readBuilt("config.json");
const migrations = readBuilt("migrations.json");
const workerd = workerdBinary();

/** @type {Record<string, string>} */
const vars = { ...built.worker.vars };
for (const name of [...built.varNames, ...built.secretNames]) if (env[name] !== undefined) vars[name] = env[name];
// The Worker learns what it may reach from what the server opened (its /health judges servers by it).
Object.assign(vars, RUNTIME_VAR, {
  SELFHOST_RATE_LIMIT: JSON.stringify(built.rateLimit),
  OUTBOUND_PRIVATE_NETWORKS: outboundAllow.slice(1).join(","),
});

/** workerd's disk services (`<name>-<service>`, found in its compiled config) and their folders under DATA_DIR; they must exist before it starts. */
const storage = [
  ["do-storage", "do"],
  ["kv-storage", "kv"],
  ["kv-blobs", "kv/blobs"],
  ["queues-storage", "queues"],
  ["d1-storage", "d1"],
];
for (const dir of [...storage.map(([, dir]) => dir), ".runtime"]) mkdirSync(join(dataDir, dir ?? ""), { recursive: true, mode: 0o700 });

/** Config files holding secrets, removed when they are no longer needed and whenever this process exits. */
/** @type {Set<string>} */
const secretFiles = new Set();
process.on("exit", () => secretFiles.forEach((path) => rmSync(path, { force: true })));
/** @param {string} path */
function removeSecretFile(path) {
  rmSync(path, { force: true });
  secretFiles.delete(path);
}

/**
 * Writes what workerd serves as `DATA_DIR/.runtime/<name>.bin`: the wrangler-style config,
 * compiled into workerd's binary config with the "internet" network opened as
 * OUTBOUND_PRIVATE_NETWORKS says (outbound-network.mjs). Both files hold the secrets (mode 0600);
 * the JSON is deleted at once, the binary when its server is ready or done.
 * @param {string} name @param {Record<string, string>} extraVars @returns {Promise<string>} the binary's path
 */
async function writeConfig(name, extraVars) {
  const config = {
    ...built.worker,
    main: join(BUILT, built.worker.main),
    vars: { ...vars, ...extraVars },
    ...(built.assets ? { assets: { ...built.assets, directory: join(ROOT, built.assets.directory) } } : {}),
  };
  const jsonPath = join(dataDir, `.runtime/${name}.json`);
  const binaryPath = join(dataDir, `.runtime/${name}.bin`);
  secretFiles.add(jsonPath).add(binaryPath);
  writeFileSync(jsonPath, JSON.stringify(config), { mode: 0o600 });
  try {
    const { stdout } = await promisify(execFile)(workerd, ["compile", "--config-only", jsonPath], {
      encoding: "buffer",
      maxBuffer: 1 << 30,
    });
    writeFileSync(binaryPath, withInternetService(stdout, outboundAllow), { mode: 0o600 });
  } catch (err) {
    const { stderr, message } = /** @type {Error & { stderr?: Buffer }} */ (err);
    fail(`workerd could not compile the config: ${stderr?.toString().trim() || message}`);
  } finally {
    removeSecretFile(jsonPath);
  }
  return binaryPath;
}

/** @param {string} binaryPath @param {string} address host:port @returns {import("node:child_process").ChildProcess} */
function startWorkerd(binaryPath, address) {
  const dirs = storage.flatMap(([service, dir]) => ["-d", `${built.worker.name}-${service}=${join(dataDir, dir ?? "")}`]);
  return spawn(workerd, ["serve", "--binary", "--experimental", binaryPath, `--socket-addr=http=${address}`, ...dirs], {
    stdio: ["ignore", "inherit", "inherit"],
  });
}

/** @returns {Promise<number>} */
function freeLoopbackPort() {
  return new Promise((done, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => done(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** @param {import("node:child_process").ChildProcess} child @returns {Promise<number>} */
function exitOf(child) {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((done) => child.once("exit", (code, signal) => done(code ?? (signal ? 128 : 1))));
}

/** @param {number} probePort @param {() => boolean} alive @param {string} [probeHost] */
async function waitForPort(probePort, alive, probeHost = "127.0.0.1") {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && alive()) {
    const open = await new Promise((done) => {
      const socket = connect({ port: probePort, host: probeHost });
      socket.once("connect", () => (socket.destroy(), done(true)));
      socket.once("error", () => done(false));
    });
    if (open) return true;
    await sleep(25);
  }
  return false;
}

/** @type {import("node:child_process").ChildProcess | null} */
let current = null;
let stopping = false;
for (const signal of /** @type {const} */ (["SIGTERM", "SIGINT"])) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log("selfhost.stopping", { signal, grace_seconds: graceSeconds });
    const child = current;
    if (!child || child.exitCode !== null) process.exit(0);
    child.kill("SIGTERM");
    setTimeout(() => {
      if (child.exitCode !== null) return;
      log("selfhost.stop_forced", { reason: `requests still open after ${graceSeconds} s (event streams, WebSockets)` });
      child.kill("SIGKILL");
    }, graceSeconds * 1000).unref();
  });
}

/** @param {string} binaryPath @param {string} token */
async function migrate(binaryPath, token) {
  const probePort = await freeLoopbackPort();
  const child = (current = startWorkerd(binaryPath, `127.0.0.1:${probePort}`));
  const ended = exitOf(child);
  if (!(await waitForPort(probePort, () => child.exitCode === null)))
    fail(`the start-up pass did not open its port (workerd exit ${child.exitCode})`);
  /** @type {{ applied?: string[], error?: string }} */
  let body;
  try {
    const res = await fetch(`http://127.0.0.1:${probePort}${MIGRATE_PATH}`, { method: "POST", headers: { "x-migrate-token": token } });
    body = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
  } catch (err) {
    body = { error: String(/** @type {Error} */ (err).cause ?? err) };
  }
  child.kill("SIGTERM");
  await ended;
  removeSecretFile(binaryPath);
  if (stopping) process.exit(0);
  if (!body.applied) fail(`D1 migrations failed: ${body.error}`);
  log("selfhost.migrated", { applied: body.applied, total: migrations.length });
}

// Both configs compile at once (a quarter of a second each); the migration token never reaches the server's.
const token = randomBytes(24).toString("base64url");
const [migrateConfig, serveConfig] = await Promise.all([
  writeConfig("migrate", { SELFHOST_MIGRATE_TOKEN: token, SELFHOST_MIGRATIONS: JSON.stringify(migrations) }),
  writeConfig("serve", {}),
]);
await migrate(migrateConfig, token);
if (stopping) process.exit(0);
const server = (current = startWorkerd(serveConfig, `${host}:${port}`));
const serverExit = exitOf(server);
// A wildcard address is reached on loopback; a specific one only on itself.
const probeHost = ["0.0.0.0", "::", "[::]"].includes(host) ? "127.0.0.1" : host.replace(/^\[|\]$/g, "");
if (await waitForPort(port, () => server.exitCode === null, probeHost)) {
  removeSecretFile(serveConfig);
  log("selfhost.ready", { port, host, data_dir: dataDir, start_ms: Date.now() - started, pid: server.pid });
}
const code = await serverExit;
// A stop that had to kill the streams still open is a requested stop, not a failure.
const exitCode = stopping && server.signalCode === "SIGKILL" ? 0 : code;
log("selfhost.stopped", { exit_code: exitCode });
process.exit(exitCode);
