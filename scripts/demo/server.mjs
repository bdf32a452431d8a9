// The demo's own local server, for `npm run demo` without --url: `wrangler dev --local` on a free
// loopback port, with temporary stores (D1 migrations applied first) and secrets made up for this
// run, started the way `npm run dev` and the end-to-end tests start theirs (scripts/lib/local-server.mjs).
// Plain JavaScript with JSDoc types: node scripts import it as it is and TypeScript checks it.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  PROJECT_ROOT,
  WRANGLER_JS,
  applyMigrations,
  freePort,
  nodeBinary,
  portIsClosed,
  stopProcessGroup,
  waitForAnswer,
  wranglerEnv,
} from "../lib/local-server.mjs";

const HOST = "127.0.0.1";

/** How to stop each server started here and not stopped yet, also one still starting. */
/** @type {Set<() => Promise<void>>} */
const running = new Set();

/** Stops every server this process started (Ctrl-C may come while one is still starting). */
export async function stopDemoServers() {
  await Promise.all([...running].map((stop) => stop()));
}

/**
 * @typedef {object} DemoServer
 * @property {string} baseUrl
 * @property {string} apiKey  the server's ADMIN_API_KEY, made up for this run
 * @property {() => string} log everything the server printed so far
 * @property {() => Promise<void>} stop stops every process of the server and removes its stores (idempotent)
 */

/** @returns {Promise<DemoServer>} */
export async function startDemoServer() {
  const persistDir = mkdtempSync(join(tmpdir(), "dmsa-demo-"));
  const env = wranglerEnv({ logDir: join(persistDir, "wrangler-logs") });
  const apiKey = `dmsa_demo_${randomBytes(18).toString("base64url")}`;
  try {
    applyMigrations(persistDir, { env });
  } catch (err) {
    rmSync(persistDir, { recursive: true, force: true });
    throw err;
  }
  const port = await freePort();
  const inspectorPort = await freePort([port]);
  const baseUrl = `http://${HOST}:${port}`;
  // Secrets through --env-file, so the project's own .dev.vars is neither read nor needed.
  const envFile = join(persistDir, "demo.env");
  writeFileSync(envFile, `JWT_SECRET="${randomBytes(32).toString("base64url")}"\nADMIN_API_KEY="${apiKey}"\nRATE_LIMIT="off"\n`, {
    mode: 0o600,
  });
  const child = spawn(
    nodeBinary(),
    [
      WRANGLER_JS,
      "dev",
      "--local",
      "--ip",
      HOST,
      "--port",
      String(port),
      "--inspector-port",
      String(inspectorPort),
      "--persist-to",
      persistDir,
      "--env-file",
      envFile,
      "--show-interactive-dev-session=false",
      // Links in mails and join URLs then point at this server.
      "--var",
      `PUBLIC_BASE_URL:${baseUrl}`,
      "--var",
      "CLIENT_IP_HEADER:",
    ],
    { cwd: PROJECT_ROOT, env, detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  const pgid = child.pid;
  if (pgid === undefined) throw new Error("could not start wrangler dev");
  let output = "";
  child.stdout.on("data", (chunk) => (output += String(chunk)));
  child.stderr.on("data", (chunk) => (output += String(chunk)));
  /** @type {string | null} */
  let exited = null;
  child.once("exit", (code, signal) => (exited = `wrangler dev exited (${code ?? signal})`));

  /** @type {Promise<void> | undefined} */
  let stopping;
  const stop = () =>
    (stopping ??= stopProcessGroup(pgid, { gone: () => portIsClosed(port) }).finally(() => {
      running.delete(stop);
      rmSync(persistDir, { recursive: true, force: true });
    }));
  running.add(stop);

  const answer = await waitForAnswer(`${baseUrl}/health`, { timeoutMs: 90_000, intervalMs: 250, exited: () => exited });
  if (!answer.ready) {
    await stop();
    throw new Error(`the local server did not start: ${answer.exited ?? answer.last}\n${output.slice(-3000)}`);
  }
  return { baseUrl, apiKey, log: () => output, stop };
}
