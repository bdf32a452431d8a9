/**
 * The README's "Five-minute tour", executed: its ```sh blocks run in order in one bash session
 * (set -euo pipefail) against a real `wrangler dev`, exactly as written, so the tour cannot rot.
 *
 * The session runs in a temporary folder that looks like a fresh checkout after `npm run dev`:
 * a `.dev.vars` written by the project's own generator (scripts/dev-vars.mjs), whose secrets the
 * test server uses, and a package.json whose `token` script is the project's scripts/token.mjs,
 * so `npm run -s token` and the `grep … .dev.vars` line work unchanged. `BASE` points at the
 * test server. A marker line before each block splits the output, and each block's output is
 * checked below, step by step.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { PROJECT_ROOT, nodeBinary, startLocalServer, type LocalServer } from "./helpers/local-server";

const SECTION = "## Five-minute tour";
const MARK = "@@readme-tour-block";

/** The ```sh blocks of the tour section, in order. */
function tourBlocks(readme: string): string[] {
  const start = readme.indexOf(`\n${SECTION}\n`);
  if (start < 0) throw new Error(`README.md has no "${SECTION}" section`);
  const rest = readme.slice(start + SECTION.length + 2);
  const end = rest.search(/^## /m);
  const section = end < 0 ? rest : rest.slice(0, end);
  return [...section.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

interface Http {
  status: number;
  headers: Record<string, string>;
  body: any;
}

/** Parses `curl -i` output: status line, headers, blank line, JSON body. */
function http(out: string): Http {
  const text = out.replace(/\r\n/g, "\n").trim();
  const split = text.indexOf("\n\n");
  expect(split, `no header/body split in:\n${out}`).toBeGreaterThan(0);
  const [statusLine, ...headerLines] = text.slice(0, split).split("\n");
  const status = Number(/^HTTP\/[\d.]+ (\d{3})/.exec(statusLine!)?.[1]);
  const headers = Object.fromEntries(
    headerLines.map((l) => [l.slice(0, l.indexOf(":")).trim().toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]),
  );
  return { status, headers, body: JSON.parse(text.slice(split + 2)) };
}

function json(out: string): any {
  return JSON.parse(out.trim());
}

function problem(out: string, status: number, code: string): Http {
  const res = http(out);
  expect(res.status).toBe(status);
  expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status, code, type: `/problems/${code}` });
  expect(res.headers["x-request-id"]).toBeTruthy();
  return res;
}

/**
 * One entry per block, in README order. `block` recognises the block's text, so an edit that
 * reorders, adds or drops a step fails here by name instead of checking the wrong output.
 */
const shared: { keyId?: string } = {};
const STEPS: { step: string; block: RegExp; check: (out: string) => void }[] = [
  {
    step: "mint a token and check /health",
    block: /TOKEN=\$\(npm run -s token -- --sub alice --role developer\)[\s\S]*\/health/,
    check: (out) => expect(json(out)).toMatchObject({ status: "healthy", features: { persistent_state: true } }),
  },
  {
    step: "save version 1",
    block: /-X POST \$BASE\/api\/v2\/agents\/demo-1\/state [\s\S]*"step": 1/,
    check: (out) => expect(json(out)).toStrictEqual({ success: true, agent_id: "demo-1", version: 1, message: "State saved successfully" }),
  },
  {
    step: "save with If-Match",
    block: /If-Match: "1"' -d '\{"state_data": \{"step": 2/,
    check: (out) => expect(json(out)).toMatchObject({ success: true, agent_id: "demo-1", version: 2 }),
  },
  {
    step: "stale If-Match is 412",
    block: /-i -X POST[\s\S]*If-Match: "1"[\s\S]*"step": 99/,
    check: (out) => expect(problem(out, 412, "precondition_failed").body.current_version).toBe(2),
  },
  {
    step: "load with ETag",
    block: /curl -s -i \$BASE\/api\/v2\/agents\/demo-1\/state -H "\$AUTH"/,
    check: (out) => {
      const res = http(out);
      expect(res.status).toBe(200);
      expect(res.headers.etag).toBe('"2"');
      expect(res.body).toMatchObject({ agent_id: "demo-1", agent_type: "analytics", version: 2, state_data: { step: 2, topic: "sales" } });
    },
  },
  {
    step: "list versions",
    block: /\/state\/versions -H/,
    check: (out) => {
      const page = json(out);
      expect(page.current_version).toBe(2);
      expect(page.versions.map((v: { version: number }) => v.version)).toStrictEqual([2, 1]);
    },
  },
  {
    step: "read version 1",
    block: /\/state\/versions\/1 -H/,
    check: (out) => expect(json(out)).toMatchObject({ version: 1, state_data: { step: 1, topic: "sales" } }),
  },
  {
    step: "restore version 1",
    block: /\/state\/restore/,
    check: (out) => expect(json(out)).toMatchObject({ success: true, version: 3, restored_from: 1 }),
  },
  {
    step: "list agents",
    block: /curl -s \$BASE\/api\/v2\/agents -H/,
    check: (out) => {
      // The D1 index follows the Durable Object within moments; it lists demo-1 at some version.
      const row = json(out).agents.find((a: { agent_id: string }) => a.agent_id === "demo-1");
      expect(row).toMatchObject({ agent_id: "demo-1", agent_type: "analytics" });
      expect(row.version).toBeGreaterThanOrEqual(1);
    },
  },
  {
    step: "create an API key with the admin key",
    block: /ADMIN=\$\(grep ADMIN_API_KEY \.dev\.vars \| cut -d'"' -f2\)[\s\S]*\/api\/v2\/auth\/api-keys/,
    check: (out) => {
      const created = json(out);
      expect(created).toMatchObject({ name: "tour", role: "user", agents: ["demo-1"], created_by: "admin", revoked_at: null });
      expect(created.key).toMatch(/^dmsa_[\w-]{20,}$/);
      expect(created.key_id).toMatch(/^key_[0-9a-f]{24}$/);
      shared.keyId = created.key_id;
    },
  },
  {
    step: "use the API key",
    block: /\/demo-1\/state -H "X-API-Key: \$KEY"/,
    check: (out) =>
      expect(json(out)).toMatchObject({ agent_id: "demo-1", version: 3, restored_from: 1, state_data: { step: 1, topic: "sales" } }),
  },
  {
    step: "the key is limited to demo-1",
    block: /\/demo-2\/state -H "X-API-Key: \$KEY"/,
    check: (out) => problem(out, 403, "forbidden"),
  },
  {
    step: "validation error is 422 with errors[]",
    block: /"agent_type": "robot"/,
    check: (out) => {
      const res = problem(out, 422, "validation_failed");
      expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: "agent_type" })]));
    },
  },
  {
    step: "revoke the key",
    block: /-X DELETE \$BASE\/api\/v2\/auth\/api-keys\/\$KEY_ID/,
    check: (out) => expect(json(out)).toMatchObject({ success: true, key_id: shared.keyId }),
  },
  {
    step: "the revoked key is 401",
    block: /^curl -s -i \$BASE\/api\/v2\/agents\/demo-1\/state -H "X-API-Key: \$KEY"\n$/,
    check: (out) => expect(problem(out, 401, "unauthenticated").headers["www-authenticate"]).toMatch(/^Bearer /),
  },
  {
    step: "delete the state",
    block: /-X DELETE \$BASE\/api\/v2\/agents\/demo-1\/state/,
    check: (out) => expect(json(out)).toMatchObject({ success: true, agent_id: "demo-1" }),
  },
  {
    step: "the state is gone: 404",
    block: /^curl -s -i \$BASE\/api\/v2\/agents\/demo-1\/state -H "\$AUTH"\n$/,
    check: (out) => problem(out, 404, "not_found"),
  },
];

