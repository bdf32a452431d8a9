/**
 * A real `wrangler dev --local` process for end-to-end tests.
 *
 * - Loopback only, on a free port in 21000–32000 (below the range the OS hands out for
 *   outgoing connections) with its own `--inspector-port`.
 * - Its own persistence folder (a fresh `mkdtemp` unless one is given), D1 migrations applied
 *   to it first, so several servers never share state and a restart reuses it.
 * - Its own secrets, through `--env-file` (which also stops wrangler from reading the project's
 *   `.dev.vars`): a random JWT_SECRET and ADMIN_API_KEY, and RATE_LIMIT=off unless asked.
 * - Spawned detached (its own process group) so `stop()` signals wrangler, esbuild and workerd
 *   together: SIGKILL for a crash, SIGTERM for a graceful stop. `stop()` returns only once no
 *   process of the group is alive (so workerd has let go of the state files and the port).
 * - Ready when `GET /health` answers 200; any failure throws with the server's log attached.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  PROJECT_ROOT,
  WRANGLER_JS,
  applyMigrations as applyMigrationsTo,
  freePort,
  nodeBinary,
  portIsClosed,
  signalGroup,
  stopProcessGroup,
  waitForAnswer,
  wranglerEnv,
} from "../../../scripts/lib/local-server.mjs";

// Shared with `npm run dev` and the benchmark (scripts/lib/local-server.mjs).
export { PROJECT_ROOT, freePort, nodeBinary };
const HOST = "127.0.0.1";

export interface LocalServerOptions {
  /** Reuse this persistence folder (e.g. after a crash); default: a new temporary one. */
  persistDir?: string;
  /** Listen on this port; default: a free one in 21000–32000. */
  port?: number;
  jwtSecret?: string;
  adminApiKey?: string;
  /** Keep the per-principal rate limit on (default off: tests send bursts). */
  rateLimit?: boolean;
  /**
   * Extra plain variables (`--var NAME:value`). OUTBOUND_ALLOW_HOSTS is empty unless given here,
   * whatever wrangler.toml says, so a test allows exactly the loopback fixtures it starts.
   */
  vars?: Record<string, string>;
  /** How long to wait for `/health` (default 60 s). */
  readyTimeoutMs?: number;
}

export type StopSignal = "SIGKILL" | "SIGTERM";

export interface LocalServer {
  readonly baseUrl: string;
  readonly port: number;
  readonly inspectorPort: number;
  readonly persistDir: string;
  readonly jwtSecret: string;
  readonly adminApiKey: string;
  readonly pid: number;
  /** Everything the server printed so far (stdout and stderr interleaved). */
  log(): string;
  /** Signals the whole process group and waits until every process of it is gone. */
  stop(signal?: StopSignal): Promise<void>;
  /** Stops (SIGTERM unless told) and starts again on the same persistence folder, port and secrets. */
  restart(signal?: StopSignal): Promise<LocalServer>;
  /**
   * Stops the server gracefully (so wrangler removes its bundle folders under .wrangler/tmp;
   * after a SIGKILL they stay until wrangler sweeps them a day later) and removes the
   * persistence folder if this helper created it.
   */
  dispose(): Promise<void>;
}

