// Local dev servers, the way `npm run dev`, the benchmark (bench/) and the end-to-end tests
// (test/e2e/helpers/local-server.ts) start and stop them:
// - loopback ports in 21000–32000, below the range the OS hands out for outgoing connections;
// - wrangler run by Node ≥ 22.12 (the `node` devDependency when the caller's Node is older), with
//   an environment that never waits for the Request.cf download or sends metrics;
// - D1 migrations applied to the server's own --persist-to folder first;
// - servers spawned detached (their own process group), so stopping one signals wrangler,
//   esbuild and both workerd processes together, and waits until none of them is alive.
// Plain JavaScript with JSDoc types: node scripts import it as it is and TypeScript checks it.
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { connect, createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const WRANGLER_JS = join(PROJECT_ROOT, "node_modules/wrangler/bin/wrangler.js");
const HOST = "127.0.0.1";
const PORT_MIN = 21_000;
const PORT_MAX = 32_000;

/** Wrangler, esbuild and workerd need Node ≥ 22.12; the `node` devDependency provides it. */
export function nodeBinary() {
  const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
  if (major > 22 || (major === 22 && minor >= 12)) return process.execPath;
  return join(PROJECT_ROOT, "node_modules/node/bin/node");
}

/**
 * The environment for a wrangler process: Node 22 first on the PATH, no Request.cf download
 * (it cannot succeed offline and start-up would wait for it), no metrics, no colours.
 * Wrangler's debug log: into `logDir` when given; otherwise not written at all (wrangler would
 * append every line it prints, the Worker's log lines included, to ~/.config/.wrangler/logs, with
 * a mkdir, open, write and close per line).
 * @param {{ logDir?: string }} [options]
 * @returns {NodeJS.ProcessEnv}
 */
export function wranglerEnv({ logDir } = {}) {
  return {
    ...process.env,
    PATH: `${dirname(nodeBinary())}:${process.env.PATH ?? ""}`,
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    WRANGLER_SEND_METRICS: "false",
    ...(logDir ? { WRANGLER_LOG_PATH: logDir } : { WRANGLER_WRITE_LOGS: "false" }),
    NO_COLOR: "1",
    FORCE_COLOR: "0",
  };
}

/**
 * Runs a wrangler command to completion in the project folder; throws with its output when it fails.
 * @param {string[]} args
 * @param {{ env?: NodeJS.ProcessEnv, inherit?: boolean, timeoutMs?: number }} [options]
 *   `inherit`: the command prints to this terminal (as `npm run dev` wants) instead of being captured.
 * @returns {string} what it printed on stdout (empty with `inherit`)
 */
export function runWrangler(args, { env = wranglerEnv(), inherit = false, timeoutMs = 120_000 } = {}) {
  const result = spawnSync(nodeBinary(), [WRANGLER_JS, ...args], {
    cwd: PROJECT_ROOT,
    env,
    encoding: "utf8",
    timeout: timeoutMs,
    stdio: inherit ? "inherit" : "pipe",
  });
  if (result.status !== 0) {
    const output = inherit ? "(printed above)" : `\n${result.stdout}\n${result.stderr}`;
    throw new Error(`wrangler ${args.join(" ")} failed (${result.status ?? result.signal}): ${output}`);
  }
  return result.stdout ?? "";
}

/**
 * Applies the D1 migrations of `config` (default wrangler.toml) to `persistDir` (wrangler answers
 * its own prompt "yes" when not on a TTY; CI=1 makes sure).
 * @param {string} persistDir
 * @param {{ config?: string, env?: NodeJS.ProcessEnv, inherit?: boolean }} [options]
 */
export function applyMigrations(persistDir, { config, env = wranglerEnv(), inherit = false } = {}) {
  runWrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistDir, ...(config ? ["-c", config] : [])], {
    env: { ...env, CI: "1" },
    inherit,
  });
}

/** @param {number} port @returns {Promise<boolean>} whether a server can listen on 127.0.0.1:port now */
export function portIsFree(port) {
  return new Promise((done) => {
    const server = createServer();
    server.once("error", () => done(false));
    server.listen({ port, host: HOST, exclusive: true }, () => server.close(() => done(true)));
  });
}

/** @param {number} port @returns {Promise<boolean>} whether nothing accepts connections on 127.0.0.1:port */
export function portIsClosed(port) {
  return new Promise((done) => {
    const socket = connect({ port, host: HOST });
    socket.once("connect", () => {
      socket.destroy();
      done(false);
    });
    socket.once("error", () => done(true));
  });
}

/**
 * A port in 21000–32000 that is free now and not in `exclude`.
 * @param {Iterable<number>} [exclude]
 * @returns {Promise<number>}
 */
