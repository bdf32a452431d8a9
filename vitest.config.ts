import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { configDefaults, defineConfig } from "vitest/config";
import { ADMIN_KEY, JWT_SECRET } from "./test/secrets.mjs";

/** Rate-limit tests need a limit they can reach; they run alone with this one (see below). */
const RATE_LIMIT_TESTS = "test/integration/rate-limit*.test.ts";
const TEST_RATE_LIMIT = 5;

/**
 * Three projects, one `npm test`:
 * - `workers`: unit and integration tests inside workerd (real DOs, KV, D1, Queues).
 * - `workers-ratelimit`: the same Worker with the RATE_LIMITER binding lowered to
 *   TEST_RATE_LIMIT requests per 60 s (also given to the tests as the TEST_RATE_LIMIT binding).
 *   Miniflare options apply to a whole project, so the small limit gets its own project rather
 *   than throttling every other test.
 * - `e2e`: Node-side tests against a real `wrangler dev --local` process.
 */
/**
 * Ceilings for the workers projects, sized for a busy 2-core CI machine: a wait gives up (and a
 * test fails) only long after the thing waited for should have happened. Tests never bound how
 * fast something happens more tightly than its documented deadline plus a wide margin.
 */
const WAIT_LIMITS = { testTimeout: 30_000, expect: { poll: { timeout: 10_000 } } };

export default defineConfig(async () => {
  const migrations = await readD1Migrations("./migrations");
  /** The Worker under test; with `rateLimit`, RATE_LIMITER allows that many requests per 60 s. */
  const workersPlugin = (rateLimit?: number) =>
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      remoteBindings: false,
      miniflare: {
        bindings: {
          TEST_MIGRATIONS: migrations,
          JWT_SECRET,
          ADMIN_API_KEY: ADMIN_KEY,
          // Empty whatever wrangler.toml says, so the refusal tests see the bare policy; a test that
          // needs an internal target allows it for itself (callWith, or --var in an e2e server).
          OUTBOUND_ALLOW_HOSTS: "",
          // One-second recording chunks, so the recording tests see several chunks in a few seconds of audio.
          RECORDING_CHUNK_SECONDS: "1",
          ...(rateLimit ? { TEST_RATE_LIMIT: rateLimit } : {}),
        },
        // Replaces wrangler.toml's RATE_LIMITER (600/60 s) for that project only.
        ...(rateLimit ? { ratelimits: { RATE_LIMITER: { namespace_id: "1001", simple: { limit: rateLimit, period: 60 as const } } } } : {}),
      },
    });
  return {
    test: {
      silent: "passed-only" as const,
      projects: [
        {
          plugins: [workersPlugin()],
          test: {
            name: "workers",
            ...WAIT_LIMITS,
            include: ["test/unit/**/*.test.ts", "test/integration/**/*.test.ts"],
            exclude: [...configDefaults.exclude, RATE_LIMIT_TESTS],
            setupFiles: ["./test/setup.ts"],
            // Local SMTP servers (Node side) for test/integration/smtp-*.test.ts; ports via inject("smtp").
            globalSetup: ["./test/global-setup/smtp.ts"],
          },
        },
        {
          plugins: [workersPlugin(TEST_RATE_LIMIT)],
          test: {
            name: "workers-ratelimit",
            ...WAIT_LIMITS,
            include: [RATE_LIMIT_TESTS],
            setupFiles: ["./test/setup.ts"],
          },
        },
        {
          test: {
            name: "e2e",
            environment: "node",
            include: ["test/e2e/**/*.test.ts"],
            testTimeout: 120_000,
            hookTimeout: 120_000,
            // Each file starts its own wrangler dev; two at once is what 2 cores can carry.
            maxWorkers: 1,
          },
        },
      ],
    },
  };
});
