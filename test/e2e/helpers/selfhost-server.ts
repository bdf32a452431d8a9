/**
 * The self-hosted server (`npm start`) for end-to-end tests: the exact command of
 * scripts/selfhost/start-command.mjs (START_ARGV, run by this Node), built once by BUILD_ARGV's
 * script, with a temporary DATA_DIR, a free port, the default listening address and test secrets
 * from the environment.
 * - Spawned detached (its own process group), so a SIGKILL reaches the supervisor and workerd
 *   together (a crash), and no process outlives a test.
 * - Ready when its `selfhost.ready` log line is printed and `GET /health` answers 200; any failure
 *   throws with the server's output attached.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { PROJECT_ROOT, freePort, nodeBinary, signalGroup, stopProcessGroup, waitForAnswer } from "../../../scripts/lib/local-server.mjs";
import { START_ARGV } from "../../../scripts/selfhost/start-command.mjs";

export interface SelfHostOptions {
  dataDir: string;
  port?: number;
  /** Environment variables for the server (secrets and settings). */
  env: Record<string, string>;
}

export interface SelfHostServer {
  readonly baseUrl: string;
  readonly port: number;
  readonly pid: number;
  /** Everything the server printed so far. */
  output(): string;
  /** Its `selfhost.ready` log line, parsed. */
  readonly ready: Record<string, unknown>;
  /** Sends `signal` to the supervisor only (as a container runtime does) and resolves with its exit code. */
  terminate(signal?: "SIGTERM" | "SIGINT"): Promise<number | null>;
  /** SIGKILL to the whole process group (a crash), resolved once none of it is alive. */
  kill(): Promise<void>;
  /** Ends whatever is left of the group (for afterAll). */
  dispose(): Promise<void>;
}

/** Builds dist/selfhost/ and the client assets (what `npm start` runs first). */
export function buildSelfHost(): void {
  const result = spawnSync(nodeBinary(), [join(PROJECT_ROOT, "scripts/selfhost/build.mjs")], {
    cwd: PROJECT_ROOT,
    encoding: "utf8",
    timeout: 180_000,
  });
  if (result.status !== 0) throw new Error(`build:selfhost failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
}

export const randomSecret = () => randomBytes(24).toString("base64url");

export async function startSelfHost(options: SelfHostOptions): Promise<SelfHostServer> {
  const port = options.port ?? (await freePort());
  const [command, ...args] = START_ARGV;
  if (command !== "node") throw new Error(`START_ARGV starts with ${command}, not node`);
  const child: ChildProcess = spawn(nodeBinary(), args, {
    cwd: PROJECT_ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    // The server's own defaults (HOST, etc.) apply: only PATH, the data folder, the port and the test's settings.
    env: { PATH: process.env.PATH ?? "", DATA_DIR: options.dataDir, PORT: String(port), ...options.env },
  });
  let out = "";
  child.stdout!.on("data", (chunk) => (out += chunk));
  child.stderr!.on("data", (chunk) => (out += chunk));
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code ?? null));
  const pid = child.pid!;
  const baseUrl = `http://127.0.0.1:${port}`;

  const health = await waitForAnswer(`${baseUrl}/health`, {
    timeoutMs: 90_000,
    exited: () => (exitCode === undefined ? null : `exited with ${exitCode}`),
  });
  const readyLine = out.split("\n").find((line) => line.includes('"selfhost.ready"'));
  if (!health.ready || !readyLine) {
    signalGroup(pid, "SIGKILL");
    throw new Error(`the self-hosted server did not become ready (${health.ready ? "no ready line" : health.last}):\n${out}`);
  }
  return {
    baseUrl,
    port,
    pid,
    output: () => out,
    ready: JSON.parse(readyLine) as Record<string, unknown>,
    async terminate(signal = "SIGTERM") {
      child.kill(signal);
      const code = await Promise.race([exited, new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 60_000))]);
      if (code === "timeout") throw new Error(`the server did not exit within 60 s of ${signal}:\n${out}`);
      await stopProcessGroup(pid, { graceMs: 10_000 });
      return code;
    },
    async kill() {
      await stopProcessGroup(pid, { signal: "SIGKILL" });
    },
    async dispose() {
      await stopProcessGroup(pid, { signal: "SIGKILL" });
    },
  };
}
