/**
 * One Analytics Engine data point per request, written when the optional `METRICS_EVENTS`
 * binding exists. Unlike the per-isolate counters, these points are collected from every isolate
 * and read back with the SQL API (docs/monitoring.md#analytics-engine). Layout:
 *
 * | field    | holds                                                   |
 * | -------- | ------------------------------------------------------- |
 * | index1   | the route template (the sampling key), at most 96 bytes |
 * | blob1..5 | method, route template, status, problem code or "", colo or "" |
 * | double1  | response time in seconds                                |
 * | double2  | status                                                  |
 * @see https://developers.cloudflare.com/analytics/analytics-engine/get-started/
 */

/** Analytics Engine's limits: at most 20 blobs and 20 doubles, one index of at most 96 bytes. */
export const MAX_INDEX_BYTES = 96;

export interface RequestOutcome {
  method: string;
  route: string;
  status: number;
  code: string | undefined;
  seconds: number;
  colo: string | undefined;
}

/** The first `max` bytes of `text` as UTF-8, never splitting a character. */
export function truncateUtf8(text: string, max: number): string {
  const bytes = new TextEncoder().encode(text);
  if (bytes.byteLength <= max) return text;
  let end = max;
  // Step back over continuation bytes (10xxxxxx) to the start of the cut character.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return new TextDecoder().decode(bytes.subarray(0, end));
}

export function requestDataPoint(o: RequestOutcome): AnalyticsEngineDataPoint {
  return {
    indexes: [truncateUtf8(o.route, MAX_INDEX_BYTES)],
    blobs: [o.method, o.route, String(o.status), o.code ?? "", o.colo ?? ""],
    doubles: [o.seconds, o.status],
  };
}

/** The dataset binding, when the deployment declares one (wrangler.toml `[[analytics_engine_datasets]]`). */
export function requestDataset(env: object): AnalyticsEngineDataset | undefined {
  const binding = (env as { METRICS_EVENTS?: unknown }).METRICS_EVENTS;
  return binding && typeof (binding as AnalyticsEngineDataset).writeDataPoint === "function"
    ? (binding as AnalyticsEngineDataset)
    : undefined;
}
