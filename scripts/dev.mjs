// `npm run dev`: local secrets, D1 migrations, then `wrangler dev --local`, all persisted under
// .data/ (git-ignored), so a restart keeps every store. No Cloudflare account is needed.
// Extra arguments go to wrangler: `npm run dev -- --port 9000`.
import { spawnSync } from "node:child_process";
import { ensureDevVars } from "./dev-vars.mjs";
import { PROJECT_ROOT, WRANGLER_JS, applyMigrations, nodeBinary } from "./lib/local-server.mjs";

const persist = process.env.PERSIST_TO ?? ".data";
const env = { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: process.env.CLOUDFLARE_CF_FETCH_ENABLED ?? "false" };
const devVars = ensureDevVars();
// wrangler dev passes a client's own CF-Connecting-IP through unchanged, so locally no address
// header is trusted (anonymous callers share one rate-limit bucket) unless .dev.vars names one.
const clientIp = "CLIENT_IP_HEADER" in devVars ? [] : ["--var", "CLIENT_IP_HEADER:"];

try {
  applyMigrations(persist, { env, inherit: true });
} catch {
  process.exit(1);
}
const dev = spawnSync(nodeBinary(), [WRANGLER_JS, "dev", "--local", "--persist-to", persist, ...clientIp, ...process.argv.slice(2)], {
  cwd: PROJECT_ROOT,
  stdio: "inherit",
  env,
});
process.exit(dev.status ?? 0);
