/**
 * The deployment bundle for one environment: options in, files out, no I/O. The CLI writes the
 * files, `GET /api/v2/deploy/{env}` and the `generate_deployment` MCP tool return them.
 */
import { composeFile } from "./compose";
import { dockerfile, dockerignore } from "./dockerfile";
import { envFile } from "./env-file";
import { environmentFor } from "./environments";
import type { GeneratedFile } from "./files";
import { dashboardFile } from "./grafana-dashboard";
import { configMap, namespace, secret } from "./kubernetes/config";
import { dashboardConfigMap, serviceMonitor } from "./kubernetes/monitoring";
import { ingress, networkPolicy, services } from "./kubernetes/network";
import { statefulSet } from "./kubernetes/statefulset";
import { COMPOSE_APP_TARGET, PROMETHEUS_DATASOURCE_UID, grafanaProvisioning, prometheusConfig } from "./monitoring";
import type { DeployEnvironment, DeployOptions } from "./options";

export type { GeneratedFile } from "./files";

export function generateDeployment(name: DeployEnvironment, options: DeployOptions = {}): GeneratedFile[] {
  const env = environmentFor(name, options);
  return [
    dockerfile(),
    dockerignore(),
    composeFile(env),
    envFile(env),
    prometheusConfig(COMPOSE_APP_TARGET, "http"),
    ...grafanaProvisioning("http://prometheus:9090"),
    dashboardFile(PROMETHEUS_DATASOURCE_UID),
    namespace(env),
    configMap(env),
    secret(env),
    statefulSet(env),
    ...services(env),
    ingress(env),
    networkPolicy(env),
    serviceMonitor(env),
    dashboardConfigMap(env),
  ];
}
