/**
 * The generated image, without Docker (there is no engine here): the Dockerfile is read with
 * dockerfile-ast and carried out step by step on the file system, and the container's command then
 * runs as the image would run it.
 * - Build stage: `COPY` from the build context as `.dockerignore` filters it; `npm ci` is the
 *   project's own install (node_modules linked); the build command runs for real.
 * - Final stage, at the same path the build stage used (as /app is in both): `npm ci --omit=dev`
 *   becomes a copy of exactly the production packages package-lock.json lists; `COPY --from=build`
 *   copies from the build stage's folder, which is moved aside first, so a file the image does not
 *   copy is not there.
 * - Then CMD runs with the generated .env.production and the image's ENV (a temporary DATA_DIR, a
 *   free port, loopback), /health must
 *   answer, the HEALTHCHECK command must pass, SIGTERM must end it cleanly, and the image's files
 *   must be as they were (the StatefulSet mounts them read-only: readOnlyRootFilesystem).
 * Any instruction this test does not know fails it, so a changed Dockerfile cannot pass unread.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateDeployment } from "../../src/deploy/generate";
import { APP_DIR } from "../../src/deploy/runtime";
import { BUILD_ARGV, START_ARGV } from "../../scripts/selfhost/start-command.mjs";
import { PROJECT_ROOT, freePort } from "./helpers/local-server";
import { copyOf, envOf, execForm, stages, withKeyword, type Stage } from "./helpers/dockerfile";
import { waitForAnswer } from "../../scripts/lib/local-server.mjs";

const files = new Map(generateDeployment("production").map((f) => [f.path, f.content]));
const [buildStage, runtimeStage] = stages(files.get("Dockerfile")!) as [Stage, Stage];
const root = mkdtempSync(join(tmpdir(), "deploy-image-"));
/** Where both stages' WORKDIR (/app) lives here, one after the other. */
const app = join(root, "app");
const buildDir = join(root, "build");
const dataDir = join(root, "data");

