// npm run selfhost -- generate --env development|staging|production --out DIR
//                                [--domain D] [--image I] [--storage-size S] [--force]
// Writes the deployment bundle (Dockerfile, Compose, .env, Kubernetes, Prometheus/Grafana) that
// src/deploy/ generates; GET /api/v2/deploy/{env} returns the same files. A bad environment or
// option exits 2 and writes nothing (not even DIR); existing files are kept unless --force (exit 1).
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { build } from "esbuild";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const USAGE =
  "usage: npm run selfhost -- generate --env development|staging|production --out DIR [--domain D] [--image I] [--storage-size S] [--force]";

/** Each option's flag, by its name in the shared schema. */
const FLAGS = { domain: "--domain", image: "--image", storage_size: "--storage-size" };

function fail(code, message) {
  console.error(`selfhost: ${message}\n${USAGE}`);
  process.exit(code);
}

/** src/deploy/ as one ES module (TypeScript, bundled by the project's esbuild). */
async function loadGenerators() {
  const out = await build({
    entryPoints: [join(ROOT, "src/deploy/index.ts")],
    bundle: true,
    format: "esm",
    platform: "neutral",
    mainFields: ["module", "main"],
    write: false,
    logLevel: "error",
  });
  return import(`data:text/javascript;base64,${Buffer.from(out.outputFiles[0].text).toString("base64")}`);
}

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      env: { type: "string" },
      out: { type: "string" },
      domain: { type: "string" },
      image: { type: "string" },
      "storage-size": { type: "string" },
      force: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
} catch (err) {
  fail(2, err instanceof Error ? err.message : String(err));
}
const { values, positionals } = parsed;
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
if (positionals.length !== 1 || positionals[0] !== "generate")
  fail(2, `unknown command ${JSON.stringify(positionals.join(" "))} (only "generate")`);
if (!values.out) fail(2, "--out DIR is required");

const { DeployEnvironment, DeployOptions, DEPLOY_ENVIRONMENTS, generateDeployment } = await loadGenerators();
const env = DeployEnvironment.safeParse(values.env);
if (!env.success) fail(2, `--env must be one of ${DEPLOY_ENVIRONMENTS.join(", ")}, not ${JSON.stringify(values.env ?? "")}`);
const given = Object.fromEntries(
  Object.entries({ domain: values.domain, image: values.image, storage_size: values["storage-size"] }).filter(([, v]) => v !== undefined),
);
const options = DeployOptions.safeParse(given);
if (!options.success) {
  fail(2, options.error.issues.map((i) => `${FLAGS[String(i.path[0])] ?? i.path.join(".")}: ${i.message}`).join("; "));
}

const out = resolve(values.out);
const files = generateDeployment(env.data, options.data);
const existing = files.filter((f) => existsSync(join(out, f.path))).map((f) => f.path);
if (existing.length > 0 && !values.force) {
  fail(1, `refusing to overwrite ${existing.length} existing file(s) in ${out} (${existing.join(", ")}); pass --force to replace them`);
}
for (const file of files) {
  const target = join(out, file.path);
  mkdirSync(dirname(target), { recursive: true });
  // The .env file and the Secret will hold real secrets once filled in: owner-only.
  const secret = file.path.startsWith(".env") || file.path.endsWith("secret.yaml");
  writeFileSync(target, file.content, { mode: secret ? 0o600 : 0o644 });
}
console.log(`selfhost: wrote ${files.length} files for ${env.data} to ${out}`);
for (const file of files) console.log(`  ${file.path}`);
