/**
 * The Grafana dashboard (Compose: provisioned from a file; Kubernetes: a ConfigMap the Grafana
 * sidecar picks up). Every query uses a family the app exports at /metrics (docs/monitoring.md);
 * a test reads each expression's metric names and finds them in a live scrape.
 */
import type { GeneratedFile } from "./files";
import { DASHBOARD_FILE } from "./monitoring";

interface Panel {
  title: string;
  unit: string;
  /** Legend per series; `{{label}}` takes a label's value. */
  targets: { expr: string; legend: string }[];
  description: string;
}

export const DASHBOARD_PANELS: readonly Panel[] = [
  {
    title: "Requests per second by route",
    unit: "reqps",
    description: "Counted by the process that answered (one process when self-hosted).",
    targets: [{ expr: "sum by (route) (rate(agent_requests_total[5m]))", legend: "{{route}}" }],
  },
  {
    title: "Response time p95 by route",
    unit: "s",
    description: "From the request to the response headers.",
    targets: [{ expr: "histogram_quantile(0.95, sum by (le, route) (rate(agent_response_time_seconds_bucket[5m])))", legend: "{{route}}" }],
  },
  {
    title: "Errors per second by problem code",
    unit: "reqps",
    description: "Every 4xx/5xx problem answer, by its code.",
    targets: [{ expr: "sum by (code) (rate(agent_errors_total[5m]))", legend: "{{code}}" }],
  },
  {
    title: "State saves per second",
    unit: "ops",
    description: "Acknowledged saves.",
    targets: [{ expr: "sum(rate(agent_state_saves_total[5m]))", legend: "saves" }],
  },
  {
    title: "Tasks by status",
    unit: "short",
    description: "Up to METRICS_ROLLUP_INTERVAL_SECONDS behind.",
    targets: [{ expr: "sum by (status) (tasks)", legend: "{{status}}" }],
  },
  {
    title: "Task duration p95 by type",
    unit: "s",
    description: "Creation to final status, queue waits and retries included.",
    targets: [
      { expr: "histogram_quantile(0.95, sum by (le, task_type) (rate(task_duration_seconds_bucket[15m])))", legend: "{{task_type}}" },
    ],
  },
  {
    title: "Approvals by status",
    unit: "short",
    description: "From the approval index.",
    targets: [{ expr: "sum by (status) (approvals)", legend: "{{status}}" }],
  },
  {
    title: "Email messages per hour by provider and status",
    unit: "short",
    description: "Messages entering each status.",
    targets: [{ expr: "sum by (provider, status) (increase(email_messages_total[1h]))", legend: "{{provider}} {{status}}" }],
  },
  {
    title: "Active calls",
    unit: "short",
    description: "Calls started and not ended.",
    targets: [{ expr: "sum(calls_active)", legend: "active" }],
  },
  {
    title: "Call duration median",
    unit: "s",
    description: "Ended calls, hold time included.",
    targets: [{ expr: "histogram_quantile(0.5, sum by (le) (rate(call_duration_seconds_bucket[1h])))", legend: "median" }],
  },
  {
    title: "Process uptime",
    unit: "s",
    description: "Since the answering process began counting; a drop is a restart.",
    targets: [{ expr: "time() - max(agent_isolate_start_time_seconds)", legend: "uptime" }],
  },
];

/** The dashboard model Grafana imports (schema 39), tied to the provisioned datasource by `uid`. */
export function dashboardModel(datasourceUid: string): Record<string, unknown> {
  const datasource = { type: "prometheus", uid: datasourceUid };
  return {
    uid: "datamcpserveragent",
    title: "DataMCPServerAgent",
    tags: ["datamcpserveragent"],
    timezone: "browser",
    schemaVersion: 39,
    version: 1,
    editable: false,
    refresh: "1m",
    time: { from: "now-6h", to: "now" },
    panels: DASHBOARD_PANELS.map((panel, i) => ({
      id: i + 1,
      type: "timeseries",
      title: panel.title,
      description: panel.description,
      datasource,
      gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: Math.floor(i / 2) * 8 },
      fieldConfig: { defaults: { unit: panel.unit }, overrides: [] },
      options: { legend: { displayMode: "list", placement: "bottom" } },
      targets: panel.targets.map((t, j) => ({ refId: String.fromCharCode(65 + j), datasource, expr: t.expr, legendFormat: t.legend })),
    })),
  };
}

export function dashboardJson(datasourceUid: string): string {
  return `${JSON.stringify(dashboardModel(datasourceUid), null, 2)}\n`;
}

export function dashboardFile(datasourceUid: string): GeneratedFile {
  return { path: DASHBOARD_FILE, content: dashboardJson(datasourceUid) };
}
