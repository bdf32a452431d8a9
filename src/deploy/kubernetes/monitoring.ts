/** The ServiceMonitor (Prometheus Operator) and the dashboard as a ConfigMap for Grafana's sidecar. */
import type { Environment } from "../environments";
import { type GeneratedFile, yamlFile } from "../files";
import { dashboardJson } from "../grafana-dashboard";
import { APP, HTTP_PORT_NAME, SECRET_NAME, labels, metadata, selectorLabels } from "./common";

/** kube-prometheus-stack names its Prometheus datasource `prometheus`. */
export const CLUSTER_DATASOURCE_UID = "prometheus";

export function serviceMonitor(env: Environment): GeneratedFile {
  return yamlFile(
    "kubernetes/servicemonitor.yaml",
    {
      apiVersion: "monitoring.coreos.com/v1",
      kind: "ServiceMonitor",
      metadata: metadata(env, APP, { labels: { ...labels(env), release: "kube-prometheus-stack" } }),
      spec: {
        selector: { matchLabels: selectorLabels(env) },
        endpoints: [
          {
            port: HTTP_PORT_NAME,
            path: "/metrics",
            interval: "60s",
            scheme: "http",
            authorization: { type: "Bearer", credentials: { name: SECRET_NAME, key: "METRICS_TOKEN" } },
          },
        ],
      },
    },
    "Prometheus Operator scrape target: /metrics with METRICS_TOKEN from the app's Secret. The release label matches kube-prometheus-stack's default selector.",
  );
}

export function dashboardConfigMap(env: Environment): GeneratedFile {
  return yamlFile(
    "kubernetes/grafana-dashboard.yaml",
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: metadata(env, `${APP}-dashboard`, { labels: { ...labels(env), grafana_dashboard: "1" } }),
      data: { "datamcpserveragent.json": dashboardJson(CLUSTER_DATASOURCE_UID) },
    },
    "Grafana's dashboard sidecar loads every ConfigMap labelled grafana_dashboard.",
  );
}
