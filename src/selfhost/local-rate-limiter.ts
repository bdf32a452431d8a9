/**
 * The `RATE_LIMITER` binding where the platform has none (the self-hosted runtime): a fixed
 * window per key, counted in this isolate. The self-hosted server is one process, so the count is
 * the server's own, which is at least as exact as the platform's per-location counters.
 */
type Window = { start: number; count: number };

/** Keys idle for a whole window are forgotten once the table holds this many. */
const SWEEP_AT = 10_000;

export function localRateLimiter(limit: number, periodSeconds: number, now: () => number = Date.now): RateLimit {
  const windows = new Map<string, Window>();
  const periodMs = periodSeconds * 1000;
  const sweep = (at: number) => {
    for (const [key, window] of windows) if (at - window.start >= periodMs) windows.delete(key);
  };
  return {
    async limit({ key }) {
      const at = now();
      if (windows.size >= SWEEP_AT) sweep(at);
      const current = windows.get(key);
      if (!current || at - current.start >= periodMs) {
        windows.set(key, { start: at, count: 1 });
        return { success: limit >= 1 };
      }
      current.count += 1;
      return { success: current.count <= limit };
    },
  };
}