export async function freePort(exclude = []) {
  const excluded = new Set(exclude);
  for (let i = 0; i < 200; i++) {
    const port = PORT_MIN + Math.floor(Math.random() * (PORT_MAX - PORT_MIN + 1));
    if (!excluded.has(port) && (await portIsFree(port))) return port;
  }
  throw new Error(`no free port found in ${PORT_MIN}–${PORT_MAX}`);
}

/**
 * @typedef {object} GroupProcess
 * @property {number} pid
 * @property {string} comm  the executable's name (e.g. "workerd", "node")
 * @property {string} state one letter; "Z" (zombie) and "X" (dead) are no longer running
 * @property {number} ticks user + system CPU time so far, in clock ticks
 */

/**
 * The processes of a process group, read from /proc (Linux); null where there is no /proc.
 * @param {number} pgid
 * @returns {GroupProcess[] | null}
 */
export function groupProcesses(pgid) {
  let entries;
  try {
    entries = readdirSync("/proc");
  } catch {
    return null;
  }
  /** @type {GroupProcess[]} */
  const found = [];
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${name}/stat`, "utf8");
    } catch {
      continue; // The process ended while we looked.
    }
    // pid (comm) state ppid pgrp …; comm may contain spaces, so parse after the last ')'.
    const close = stat.lastIndexOf(")");
    const rest = stat.slice(close + 2).split(" ");
    if (Number(rest[2]) !== pgid) continue;
    found.push({
      pid: Number(name),
      comm: stat.slice(stat.indexOf("(") + 1, close),
      state: rest[0] ?? "",
      ticks: Number(rest[11]) + Number(rest[12]),
    });
  }
  return found;
}

/**
 * Live (non-zombie) members of a process group; null where there is no /proc.
 * @param {number} pgid
 * @returns {number[] | null}
 */
export function liveGroupMembers(pgid) {
  return (
    groupProcesses(pgid)
      ?.filter((p) => p.state !== "Z" && p.state !== "X")
      .map((p) => p.pid) ?? null
  );
}

/**
 * Sends `signal` to every process of the group (nothing if the group is already gone).
 * @param {number} pgid
 * @param {NodeJS.Signals} signal
 */
export function signalGroup(pgid, signal) {
  try {
    process.kill(-pgid, signal);
  } catch (err) {
    if (/** @type {NodeJS.ErrnoException} */ (err).code !== "ESRCH") throw err;
  }
}

/**
 * Signals the whole group and resolves once none of its processes is alive. A SIGTERM not obeyed
 * within `graceMs` becomes a SIGKILL; processes alive `killMs` after a SIGKILL are an error.
 * Where there is no /proc, `gone()` decides (e.g. the server's port is closed).
 * @param {number} pgid
 * @param {{ signal?: "SIGTERM" | "SIGKILL", graceMs?: number, killMs?: number, gone?: () => Promise<boolean> }} [options]
 * @returns {Promise<void>}
 */
export async function stopProcessGroup(pgid, { signal = "SIGTERM", graceMs = 15_000, killMs = 10_000, gone } = {}) {
  signalGroup(pgid, signal);
  const deadline = Date.now() + (signal === "SIGKILL" ? killMs : graceMs);
  for (;;) {
    const members = liveGroupMembers(pgid);
    if (members ? members.length === 0 : await (gone?.() ?? Promise.resolve(false))) return;
    if (Date.now() > deadline) {
      if (signal === "SIGKILL") throw new Error(`process group ${pgid} still alive after SIGKILL: ${members?.join(", ") ?? "(no /proc)"}`);
      return stopProcessGroup(pgid, { signal: "SIGKILL", killMs, gone });
    }
    await sleep(50);
  }
}

/**
 * Polls `url` until `accept(response, body)` holds. Gives up after `timeoutMs`, or as soon as
 * `exited()` names a reason (the server process ended).
 * @param {string} url
 * @param {{
 *   accept?: (res: Response, body: string) => boolean,
 *   headers?: Record<string, string>,
 *   timeoutMs?: number,
 *   intervalMs?: number,
 *   exited?: () => string | null,
 * }} [options]
 * @returns {Promise<{ ready: true } | { ready: false, exited: string | null, last: string }>}
 */
export async function waitForAnswer(
  url,
  { accept = (res) => res.status === 200, headers = {}, timeoutMs = 60_000, intervalMs = 250, exited = () => null } = {},
) {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    const why = exited();
    if (why !== null) return { ready: false, exited: why, last };
    try {
      const res = await fetch(url, { headers, signal: AbortSignal.timeout(5_000) });
      const body = await res.text();
      if (accept(res, body)) return { ready: true };
      last = `${res.status} ${body.slice(0, 300)}`;
    } catch (err) {
      const error = /** @type {Error} */ (err);
      last = String(error.cause ?? error.message);
    }
    await sleep(intervalMs);
  }
  return { ready: false, exited: exited(), last };
}
