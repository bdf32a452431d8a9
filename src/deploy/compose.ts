/**
 * docker-compose.yml: the app with its data volume and health check, Prometheus and Grafana, and in
 * development a mail catcher (Mailpit). The catcher shares the app's network namespace, so the app
 * reaches it on loopback: the SMTP client sends plaintext only to loopback, which keeps that rule
 * intact instead of adding an exception for a container name.
 */
import type { Environment } from "./environments";
import { type GeneratedFile, yamlFile } from "./files";
import { DASHBOARD_FILE, PROMETHEUS_TOKEN_FILE } from "./monitoring";
import { DATA_DIR, HEALTH_CHECK_ARGV, PORT, STOP_GRACE_SECONDS } from "./runtime";
import { MAIL_CATCHER_SMTP_PORT } from "./variables";

export const IMAGES = {
  mailCatcher: "axllent/mailpit:v1.27.0",
  prometheus: "prom/prometheus:v3.5.0",
  grafana: "grafana/grafana:12.1.0",
} as const;

const MAIL_CATCHER_WEB_PORT = 8025;

export function envFileName(env: Environment): string {
  return `.env.${env.name}`;
}

export function composeFile(env: Environment): GeneratedFile {
  // The catcher's web UI is published through the app, whose network namespace it shares.
  const appPorts = [`${PORT}:${PORT}`, ...(env.mailCatcher ? [`${MAIL_CATCHER_WEB_PORT}:${MAIL_CATCHER_WEB_PORT}`] : [])];
  const services: Record<string, unknown> = {
    app: {
      image: env.image,
      build: { context: "." },
      restart: "unless-stopped",
      env_file: [envFileName(env)],
      ports: appPorts,
      volumes: [`app-data:${DATA_DIR}`],
      // One writer per data directory: never scale this service.
      deploy: { replicas: 1 },
      stop_grace_period: `${STOP_GRACE_SECONDS}s`,
      healthcheck: { test: ["CMD", ...HEALTH_CHECK_ARGV], interval: "30s", timeout: "5s", retries: 3, start_period: "30s" },
    },
    prometheus: {
      image: IMAGES.prometheus,
      restart: "unless-stopped",
      command: ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"],
      volumes: ["./monitoring/prometheus.yml:/etc/prometheus/prometheus.yml:ro", "prometheus-data:/prometheus"],
      secrets: [{ source: "metrics_token", target: PROMETHEUS_TOKEN_FILE }],
      ports: ["9090:9090"],
      depends_on: { app: { condition: "service_healthy" } },
    },
    grafana: {
      image: IMAGES.grafana,
      restart: "unless-stopped",
      environment: { GF_AUTH_ANONYMOUS_ENABLED: "false", GF_USERS_ALLOW_SIGN_UP: "false" },
      volumes: [
        "./monitoring/grafana/provisioning:/etc/grafana/provisioning:ro",
        `./${DASHBOARD_FILE.slice(0, DASHBOARD_FILE.lastIndexOf("/"))}:/var/lib/grafana/dashboards:ro`,
        "grafana-data:/var/lib/grafana",
      ],
      ports: ["3000:3000"],
      depends_on: ["prometheus"],
    },
  };
  if (env.mailCatcher) {
    services["mail-catcher"] = {
      image: IMAGES.mailCatcher,
      restart: "unless-stopped",
      network_mode: "service:app",
      environment: { MP_SMTP_BIND_ADDR: `127.0.0.1:${MAIL_CATCHER_SMTP_PORT}`, MP_UI_BIND_ADDR: `0.0.0.0:${MAIL_CATCHER_WEB_PORT}` },
      depends_on: ["app"],
    };
  }
  return yamlFile(
    "docker-compose.yml",
    {
      name: `datamcpserveragent-${env.name}`,
      services,
      volumes: { "app-data": {}, "prometheus-data": {}, "grafana-data": {} },
      // METRICS_TOKEN from the environment Compose reads (`--env-file .env.<env>`), handed to Prometheus as a file.
      secrets: { metrics_token: { environment: "METRICS_TOKEN" } },
    },
    `${env.name}: docker compose --env-file ${envFileName(env)} up -d --build\n` +
      "The app keeps every store under one data volume with one writer: do not scale the app service.\n" +
      (env.mailCatcher ? `Mail goes to the catcher: http://localhost:${MAIL_CATCHER_WEB_PORT}. ` : "") +
      "Grafana: http://localhost:3000 (admin/admin on first login), Prometheus: http://localhost:9090.",
  );
}
