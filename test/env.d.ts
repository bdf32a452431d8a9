// Test-only bindings, set in vitest.config.ts.
declare namespace Cloudflare {
  interface Env {
    TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
    /** Only in the `workers-ratelimit` project: the RATE_LIMITER limit per 60 s. */
    TEST_RATE_LIMIT?: number;
  }
}
