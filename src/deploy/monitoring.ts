/**
 * Prometheus and Grafana next to the app (Compose): Prometheus scrapes /metrics with METRICS_TOKEN
 * as its bearer token (read from a file, never written into the config), and Grafana starts with
 * the Prometheus datasource and the dashboard provisioned.
 */
import { type GeneratedFile, yamlFile } from "./files";
import { HEALTH_PATH, PORT } from "./runtime";

export const PROMETHEUS_TOKEN_FILE = "/run/secrets/metrics_token";
export const DASHBOARD_FILE = "monitoring/grafana/dashboards/datamcpserveragent.json";
export const PROMETHEUS_DATASOURCE_UID = "datamcpserveragent-prometheus";

export function prometheusConfig(target: string, scheme: "http" | "https"): GeneratedFile {
  return yamlFile(
    "monitoring/prometheus.yml",
    {
      global: { scrape_interval: "60s", evaluation_interval: "60s" },
      scrape_configs: [
        {
          job_name: "datamcpserveragent",
          scheme,
          metrics_path: "/metrics",
          authorization: { type: "Bearer", credentials_file: PROMETHEUS_TOKEN_FILE },
          static_configs: [{ targets: [target] }],
        },
      ],
    },
    `Scrapes the app's /metrics every minute (the store figures change at most once per METRICS_ROLLUP_INTERVAL_SECONDS).\n` +
      `The bearer token is METRICS_TOKEN, mounted as a Compose secret; ${HEALTH_PATH} is not scraped.`,
  );
}

export function grafanaProvisioning(prometheusUrl: string): GeneratedFile[] {
  return [
    yamlFile(
      "monitoring/grafana/provisioning/datasources/prometheus.yml",
      {
        apiVersion: 1,
        datasources: [
          {
            name: "Prometheus",
            uid: PROMETHEUS_DATASOURCE_UID,
            type: "prometheus",
            access: "proxy",
            url: prometheusUrl,
            isDefault: true,
            editable: false,
          },
        ],
      },
      "The Prometheus of this Compose project, the dashboard's datasource.",
    ),
    yamlFile(
      "monitoring/grafana/provisioning/dashboards/datamcpserveragent.yml",
      {
        apiVersion: 1,
        providers: [
          {
            name: "datamcpserveragent",
            type: "file",
            disableDeletion: true,
            allowUiUpdates: false,
            options: { path: "/var/lib/grafana/dashboards" },
          },
        ],
      },
      `Loads ${DASHBOARD_FILE} (mounted at /var/lib/grafana/dashboards).`,
    ),
  ];
}

/** The app as Prometheus reaches it inside Compose. */
export const COMPOSE_APP_TARGET = `app:${PORT}`;
