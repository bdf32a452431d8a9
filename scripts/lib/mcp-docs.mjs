// The generated sections of docs/mcp.md (the MCP tool and resource tables), rendered from the
// registry in src/mcp/ by src/mcp/docs.ts. esbuild bundles that module for Node; the Workers-only
// modules the services import (`cloudflare:*`) become stubs, never called: the tables need the
// tools' names, schemas and descriptions, not their services.
// Plain JavaScript with JSDoc types: node scripts import it as it is and TypeScript checks it.
import * as esbuild from "esbuild";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const MCP_DOC = join(ROOT, "docs/mcp.md");

/** @type {Record<string, string>} */
const STUBS = {
  "cloudflare:workers": "export const env = {}; export class DurableObject {} export class WorkerEntrypoint {}",
  "cloudflare:sockets": "export function connect() { throw new Error('cloudflare:sockets exists only inside workerd'); }",
};

/** @type {import("esbuild").Plugin} */
const workersStubs = {
  name: "workers-stubs",
  setup(build) {
    build.onResolve({ filter: /^cloudflare:/ }, (args) => ({ path: args.path, namespace: "workers-stub" }));
    build.onLoad({ filter: /.*/, namespace: "workers-stub" }, (args) => {
      const contents = STUBS[args.path];
      if (contents === undefined) throw new Error(`no stub for ${args.path}: add one to scripts/lib/mcp-docs.mjs`);
      return { contents, loader: "js" };
    });
  },
};

/**
 * Each generated section of docs/mcp.md by its marker name, rendered from the registry.
 * @returns {Promise<Record<string, string>>}
 */
export async function renderSections() {
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: ["src/mcp/docs.ts"],
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node22",
    write: false,
    logLevel: "warning",
    plugins: [workersStubs],
    // CommonJS dependencies (yaml, for the deployment tool) require Node built-ins; an ES module has no `require`.
    banner: {
      js: `import { createRequire } from "node:module"; const require = createRequire(${JSON.stringify(join(ROOT, "package.json"))});`,
    },
  });
  const code = result.outputFiles[0]?.text ?? "";
  /** @type {{ renderMcpDocSections(): Record<string, string> }} */
  const mod = await import(`data:text/javascript;base64,${Buffer.from(code).toString("base64")}`);
  return mod.renderMcpDocSections();
}

/**
 * `text` with each section's body replaced between `<!-- name:start -->` and `<!-- name:end -->`.
 * @param {string} text
 * @param {Record<string, string>} sections
 * @returns {string}
 */
export function withSections(text, sections) {
  let out = text;
  for (const [name, body] of Object.entries(sections)) {
    const start = `<!-- ${name}:start -->`;
    const end = `<!-- ${name}:end -->`;
    const from = out.indexOf(start);
    const to = out.indexOf(end);
    if (from < 0 || to < from) throw new Error(`docs/mcp.md lacks the markers ${start} … ${end}`);
    out = `${out.slice(0, from + start.length)}\n${body}\n${out.slice(to)}`;
  }
  return out;
}
