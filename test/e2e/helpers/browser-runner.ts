/**
 * Runs a browser runner script (test/e2e/browser/*-runner.ts) inside a loopback-only network
 * namespace (`unshare -rn bash -c 'ip link set lo up && exec node runner.ts'`; plain `unshare -n`
 * as root when user namespaces are off), so every packet (HTTP, WebSocket, ICE, RTP) stays on
 * 127.0.0.1, and returns the JSON report the runner printed last. Needs Debian's `chromium`
 * (`apt-get install -y chromium`; CHROMIUM_PATH overrides /usr/bin/chromium), `unshare`
 * (util-linux) and `ip` (iproute2). Missing any of them throws: the browser tests fail, never skip.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { PROJECT_ROOT, nodeBinary } from "./local-server";

export const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

/** `unshare` arguments that give a loopback-only network namespace here, or why there is none. */
export function namespaceArgs(): { args: string[] } | { missing: string } {
  const probe = (args: string[]) =>
    spawnSync("unshare", [...args, "bash", "-c", "ip link set lo up"], { encoding: "utf8", timeout: 10_000 });
  const tried: string[] = [];
  for (const args of [["-rn"], ["-n"]]) {
    const r = probe(args);
    if (r.status === 0) return { args };
    tried.push(`unshare ${args.join(" ")}: ${r.error ? String(r.error) : (r.stderr || `exit ${r.status}`).trim()}`);
  }
  return {
    missing:
      "The browser test needs a loopback-only network namespace and could not make one. Install util-linux (unshare) and iproute2 (ip), " +
      "and allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1) or run as root.\n" +
      tried.join("\n"),
  };
}

export function runInNamespace(
  unshareArgs: string[],
  runner: string,
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("unshare", [...unshareArgs, "bash", "-c", 'ip link set lo up && exec "$0" "$1"', nodeBinary(), runner], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, CHROMIUM_PATH: CHROMIUM, NODE_NO_WARNINGS: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    // TERM first: the runner then stops wrangler and Chromium itself; KILL if it does not.
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      setTimeout(() => child.kill("SIGKILL"), 10_000).unref();
    }, timeoutMs);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Checks the prerequisites, runs `runner` in the namespace and returns its report (`ok: true`),
 * or throws with everything needed to see why: the runner's stderr, the pages' diagnostics and
 * the server log's tail.
 */
export async function runBrowserRunner(runner: string, timeoutMs: number): Promise<any> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is missing at ${CHROMIUM}: install it with \`apt-get update && apt-get install -y chromium\` (Debian/Ubuntu), or set CHROMIUM_PATH.`,
    );
  }
  const ns = namespaceArgs();
  if ("missing" in ns) throw new Error(ns.missing);
  const run = await runInNamespace(ns.args, runner, timeoutMs);
  const last = run.stdout.trim().split("\n").at(-1) ?? "";
  let report: any;
  try {
    report = JSON.parse(last);
  } catch {
    throw new Error(`the runner printed no report (exit ${run.code}).\n--- stdout ---\n${run.stdout}\n--- stderr ---\n${run.stderr}`);
  }
  if (!report.ok) {
    throw new Error(
      `the browser run failed: ${report.fatal}\n--- runner ---\n${run.stderr}\n--- pages ---\n${JSON.stringify(report.diagnostics, null, 1)}\n--- server log (tail) ---\n${report.serverLog ?? ""}`,
    );
  }
  return report;
}
