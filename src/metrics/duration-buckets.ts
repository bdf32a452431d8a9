/**
 * The bounds, in seconds, of the task and call duration histograms, which the stores keep
 * (D1 migration 0008 and the agent's SQLite schema, version 12, name one `le_…` column per
 * bound). Changing them takes a migration of both.
 */
export const DURATION_BUCKETS = [0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400] as const;

/** `le_0_1`, `le_0_5`, `le_1`, … : the column of each bound. */
export const DURATION_COLUMNS = DURATION_BUCKETS.map((b) => `le_${String(b).replace(".", "_")}`);
