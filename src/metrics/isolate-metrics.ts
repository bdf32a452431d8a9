/**
 * The per-isolate families: what this Worker isolate has answered since it started. Recorded in
 * the Worker (the request middleware, the state service), never inside a Durable Object, whose
 * isolate on Cloudflare is not the one that answers `/metrics`.
 */
import { Counter, Histogram } from "./registry";

/** Seconds; Prometheus client libraries' default buckets, which suit an API answering in milliseconds. */
export const RESPONSE_TIME_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

export const requestsTotal = new Counter(
  "agent_requests_total",
  "HTTP requests answered by this isolate, by method, route template (unmatched: no route) and status. Per isolate.",
  ["method", "route", "status"],
);

export const responseTime = new Histogram(
  "agent_response_time_seconds",
  "Time from the request to the response headers, by method and route template. Per isolate.",
  RESPONSE_TIME_BUCKETS,
  ["method", "route"],
);

export const errorsTotal = new Counter(
  "agent_errors_total",
  "Problem responses (4xx and 5xx) answered by this isolate, by problem code. Per isolate.",
  ["code"],
);

export const stateSavesTotal = new Counter("agent_state_saves_total", "Agent state saves acknowledged by this isolate. Per isolate.");

/**
 * When this isolate began counting, in Unix seconds, taken at its first request (the clock reads
 * 0 in a Worker's global scope): a counter that drops under a new start time was reset.
 */
let startedAt: number | undefined;

export function noteIsolateStart(): void {
  startedAt ??= Date.now() / 1000;
}

export function isolateFamilies() {
  noteIsolateStart();
  return [
    requestsTotal.family(),
    responseTime.family(),
    errorsTotal.family(),
    stateSavesTotal.family(),
    {
      name: "agent_isolate_start_time_seconds",
      help: "When the isolate that answered this scrape started counting (Unix seconds): its per-isolate counters begin here.",
      type: "gauge" as const,
      samples: [{ labels: {}, value: startedAt! }],
    },
  ];
}
