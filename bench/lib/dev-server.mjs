// One local dev server for the benchmark: wrangler's own dev server (`unstable_startWorker`,
// the engine behind `wrangler dev --local`: same bundler, Miniflare, workerd and local
// simulators), started with the DevTools inspector only when `--inspector-port` is given.
//
// Why not the `wrangler dev` CLI: it always attaches the inspector, and then every console call
// of the Worker is serialized for DevTools and forwarded by wrangler's inspector proxy to the
// wrangler process over HTTP. That costs about 1.4 ms of CPU per log line on this machine —
// dev tooling that neither Cloudflare nor a self-hosted workerd has — so the timed windows run
// without it, and only the profiles (which need the inspector) run with it.
//
//   node bench/lib/dev-server.mjs --port P [--inspector-port I] -c wrangler.toml
//        [--persist-to DIR] [--env-file FILE] [--var NAME:VALUE]...
//
// It serves until SIGTERM/SIGINT. Worker logs and queue batch lines go to stdout, as with the CLI.
import { parseArgs } from "node:util";
import { unstable_startWorker } from "wrangler";

const { values } = parseArgs({
  options: {
    port: { type: "string" },
    "inspector-port": { type: "string" },
    config: { type: "string", short: "c" },
    "persist-to": { type: "string" },
    "env-file": { type: "string" },
    var: { type: "string", multiple: true, default: [] },
  },
});

/** `--var NAME:VALUE` overrides, as plain-text bindings (like the CLI's `--var`). */
const bindings = Object.fromEntries(
  values.var.map((v) => {
    const at = v.indexOf(":");
    return [v.slice(0, at), { type: "plain_text", value: v.slice(at + 1) }];
  }),
);

const worker = await unstable_startWorker({
  config: values.config,
  bindings,
  // The env file replaces .dev.vars/.env, so a run never reads a developer's secrets.
  envFiles: values["env-file"] ? [values["env-file"]] : [],
  dev: {
    remote: false,
    // A benchmark measures one build: edits made during a run do not reload it.
    watch: false,
    persist: values["persist-to"],
    server: { hostname: "127.0.0.1", port: Number(values.port) },
    inspector: values["inspector-port"] ? { hostname: "127.0.0.1", port: Number(values["inspector-port"]) } : false,
  },
});
await worker.ready;
console.log(`Ready on http://127.0.0.1:${values.port}`);

let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    worker.dispose().finally(() => process.exit(0));
  });
}