/** `.dockerignore` as Docker reads it: each pattern matches a path from the context root, `*` within one segment. */
function ignoredBy(dockerignore: string): (path: string) => boolean {
  const patterns = dockerignore
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((p) => new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*")}$`));
  return (path) => {
    const parts = path.split("/");
    return parts.some((_, i) => patterns.some((re) => re.test(parts.slice(0, i + 1).join("/"))));
  };
}

function copyContext(source: string, dest: string, ignored: (path: string) => boolean) {
  const from = source === "." ? PROJECT_ROOT : join(PROJECT_ROOT, source);
  if (source !== "." && ignored(source)) throw new Error(`COPY ${source}: excluded by .dockerignore`);
  const target = dest.endsWith("/") || source === "." ? join(app, dest, source === "." ? "" : source.split("/").pop()!) : join(app, dest);
  cpSync(from, target, {
    recursive: true,
    verbatimSymlinks: true,
    filter: (path) => path === PROJECT_ROOT || !ignored(path.slice(PROJECT_ROOT.length + 1)),
  });
}

/** `npm ci --omit=dev`: the packages package-lock.json installs without the dev ones (those for another OS are absent here too). */
function installProductionPackages() {
  const lock = JSON.parse(readFileSync(join(PROJECT_ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, { dev?: boolean }> };
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (!path.startsWith("node_modules/") || path.slice("node_modules/".length).includes("node_modules/") || entry.dev) continue;
    if (!existsSync(join(PROJECT_ROOT, path))) continue;
    cpSync(join(PROJECT_ROOT, path), join(app, path), { recursive: true, dereference: true });
  }
}

function run(stage: "build" | "runtime", instruction: string, exec: string[] | null) {
  if (stage === "build" && /^npm ci( |$)/.test(instruction) && !instruction.includes("--omit=dev")) {
    symlinkSync(join(PROJECT_ROOT, "node_modules"), join(app, "node_modules"));
  } else if (stage === "runtime" && /^npm ci --omit=dev\b/.test(instruction)) {
    installProductionPackages();
  } else if (exec && JSON.stringify(exec) === JSON.stringify(BUILD_ARGV)) {
    const built = spawnSync(exec[0]!, exec.slice(1), { cwd: app, encoding: "utf8", env: process.env, timeout: 300_000 });
    if (built.status !== 0) throw new Error(`${exec.join(" ")} failed:\n${built.stdout}\n${built.stderr}`);
  } else if (stage === "runtime" && /apt-get install .*\btini\b/.test(instruction)) {
    // The init process: the command below runs without it (signals go to it directly).
  } else if (stage === "runtime" && /^mkdir -p \/data && chown node:node \/data$/.test(instruction)) {
    mkdirSync(dataDir, { recursive: true });
  } else {
    throw new Error(`RUN ${instruction}: not understood by this test`);
  }
}

function carryOut(stage: Stage, name: "build" | "runtime") {
  const ignored = ignoredBy(files.get(".dockerignore")!);
  mkdirSync(app, { recursive: true });
  for (const instruction of stage.instructions) {
    const keyword = instruction.getKeyword();
    if (keyword === "WORKDIR") expect(instruction.getArgumentsContent()).toBe(APP_DIR);
    else if (keyword === "COPY") {
      const copy = copyOf(instruction);
      for (const source of copy.sources) {
        if (copy.from === null) copyContext(source, copy.dest, ignored);
        else {
          expect(copy.from).toBe("build");
          expect(source.startsWith(`${APP_DIR}/`), source).toBe(true);
          const from = join(buildDir, source.slice(APP_DIR.length + 1));
          if (!existsSync(from)) throw new Error(`COPY --from=build ${source}: the build stage has no such file`);
          cpSync(from, join(app, copy.dest), { recursive: true, verbatimSymlinks: true });
        }
      }
    } else if (keyword === "RUN") {
      const text = instruction.getArgumentsContent() ?? "";
      run(
        name,
        text
          .replace(/\\\n\s*/g, " ")
          .replace(/\s+/g, " ")
          .trim(),
        text.trim().startsWith("[") ? execForm(instruction) : null,
      );
    } else if (!["ENV", "VOLUME", "EXPOSE", "USER", "HEALTHCHECK", "ENTRYPOINT", "CMD"].includes(keyword)) {
      throw new Error(`${keyword}: not understood by this test`);
    }
  }
}

/** Every path under `dir` with its size and modification time, to show nothing was written there. */
function snapshot(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((path) => {
      const stat = lstatSync(join(dir, path));
      return `${path} ${stat.size} ${stat.mtimeMs}`;
    })
    .sort();
}

let server: ChildProcess | undefined;
let imageFiles: string[] = [];
let port = 0;
let output = "";
const adminKey = `dmsa_${randomBytes(16).toString("hex")}`;

/** The generated `.env.production`, read as `docker run --env-file` reads it (everything after the first `=`). */
function envFileValues(): Record<string, string> {
  const lines = files
    .get(".env.production")!
    .split("\n")
    .filter((l) => l !== "" && !l.startsWith("#"));
  return Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
}

function imageEnv(): Record<string, string> {
  return { PATH: process.env.PATH ?? "", ...envOf(runtimeStage), DATA_DIR: dataDir, PORT: String(port), HOST: "127.0.0.1" };
}

beforeAll(async () => {
  carryOut(buildStage, "build");
  renameSync(app, buildDir);
  carryOut(runtimeStage, "runtime");
  imageFiles = snapshot(app);
  port = await freePort();
  const [command, ...args] = withKeyword(runtimeStage, "CMD").map(execForm).at(-1)!;
  server = spawn(command!, args, {
    cwd: app,
    // As `docker run --env-file .env.production` gives it: the generated settings, the required secrets filled in.
    env: { ...envFileValues(), ...imageEnv(), JWT_SECRET: randomBytes(32).toString("hex"), ADMIN_API_KEY: adminKey },
    stdio: ["ignore", "pipe", "pipe"],
  });
  server.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  server.stderr!.on("data", (d: Buffer) => (output += d.toString()));
}, 600_000);

afterAll(() => {
  if (server && server.exitCode === null) server.kill("SIGKILL");
  rmSync(root, { recursive: true, force: true });
});

function healthcheck(): number | null {
  const text = withKeyword(runtimeStage, "HEALTHCHECK")[0]!.getArgumentsContent()!;
  const [command, ...args] = JSON.parse(text.slice(text.indexOf("CMD ") + 4)) as string[];
  return spawnSync(command!, args, { env: imageEnv(), timeout: 30_000 }).status;
}

describe("the image, run as its Dockerfile says", () => {
  it("the final stage holds no development package and nothing of the source", () => {
    const installed = readdirSync(join(app, "node_modules"));
    for (const dev of ["wrangler", "vitest", "esbuild", "typescript", "kubernetes-models"]) expect(installed, dev).not.toContain(dev);
    expect(existsSync(join(app, "src"))).toBe(false);
    expect(existsSync(join(app, "test"))).toBe(false);
  });

  it("every package the command imports is a production dependency", () => {
    const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    // The command's script and every file it imports, followed from the entry.
    const seen = new Set<string>();
    const packages = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const m of readFileSync(file, "utf8").matchAll(/(?:from\s+|import\(\s*|require\(\s*)"([^"]+)"/g)) {
        const spec = m[1]!;
        if (spec.startsWith("node:")) continue;
        if (spec.startsWith(".")) visit(join(dirname(file), spec));
        else packages.add(spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!);
      }
    };
    visit(join(app, START_ARGV[1]!));
    expect(packages.size).toBeGreaterThan(0);
    for (const name of packages) expect(Object.keys(pkg.dependencies), name).toContain(name);
  });

  it("CMD starts the server from the copied files: /health answers, the HEALTHCHECK passes, SIGTERM ends it cleanly", async () => {
    const exited = () => (server!.exitCode !== null ? `exited ${server!.exitCode}:\n${output}` : null);
    const ready = await waitForAnswer(`http://127.0.0.1:${port}/health`, { timeoutMs: 90_000, exited });
    expect(ready, output).toMatchObject({ ready: true });
    const health = (await (await fetch(`http://127.0.0.1:${port}/health`, { headers: { "X-API-Key": adminKey } })).json()) as {
      status: string;
      features: Record<string, boolean>;
      checks: Record<string, { ok: boolean }>;
    };
    expect(health.status, JSON.stringify(health)).toBe("healthy");
    expect(health.checks.d1!.ok).toBe(true);
    expect(health.features.self_hosting).toBe(true);
    expect(healthcheck()).toBe(0);
    // The call page's assets come from the copied dist/client.
    expect((await fetch(`http://127.0.0.1:${port}/assets/call-page.js`)).status).toBe(200);

    const stopped = new Promise<number | null>((done) => server!.once("exit", (code) => done(code)));
    server!.kill("SIGTERM");
    expect(await stopped).toBe(0);
    expect(healthcheck()).not.toBe(0);
    // Everything was written to the volume, nothing next to the image's files.
    expect(readdirSync(dataDir).length).toBeGreaterThan(0);
    expect(snapshot(app)).toEqual(imageFiles);
  });
});
