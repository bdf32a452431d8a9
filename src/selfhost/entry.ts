/**
 * The Worker as the self-hosted server runs it (scripts/selfhost/start.mjs): the same handlers and
 * Durable Objects as src/index.ts, plus what the platform would otherwise provide:
 * - a `RATE_LIMITER` counted in this process when the runtime has no rate-limit binding;
 * - `POST /__selfhost/migrate`, which applies the D1 migrations. It exists only while the server
 *   runs its start-up pass on a private loopback port (the start script sets the one-time token
 *   and the migrations as vars then), so the public port never answers it.
 */
import worker from "../index";
import { applyMigrations, type Migration } from "./migrate";
import { localRateLimiter } from "./local-rate-limiter";

export { AgentDO, CallSessionDO } from "../index";

type SelfHostVars = {
  /** JSON `{ limit, period }`: wrangler.toml's `[[ratelimits]] simple`. */
  SELFHOST_RATE_LIMIT?: string;
  /** JSON `Migration[]`, only during the start-up pass. */
  SELFHOST_MIGRATIONS?: string;
  /** The start-up pass's one-time token, only during that pass. */
  SELFHOST_MIGRATE_TOKEN?: string;
};
type SelfHostEnv = Env & SelfHostVars;

const MIGRATE_PATH = "/__selfhost/migrate";
const DEFAULT_LIMIT = { limit: 600, period: 60 };

const completed = new WeakMap<object, Env>();

/** The env with the bindings this runtime lacks filled in; one object per env, so config is parsed once. */
function withLocalBindings(env: SelfHostEnv): Env {
  const known = completed.get(env);
  if (known) return known;
  let full: Env = env;
  if (typeof (env as Partial<Env>).RATE_LIMITER?.limit !== "function") {
    const { limit, period } = env.SELFHOST_RATE_LIMIT ? (JSON.parse(env.SELFHOST_RATE_LIMIT) as typeof DEFAULT_LIMIT) : DEFAULT_LIMIT;
    full = { ...env, RATE_LIMITER: localRateLimiter(limit, period) };
  }
  completed.set(env, full);
  return full;
}

async function migrate(request: Request, env: SelfHostEnv): Promise<Response> {
  if (request.method !== "POST" || request.headers.get("x-migrate-token") !== env.SELFHOST_MIGRATE_TOKEN) {
    return new Response("forbidden", { status: 403 });
  }
  const migrations = JSON.parse(env.SELFHOST_MIGRATIONS ?? "[]") as Migration[];
  try {
    const applied = await applyMigrations(env.DB, migrations);
    return Response.json({ applied });
  } catch (err) {
    return Response.json({ error: (err as Error).message }, { status: 500 });
  }
}

export default {
  fetch(request, env, ctx) {
    if (env.SELFHOST_MIGRATE_TOKEN && new URL(request.url).pathname === MIGRATE_PATH) return migrate(request, env);
    return worker.fetch(request, withLocalBindings(env), ctx);
  },
  queue: worker.queue,
  email: worker.email,
} satisfies ExportedHandler<SelfHostEnv>;