/** Wrangler's environment; its debug logs go beside the state instead of piling up in ~/.config/.wrangler/logs. */
function childEnv(persistDir: string): NodeJS.ProcessEnv {
  return wranglerEnv({ logDir: join(persistDir, "wrangler-logs") });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Process groups still running, killed when this test process exits whatever the reason. */
const liveGroups = new Set<number>();
process.once("exit", () => {
  for (const pgid of liveGroups) signalGroup(pgid, "SIGKILL");
});

/** Applies the D1 migrations to `persistDir`. */
export function applyMigrations(persistDir: string): void {
  applyMigrationsTo(persistDir, { env: childEnv(persistDir) });
}

interface Resolved {
  persistDir: string;
  ownsPersistDir: boolean;
  port: number;
  inspectorPort: number;
  jwtSecret: string;
  adminApiKey: string;
  rateLimit: boolean;
  vars: Record<string, string>;
  readyTimeoutMs: number;
  fixedPort: boolean;
}

export async function startLocalServer(options: LocalServerOptions = {}): Promise<LocalServer> {
  const ownsPersistDir = options.persistDir === undefined;
  const persistDir = options.persistDir ?? mkdtempSync(join(tmpdir(), "dmsa-e2e-"));
  const port = options.port ?? (await freePort());
  const resolved: Resolved = {
    persistDir,
    ownsPersistDir,
    port,
    inspectorPort: await freePort([port]),
    jwtSecret: options.jwtSecret ?? randomBytes(32).toString("base64url"),
    adminApiKey: options.adminApiKey ?? `dmsa_e2e_${randomBytes(18).toString("base64url")}`,
    rateLimit: options.rateLimit ?? false,
    vars: { OUTBOUND_ALLOW_HOSTS: "", ...options.vars },
    readyTimeoutMs: options.readyTimeoutMs ?? 60_000,
    fixedPort: options.port !== undefined,
  };
  try {
    applyMigrations(persistDir);
    return await launch(resolved, 3);
  } catch (err) {
    if (ownsPersistDir) rmSync(persistDir, { recursive: true, force: true });
    throw err;
  }
}

async function launch(cfg: Resolved, attemptsLeft: number): Promise<LocalServer> {
  try {
    return await launchOnce(cfg);
  } catch (err) {
    // Someone may have taken a port between the check and wrangler's bind: pick others.
    const portClash = /EADDRINUSE|address already in use/i.test(String((err as Error).message));
    if (!portClash || attemptsLeft <= 1) throw err;
    await sleep(500);
    const port = cfg.fixedPort ? cfg.port : await freePort();
    return launch({ ...cfg, port, inspectorPort: await freePort([port]) }, attemptsLeft - 1);
  }
}

async function launchOnce(cfg: Resolved): Promise<LocalServer> {
  // Secrets go through --env-file: wrangler then skips the project's .dev.vars entirely.
  const envFile = join(cfg.persistDir, "e2e.env");
  writeFileSync(
    envFile,
    `JWT_SECRET="${cfg.jwtSecret}"\nADMIN_API_KEY="${cfg.adminApiKey}"\nRATE_LIMIT="${cfg.rateLimit ? "on" : "off"}"\n`,
    { mode: 0o600 },
  );
  const args = [
    WRANGLER_JS,
    "dev",
    "--local",
    "--ip",
    HOST,
    "--port",
    String(cfg.port),
    "--inspector-port",
    String(cfg.inspectorPort),
    "--persist-to",
    cfg.persistDir,
    "--env-file",
    envFile,
    "--show-interactive-dev-session=false",
    ...Object.entries(cfg.vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
  ];
  const child: ChildProcess = spawn(nodeBinary(), args, {
    cwd: PROJECT_ROOT,
    env: childEnv(cfg.persistDir),
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const pgid = child.pid;
  if (pgid === undefined) throw new Error("could not spawn wrangler dev");
  liveGroups.add(pgid);

  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const exitPromise = new Promise<void>((done) =>
    child.once("exit", (code, signal) => {
      exited = { code, signal };
      done();
    }),
  );

  const baseUrl = `http://${HOST}:${cfg.port}`;
  let stopped = false;

  async function stop(signal: StopSignal = "SIGTERM"): Promise<void> {
    if (stopped) return;
    stopped = true;
    // A dead process has closed its sockets and files; without /proc, watch the port instead.
    await stopProcessGroup(pgid!, { signal, gone: async () => exited !== null && (await portIsClosed(cfg.port)) });
    await exitPromise;
    liveGroups.delete(pgid!);
  }

  const server: LocalServer = {
    baseUrl,
    port: cfg.port,
    inspectorPort: cfg.inspectorPort,
    persistDir: cfg.persistDir,
    jwtSecret: cfg.jwtSecret,
    adminApiKey: cfg.adminApiKey,
    pid: pgid,
    log: () => output,
    stop,
    async restart(signal: StopSignal = "SIGTERM") {
      await stop(signal);
      return launch({ ...cfg, fixedPort: true }, 3);
    },
    async dispose() {
      await stop("SIGTERM");
      if (cfg.ownsPersistDir) rmSync(cfg.persistDir, { recursive: true, force: true });
    },
  };

  const answer = await waitForAnswer(`${baseUrl}/health`, {
    timeoutMs: cfg.readyTimeoutMs,
    intervalMs: 200,
    exited: () => (exited ? `wrangler dev exited (${JSON.stringify(exited)})` : null),
  });
  if (answer.ready) return server;
  await stop("SIGKILL").catch(() => undefined);
  const why = answer.exited ?? `not ready within ${cfg.readyTimeoutMs} ms (last: ${answer.last})`;
  throw new Error(`${why} on port ${cfg.port}\n--- server log ---\n${output}`);
}
