// Builds the browser code into the Worker's static assets (wrangler.toml `[assets]`: dist/client/,
// git-ignored): the call page's script (src/calls/page/client/main.ts and what it imports, bundled
// into one ES module with a linked source map), its style, its AudioWorklet module (the microphone
// tap for live transcription), and `_headers` for them; the dashboard's script and style likewise
// (src/dashboard/client/).
// `npm run dev`, `npm test` and `npm run deploy` run it first; `npm run build:client -- --watch`
// rebuilds on every change (for `npm run dev` in another terminal).
//
// Several `npm test` runs may build at once while a `wrangler dev` serves the folder: a file is
// written only when its content changed, through a temporary file and a rename, so a reader never
// sees half a file and an unchanged build touches nothing.
import * as esbuild from "esbuild";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CLIENT = "src/calls/page/client";
// The dashboard at `/` (src/dashboard/page-html.ts names its files): its own client folder and tsconfig.
const DASHBOARD = "src/dashboard/client";
const OUT_DIR = join(ROOT, "dist/client");

// The URLs are fixed (the page's HTML names them), so browsers revalidate on every load (a 304
// with the ETag the platform sets). Cloudflare and wrangler dev apply this file; it is not served.
const HEADERS = `# Written by scripts/build-client.mjs.
/assets/*
  Cache-Control: no-cache
  X-Content-Type-Options: nosniff
`;

/** @type {import("esbuild").BuildOptions} */
const options = {
  absWorkingDir: ROOT,
  entryPoints: [
    { in: `${CLIENT}/main.ts`, out: "assets/call-page" },
    { in: `${CLIENT}/call-page.css`, out: "assets/call-page" },
    // The microphone tap for live transcription: an AudioWorklet module must be a file of its own.
    { in: `${CLIENT}/audio-worklet.ts`, out: "assets/call-audio-worklet" },
    { in: `${DASHBOARD}/main.ts`, out: "assets/dashboard" },
    { in: `${DASHBOARD}/dashboard.css`, out: "assets/dashboard" },
  ],
  outdir: OUT_DIR,
  tsconfig: `${CLIENT}/tsconfig.json`,
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  minify: true,
  sourcemap: "linked",
  legalComments: "none",
  logLevel: "warning",
  write: false,
};

function listFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name)) : [join(dir, e.name)]));
}

function writeIfChanged(path, contents) {
  const bytes =
    typeof contents === "string" ? Buffer.from(contents) : Buffer.from(contents.buffer, contents.byteOffset, contents.byteLength);
  if (existsSync(path) && readFileSync(path).equals(bytes)) return false;
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
  return true;
}

/** Writes the build's files and removes any other file left in dist/client by an earlier build. */
function writeOutputs(outputFiles) {
  const files = new Map(outputFiles.map((f) => [f.path, f.contents]));
  files.set(join(OUT_DIR, "_headers"), HEADERS);
  const changed = [...files].filter(([path, contents]) => writeIfChanged(path, contents)).map(([path]) => path);
  for (const stale of listFiles(OUT_DIR)) {
    if (!files.has(stale) && !stale.endsWith(".tmp")) rmSync(stale, { force: true });
  }
  const sizes = outputFiles
    .filter((f) => !f.path.endsWith(".map"))
    .map((f) => `${relative(OUT_DIR, f.path)} ${(f.contents.byteLength / 1024).toFixed(1)} KiB`);
  process.stderr.write(`build-client: dist/client/{${sizes.join(", ")}}${changed.length ? "" : " (unchanged)"}\n`);
}

if (process.argv.includes("--watch")) {
  const ctx = await esbuild.context({
    ...options,
    plugins: [{ name: "write-outputs", setup: (build) => build.onEnd((result) => result.outputFiles && writeOutputs(result.outputFiles)) }],
  });
  await ctx.watch();
  process.stderr.write(`build-client: watching ${CLIENT}/\n`);
} else {
  const result = await esbuild.build(options);
  writeOutputs(result.outputFiles);
}
