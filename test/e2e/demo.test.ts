/**
 * `npm run demo` (scripts/demo.mjs, docs/demo.md) run to the end, through both doors: against a
 * running server (`--url` / `--api-key`, the way a user points it at `npm run dev`), and with no
 * server given, when it starts and stops one of its own. Its output is a pipe here, so the task's
 * progress bar prints one line per change. A wrong key ends the walk at the first protected
 * request with the 401 problem shown and a non-zero exit.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { portIsClosed } from "../../scripts/lib/local-server.mjs";
import { STEPS } from "../../scripts/demo/steps.mjs";
import { PROJECT_ROOT, nodeBinary, startLocalServer, type LocalServer } from "./helpers/local-server";

const DEMO = join(PROJECT_ROOT, "scripts/demo.mjs");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runDemo(args: string[], env: Record<string, string> = {}, timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
    if (!("DMSA_URL" in env)) delete childEnv.DMSA_URL;
    if (!("DMSA_API_KEY" in env)) delete childEnv.DMSA_API_KEY;
    const child = spawn(nodeBinary(), [DEMO, ...args], { cwd: PROJECT_ROOT, env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    // TERM lets the demo stop a server it started itself.
    const timer = setTimeout(() => child.kill("SIGTERM"), timeoutMs);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Every step's title line, in order, and what each step must have shown. */
function expectWholeWalk(run: Run): void {
  expect(run.code, `${run.stdout}\n--- stderr ---\n${run.stderr}`).toBe(0);
  const out = run.stdout;
  let at = -1;
  for (const [i, step] of STEPS.entries()) {
    const line = `[${i + 1}/${STEPS.length}] ${step.title}`;
    const found = out.indexOf(line);
    expect(found, `missing or out of order: ${line}`).toBeGreaterThan(at);
    at = found;
  }
  expect(out).toContain("< healthy, version ");
  expect(out).toMatch(/< saved version 1\n[\s\S]*If-Match: "1"[\s\S]*< saved version 2\n/);
  expect(out).toMatch(/< version 2 \(ETag "2"\): \{"step":2,"topic":"sales"\}/);
  expect(out).toContain("< current version 2; versions 2, 1");
  expect(out).toContain("< version 3 now holds version 1's data");
  // The progress bar: plain lines (not a TTY), rising to 100 % before the result.
  const percents = [...out.matchAll(/^ {4}\[[#.]{30}\] +(\d+)% /gm)].map((m) => Number(m[1]));
  expect(percents.length).toBeGreaterThanOrEqual(3);
  expect(percents).toEqual([...percents].sort((a, b) => a - b));
  expect(percents.at(-1)).toBe(100);
  expect(out).toMatch(/< completed: count 60000, mean [\d.]+, median [\d.]+, min \d+, max \d+/);
  expect(out).toMatch(/< 2 active: demo-[0-9a-f]{8}_instance_0, demo-[0-9a-f]{8}_instance_1/);
  expect(out).toMatch(/< queue depth \d+; recommendation: (scale_up|scale_down|maintain) /);
  // The mail: its subject, the links as the log keeps them (tokens masked), then the link decision.
  expect(out).toMatch(/< to approver@example\.com: "Approval needed: Publish the Q3 report \[approval_[0-9a-f]{24}\]" \(sent\)/);
  expect(out).toMatch(/< Approve: \S+\/approve\/approval_[0-9a-f]{24}\?action=approve&token=\[redacted\]/);
  expect(out).not.toMatch(/token=eyJ[^ ]*action=approve|approve&token=eyJ/);
  expect(out).toContain('< 200 "Approve this request?"');
  expect(out).toContain('< 200 "Approved"');
  expect(out).toMatch(/< approved by approver@example\.com via link at /);
  expect(out).toMatch(/< Alice: part_[0-9a-f]+, open http:\/\/\S+\/calls\/call_[0-9a-f]+\?token=/);
  expect(out).toMatch(/< Bob: part_[0-9a-f]+, open /);
  expect(out).toContain("< skipped: no speech provider");
  expect(out).toContain("< 2 participants, status ");
  expect(out).toMatch(/< \d+ files: Dockerfile, .*docker-compose\.yml.*kubernetes\//);
  expect(out).toContain("Demo complete: every step passed.");
}

let server: LocalServer | undefined;

beforeAll(async () => {
  server = await startLocalServer();
});

afterAll(async () => {
  await server?.dispose();
});

describe("npm run demo", () => {
  it("walks every step against a running server given with --url and --api-key", async () => {
    expectWholeWalk(await runDemo(["--url", server!.baseUrl, "--api-key", server!.adminApiKey]));
  });

  it("with a wrong key (DMSA_URL / DMSA_API_KEY) stops at the first protected request, showing the 401 problem, and exits 1", async () => {
    const run = await runDemo([], { DMSA_URL: server!.baseUrl, DMSA_API_KEY: "dmsa_wrong_key_000000000000000000" }, 30_000);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("[1/10] Health");
    expect(run.stdout).toContain("[2/10] Save state");
    expect(run.stdout).not.toContain("[3/10]");
    expect(run.stdout).not.toContain("< saved version");
    const failed =
      /FAILED: POST \/api\/v2\/agents\/(demo-[0-9a-f]{8})\/state\n {2}status: 401\n {2}title: {2}Authentication required\n {2}detail: /.exec(
        run.stderr,
      );
    expect(failed, run.stderr).not.toBeNull();
    // Nothing was stored for the run's agent.
    const state = await fetch(`${server!.baseUrl}/api/v2/agents/${failed![1]}/state`, {
      headers: { Authorization: `Bearer ${server!.adminApiKey}` },
    });
    expect(state.status).toBe(404);
  });

  it("refuses a URL without a key, before any request", async () => {
    const run = await runDemo(["--url", server!.baseUrl], {}, 30_000);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("give both a URL and an API key, or neither");
    expect(run.stdout).not.toContain("[1/10]");
  });

  it("with no server given, starts its own, walks every step and stops it again", async () => {
    const run = await runDemo([]);
    expect(run.stdout).toContain("Starting a local server");
    expectWholeWalk(run);
    const own = /Server ready at (http:\/\/127\.0\.0\.1:(\d+))/.exec(run.stdout);
    expect(own, run.stdout).not.toBeNull();
    expect(own![1]).not.toBe(server!.baseUrl);
    expect(run.stdout).toContain("Stopping the local server");
    expect(await portIsClosed(Number(own![2]))).toBe(true);
  });
});