let server: LocalServer | undefined;
let tourDir: string;
let blocks: string[];
let outputs: string[] = [];
let stderr = "";
let exitCode: number | null = null;

beforeAll(async () => {
  blocks = tourBlocks(readFileSync(join(PROJECT_ROOT, "README.md"), "utf8"));

  // A folder like a fresh checkout after `npm run dev`: .dev.vars from the project's generator.
  tourDir = mkdtempSync(join(tmpdir(), "dmsa-tour-"));
  const devVars = (await import(pathToFileURL(join(PROJECT_ROOT, "scripts/dev-vars.mjs")).href)) as {
    ensureDevVars(path: string): Record<string, string>;
  };
  const secrets = devVars.ensureDevVars(join(tourDir, ".dev.vars"));
  writeFileSync(
    join(tourDir, "package.json"),
    JSON.stringify({
      name: "readme-tour",
      private: true,
      scripts: { token: `node ${JSON.stringify(join(PROJECT_ROOT, "scripts/token.mjs"))}` },
    }),
  );
  server = await startLocalServer({ jwtSecret: secrets.JWT_SECRET, adminApiKey: secrets.ADMIN_API_KEY });

  const script = [
    "set -euo pipefail",
    ...blocks.flatMap((block, i) => [`printf '\\n${MARK} ${i}@@\\n'`, block]),
    `printf '\\n${MARK} end@@\\n'`,
  ].join("\n");
  writeFileSync(join(tourDir, "tour.sh"), script);

  const env: NodeJS.ProcessEnv = { ...process.env, BASE: server.baseUrl, npm_config_update_notifier: "false" };
  env.PATH = `${join(nodeBinary(), "..")}:${env.PATH ?? ""}`;
  delete env.JWT_SECRET; // token.mjs must take it from .dev.vars, as on a user's machine
  const child = spawn("bash", ["tour.sh"], { cwd: tourDir, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  exitCode = await new Promise<number | null>((done) => child.once("close", (code) => done(code)));
  clearTimeout(killer);
  outputs = stdout.split(new RegExp(`\\n${MARK} (?:\\d+|end)@@\\n`)).slice(1);
});

afterAll(async () => {
  await server?.dispose();
  if (tourDir) rmSync(tourDir, { recursive: true, force: true });
});

it("has the tour's blocks in the order the test knows", () => {
  expect(blocks.length, `README tour has ${blocks.length} sh blocks; this test knows ${STEPS.length} steps`).toBe(STEPS.length);
  blocks.forEach((block, i) => expect(block, `block ${i + 1} should be "${STEPS[i]!.step}"`).toMatch(STEPS[i]!.block));
  expect(blocks.join("\n")).toContain("BASE=${BASE:-http://localhost:8787}");
});

it("runs every block to the end in one shell", () => {
  const reached = outputs.length - 1;
  expect(
    exitCode,
    `the tour stopped in block ${reached + 1} (${STEPS[reached]?.step}):\n${stderr}\n--- server log ---\n${server?.log()}`,
  ).toBe(0);
  expect(outputs).toHaveLength(blocks.length + 1);
  expect(outputs.at(-1)).toBe("");
});

it.each(STEPS.map((s, i) => [i + 1, s.step, i] as const))("block %i: %s", (_n, _step, i) => {
  const out = outputs[i];
  expect(out, "the block did not run").toBeDefined();
  try {
    STEPS[i]!.check(out!);
  } catch (err) {
    (err as Error).message += `\n--- block output ---\n${out}`;
    throw err;
  }
});
