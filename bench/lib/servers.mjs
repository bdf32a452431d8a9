// Starting, watching and stopping the local dev servers the benchmark measures (wrangler's dev
// server through bench/lib/dev-server.mjs; see there why not the `wrangler dev` CLI).
// Each server is spawned detached (its own process group), so stopping it ends wrangler, its
// proxy workerd and its runtime workerd together. CPU time is read per process from /proc.
// Ports, migrations, the wrangler environment and process groups: scripts/lib/local-server.mjs,
// shared with `npm run dev` and the end-to-end tests.
import { spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { groupProcesses, nodeBinary, stopProcessGroup, waitForAnswer, wranglerEnv } from "../../scripts/lib/local-server.mjs";

const DEV_SERVER = "bench/lib/dev-server.mjs";

/**
 * Spawns a dev server detached with stdout/stderr to `logPath`; with `inspectorPort`, the Worker
 * gets the DevTools inspector (as under the `wrangler dev` CLI, which always attaches it).
 * @returns {{ name: string, port: number, inspectorPort: number | null, pgid: number, logPath: string, exited: () => boolean }}
 */
export function startWranglerDev({ name, port, inspectorPort = null, args, logPath }) {
  const fd = openSync(logPath, "a");
  const child = spawn(
    nodeBinary(),
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

/** Polls `path` (with `headers`) until `accept(response, text)` holds; at most 60 s, 250 ms apart. */
export async function waitReady(server, path, accept, headers = {}) {
  const answer = await waitForAnswer(`http://127.0.0.1:${server.port}${path}`, {
    accept,
    headers,
    exited: () => (server.exited() === null ? null : String(server.exited())),
  });
  if (answer.ready) return;
  if (answer.exited !== null)
    throw new Error(`${server.name}: the dev server exited (${answer.exited}) before it was ready:\n${logTail(server)}`);
  throw new Error(`${server.name}: not ready on ${path} after 60 s (last: ${answer.last}):\n${logTail(server)}`);
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
  for (const p of groupProcesses(server.pgid) ?? []) byRole[roleOf(server, p.pid, p.comm)] += (p.ticks * 1000) / CLOCK_TICKS;
  return byRole;
}

/** The workerd binary running the Worker (the runtime process's argv[0]). */
export function runtimeBinary(server) {
  for (const p of groupProcesses(server.pgid) ?? []) {
    if (p.comm === "workerd" && roleOf(server, p.pid, "workerd") === "workerd_runtime") return cmdline(p.pid)[0] ?? null;
  }
  return null;
}

/** SIGTERM to the whole group, SIGKILL to whatever is left after 5 s; never throws (a run's cleanup goes on). */
export async function stopGroup(server) {
  if (!server) return;
  await stopProcessGroup(server.pgid, { graceMs: 5_000, killMs: 2_000 }).catch(() => undefined);
}

/** Whether wrangler rebuilt/reloaded the Worker after start-up (a source file changed mid-run). */
export function reloadedSince(server, offset) {
  const text = readFileSync(server.logPath, "utf8").slice(offset);
  return /Reloading local server|Detected changes|Local server updated/i.test(text);
}

export function logSize(server) {
  return existsSync(server.logPath) ? readFileSync(server.logPath).byteLength : 0;
}
