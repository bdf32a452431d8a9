// Starting, watching and stopping the local dev servers the benchmark measures (wrangler's dev
// server through bench/lib/dev-server.mjs; see there why not the `wrangler dev` CLI).
// Each server is spawned detached (its own process group), so stopping it ends wrangler, its
// proxy workerd and its runtime workerd together. CPU time is read per process from /proc.
import { spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, readdirSync } from "node:fs";
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

const PORT_MIN = 21000;
const PORT_MAX = 32000;
const WRANGLER_BIN = "node_modules/wrangler/bin/wrangler.js";
const DEV_SERVER = "bench/lib/dev-server.mjs";

function canListen(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** A port in 21000–32000 that is free now and not in `taken` (below the OS's ephemeral range). */
export async function freePort(taken) {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = PORT_MIN + Math.floor(Math.random() * (PORT_MAX - PORT_MIN));
    if (taken.has(port)) continue;
    if (await canListen(port)) {
      taken.add(port);
      return port;
    }
  }
  throw new Error(`no free port found in ${PORT_MIN}–${PORT_MAX}`);
}

/**
 * WRANGLER_WRITE_LOGS=false: wrangler otherwise appends every line it prints, the Worker's log
 * lines included, to a debug file under ~/.config/.wrangler/logs (a mkdir, open, write and close
 * per line in wrangler's process), which no deployment does and which would fill the disk.
 */
export function wranglerEnv() {
  return { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false", WRANGLER_WRITE_LOGS: "false", NO_COLOR: "1", FORCE_COLOR: "0" };
}

/** Runs a wrangler command to completion (e.g. D1 migrations); throws with its output on failure. */
export function runWrangler(args) {
  const result = spawnSync(process.execPath, [WRANGLER_BIN, ...args], { encoding: "utf8", env: wranglerEnv(), timeout: 120_000 });
  if (result.status !== 0) {
    throw new Error(`wrangler ${args.join(" ")} failed (${result.status ?? result.signal}):\n${result.stdout}\n${result.stderr}`);
  }
  return result.stdout;
}

/**
 * Spawns a dev server detached with stdout/stderr to `logPath`; with `inspectorPort`, the Worker
 * gets the DevTools inspector (as under the `wrangler dev` CLI, which always attaches it).
 * @returns {{ name: string, port: number, inspectorPort: number | null, pgid: number, logPath: string, exited: () => boolean }}
 */
export function startWranglerDev({ name, port, inspectorPort = null, args, logPath }) {
  const fd = openSync(logPath, "a");
  const child = spawn(
    process.execPath,
    [DEV_SERVER, "--port", String(port), ...(inspectorPort ? ["--inspector-port", String(inspectorPort)] : []), ...args],
    { detached: true, stdio: ["ignore", fd, fd], env: wranglerEnv() },
  );
  closeSync(fd);
  let exitedWith = null;
  child.on("exit", (code, signal) => {
    exitedWith = code ?? signal ?? "exit";
  });
  return { name, port, inspectorPort, pgid: child.pid, logPath, exited: () => exitedWith };
}

export function logTail(server, lines = 30) {
  if (!existsSync(server.logPath)) return "(no log)";
  return readFileSync(server.logPath, "utf8").split("\n").slice(-lines).join("\n");
}

/** Polls `path` (with `headers`) until `accept(response, text)` holds; at most 240 tries, 250 ms apart (60 s). */
export async function waitReady(server, path, accept, headers = {}) {
  let last = "no answer yet";
  for (let attempt = 0; attempt < 240; attempt++) {
    if (server.exited() !== null) throw new Error(`${server.name}: the dev server exited (${server.exited()}) before it was ready:\n${logTail(server)}`);
    try {
      const res = await fetch(`http://127.0.0.1:${server.port}${path}`, { headers, signal: AbortSignal.timeout(5000) });
      const text = await res.text();
      if (accept(res, text)) return;
      last = `${res.status} ${text.slice(0, 300)}`;
    } catch (err) {
      last = err.message;
    }
    await sleep(250);
  }
  throw new Error(`${server.name}: not ready on ${path} after 60 s (last: ${last}):\n${logTail(server)}`);
}

function pidsInGroup(pgid) {
  const pids = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat && stat.pgrp === pgid) pids.push(Number(entry));
  }
  return pids;
}

function readStat(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  const close = text.lastIndexOf(")");
  const comm = text.slice(text.indexOf("(") + 1, close);
  const rest = text.slice(close + 2).split(" ");
  return { comm, pgrp: Number(rest[2]), ticks: Number(rest[11]) + Number(rest[12]) };
}

function cmdline(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return [];
  }
}

const CLOCK_TICKS = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout?.trim()) || 100;

/** Names a process of a dev server's group by what it does. */
function roleOf(server, pid, comm) {
  if (comm === "workerd") {
    // wrangler's proxy workerd owns the public port; the runtime workerd runs the Worker, its
    // Durable Objects and the local KV/D1 simulators.
    return cmdline(pid).some((a) => a.includes(`entry=127.0.0.1:${server.port}`)) ? "workerd_proxy" : "workerd_runtime";
  }
  if (comm === "node") return "wrangler_node";
  return "other";
}

/** CPU milliseconds used so far by each role in the server's process group. */
export function groupCpu(server) {
  const byRole = { workerd_runtime: 0, workerd_proxy: 0, wrangler_node: 0, other: 0 };
  for (const pid of pidsInGroup(server.pgid)) {
    const stat = readStat(pid);
    if (stat) byRole[roleOf(server, pid, stat.comm)] += (stat.ticks * 1000) / CLOCK_TICKS;
  }
  return byRole;
}

/** The workerd binary running the Worker (the runtime process's argv[0]). */
export function runtimeBinary(server) {
  for (const pid of pidsInGroup(server.pgid)) {
    const stat = readStat(pid);
    if (stat?.comm === "workerd" && roleOf(server, pid, "workerd") === "workerd_runtime") return cmdline(pid)[0] ?? null;
  }
  return null;
}

/** SIGTERM to the whole group, SIGKILL to whatever is left after 5 s. */
export async function stopGroup(server) {
  if (!server) return;
  const signalGroup = (signal) => {
    try {
      process.kill(-server.pgid, signal);
    } catch {
      // Already gone.
    }
  };
  signalGroup("SIGTERM");
  for (let attempt = 0; attempt < 50; attempt++) {
    if (pidsInGroup(server.pgid).length === 0) return;
    await sleep(100);
  }
  signalGroup("SIGKILL");
  for (let attempt = 0; attempt < 20; attempt++) {
    if (pidsInGroup(server.pgid).length === 0) return;
    await sleep(100);
  }
}

/** Whether wrangler rebuilt/reloaded the Worker after start-up (a source file changed mid-run). */
export function reloadedSince(server, offset) {
  const text = readFileSync(server.logPath, "utf8").slice(offset);
  return /Reloading local server|Detected changes|Local server updated/i.test(text);
}

export function logSize(server) {
  return existsSync(server.logPath) ? readFileSync(server.logPath).byteLength : 0;
}
