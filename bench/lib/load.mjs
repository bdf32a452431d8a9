// The load generator: a fixed number of concurrent keep-alive HTTP/1.1 clients (node:http)
// sending back-to-back requests to 127.0.0.1 for a fixed time (with a hard cap on the count).
import http from "node:http";
import { performance } from "node:perf_hooks";

/** One keep-alive connection pool per server, reused across its windows. */
export function keepAliveAgent(concurrency) {
  return new http.Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
}

/**
 * A request template. `headers` must already hold content-length when there is a body, so
 * nothing is computed per request on the client side.
 * @typedef {{ method: string, path: string, headers: Record<string, string>, body?: Buffer }} Req
 */

function send(agent, port, req) {
  return new Promise((resolve) => {
    const r = http.request({ host: "127.0.0.1", port, method: req.method, path: req.path, headers: req.headers, agent }, (res) => {
      let bytes = 0;
      res.on("data", (chunk) => {
        bytes += chunk.length;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, bytes }));
      res.on("error", (err) => resolve({ status: 0, bytes, error: err.message }));
    });
    r.on("error", (err) => resolve({ status: 0, bytes: 0, error: err.message }));
    r.end(req.body);
  });
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/**
 * Runs `concurrency` clients for `durationMs` (or until `maxRequests` were sent).
 * `nextRequest(i)` gives the i-th request; a status outside `okStatus` counts as an error.
 */
export async function runWindow({ agent, port, concurrency, durationMs, maxRequests, nextRequest, okStatus = [200] }) {
  const latencies = new Float64Array(maxRequests);
  let issued = 0;
  let completed = 0;
  let errors = 0;
  let bytes = 0;
  const statuses = {};
  let firstError = null;
  const start = performance.now();
  const deadline = start + durationMs;

  async function client() {
    while (issued < maxRequests && performance.now() < deadline) {
      const req = nextRequest(issued++);
      const t0 = performance.now();
      const res = await send(agent, port, req);
      const dt = performance.now() - t0;
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      if (okStatus.includes(res.status)) {
        latencies[completed++] = dt;
        bytes += res.bytes;
      } else {
        errors++;
        firstError ??= `${req.method} ${req.path} → ${res.status}${res.error ? ` (${res.error})` : ""}`;
      }
    }
  }

  await Promise.all(Array.from({ length: concurrency }, client));
  const elapsedMs = performance.now() - start;
  const sorted = latencies.subarray(0, completed).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    completed,
    errors,
    firstError,
    statuses,
    elapsedMs,
    rps: (completed / elapsedMs) * 1000,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    meanMs: completed ? sum / completed : NaN,
    avgResponseBytes: completed ? bytes / completed : 0,
  };
}
