/** Names and labels every manifest of one environment shares. */
import type { Environment } from "../environments";

export const APP = "datamcpserveragent";
export const HTTP_PORT_NAME = "http";

export function namespaceOf(env: Environment): string {
  return `${APP}-${env.name}`;
}

/** The labels that select the app's pod (stable across upgrades: a StatefulSet's selector cannot change). */
export function selectorLabels(env: Environment): Record<string, string> {
  return { "app.kubernetes.io/name": APP, "app.kubernetes.io/instance": env.name };
}

export function labels(env: Environment, component?: string): Record<string, string> {
  return {
    ...selectorLabels(env),
    "app.kubernetes.io/part-of": APP,
    "app.kubernetes.io/managed-by": "datamcpserveragent-selfhost",
    ...(component ? { "app.kubernetes.io/component": component } : {}),
  };
}

export function metadata(env: Environment, name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, namespace: namespaceOf(env), labels: labels(env), ...extra };
}

export const CONFIG_NAME = `${APP}-config`;
export const SECRET_NAME = `${APP}-secrets`;
export const SERVICE_NAME = APP;
export const HEADLESS_SERVICE_NAME = `${APP}-headless`;
/** The TLS secret the Ingress names (cert-manager fills it where an issuer is set). */
export const tlsSecretName = (env: Environment) => `${APP}-${env.name}-tls`;
