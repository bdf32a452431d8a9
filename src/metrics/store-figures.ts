/**
 * The figures that must be true whichever isolate answers: counts by status and durations, read
 * from D1's totals (migrations/0008_metrics.sql), which triggers keep in the statements that write
 * the rows they count. One round trip of two primary-key range reads: the rows read are bounded
 * by the label values (statuses, providers, built-in task types), not by agents, tasks or messages.
 */
import { APPROVAL_STATUSES } from "../approvals/model";
import { TASK_STATUSES } from "../tasks/model";
import { DURATION_BUCKETS, DURATION_COLUMNS } from "./duration-buckets";
import type { Family, HistogramSample, ValueSample } from "./exposition";

export const COUNTS_SQL =
  "SELECT metric, label_1, label_2, n FROM metric_counts WHERE metric IN ('tasks', 'approvals', 'calls', 'email_messages_total')";
export const HISTOGRAMS_SQL = `SELECT metric, label_1, label_2, count, sum, ${DURATION_COLUMNS.join(", ")}
  FROM metric_histograms WHERE metric IN ('task_duration_seconds', 'call_duration_seconds')`;

/** Calls that started and have not ended: `calls_active` counts these statuses. */
export const ACTIVE_CALL_STATUSES = ["active", "on_hold"] as const;

type CountRow = { metric: string; label_1: string; label_2: string; n: number };
type HistogramRow = { metric: string; label_1: string; label_2: string; count: number; sum: number } & Record<string, number | string>;

function byStatus(rows: CountRow[], metric: string, statuses: readonly string[]): ValueSample[] {
  const n = new Map(rows.filter((r) => r.metric === metric).map((r) => [r.label_1, r.n]));
  // Every status is shown, 0 included, so a dashboard's series do not appear and vanish.
  return statuses.map((status) => ({ labels: { status }, value: n.get(status) ?? 0 }));
}

function histogram(row: HistogramRow, labels: Record<string, string>): HistogramSample {
  return { labels, cumulative: DURATION_COLUMNS.map((c) => Number(row[c])), count: row.count, sum: row.sum };
}

export async function storeFamilies(db: D1Database): Promise<Family[]> {
  const [countsResult, histogramsResult] = await db.batch<CountRow | HistogramRow>([db.prepare(COUNTS_SQL), db.prepare(HISTOGRAMS_SQL)]);
  const counts = (countsResult?.results ?? []) as CountRow[];
  const histograms = (histogramsResult?.results ?? []) as HistogramRow[];
  const callRow = histograms.find((r) => r.metric === "call_duration_seconds");
  return [
    {
      name: "tasks",
      help: "Tasks by status, over all agents, as each agent's Durable Object last published them (lag: up to METRICS_ROLLUP_INTERVAL_SECONDS).",
      type: "gauge",
      samples: byStatus(counts, "tasks", TASK_STATUSES),
    },
    {
      name: "task_duration_seconds",
      help: "Time from a task's creation to its final status, by task type (built-in name, or external) and final status (lag as tasks).",
      type: "histogram",
      bounds: DURATION_BUCKETS,
      samples: histograms
        .filter((r) => r.metric === "task_duration_seconds")
        .map((r) => histogram(r, { task_type: r.label_1, status: r.label_2 })),
    },
    {
      name: "approvals",
      help: "Approval requests by status, over all agents (from the approval index).",
      type: "gauge",
      samples: byStatus(counts, "approvals", APPROVAL_STATUSES),
    },
    {
      name: "email_messages_total",
      help: "Messages that entered each status, by provider (none: before a provider took the message).",
      type: "counter",
      samples: counts
        .filter((r) => r.metric === "email_messages_total")
        .map((r) => ({ labels: { provider: r.label_1, status: r.label_2 }, value: r.n })),
    },
    {
      name: "calls_active",
      help: "Calls that started and have not ended (status active or on_hold), over all agents.",
      type: "gauge",
      samples: [
        {
          labels: {},
          value: counts
            .filter((r) => r.metric === "calls" && (ACTIVE_CALL_STATUSES as readonly string[]).includes(r.label_1))
            .reduce((sum, r) => sum + r.n, 0),
        },
      ],
    },
    {
      name: "call_duration_seconds",
      help: "Durations of calls that started, observed when they end or fail (ended_at - started_at, hold time included).",
      type: "histogram",
      bounds: DURATION_BUCKETS,
      samples: [callRow ? histogram(callRow, {}) : { labels: {}, cumulative: DURATION_BUCKETS.map(() => 0), count: 0, sum: 0 }],
    },
  ];
}
