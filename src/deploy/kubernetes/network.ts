/** Services, the TLS Ingress and the NetworkPolicy. */
import type { Environment } from "../environments";
import { type GeneratedFile, yamlFile } from "../files";
import { PORT } from "../runtime";
import { HEADLESS_SERVICE_NAME, HTTP_PORT_NAME, SERVICE_NAME, metadata, selectorLabels, tlsSecretName } from "./common";

const httpPort = { name: HTTP_PORT_NAME, port: PORT, targetPort: HTTP_PORT_NAME, protocol: "TCP" };

/** Namespaces allowed to reach the app: the ingress controller's and Prometheus'. Adjust to your cluster. */
export const INGRESS_NAMESPACE = "ingress-nginx";
export const MONITORING_NAMESPACE = "monitoring";

export function services(env: Environment): GeneratedFile[] {
  return [
    yamlFile(
      "kubernetes/service.yaml",
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: metadata(env, SERVICE_NAME),
        spec: { type: "ClusterIP", selector: selectorLabels(env), ports: [httpPort] },
      },
      "The app inside the cluster: the Ingress and the ServiceMonitor use it.",
    ),
    yamlFile(
      "kubernetes/service-headless.yaml",
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: metadata(env, HEADLESS_SERVICE_NAME),
        spec: { clusterIP: "None", selector: selectorLabels(env), ports: [httpPort] },
      },
      "The StatefulSet's governing Service (stable pod name).",
    ),
  ];
}

export function ingress(env: Environment): GeneratedFile {
  const annotations: Record<string, string> = {
    // Large enough for MAX_BODY_BYTES (2 MiB) and speech uploads (25 MiB).
    "nginx.ingress.kubernetes.io/proxy-body-size": "26m",
    // Task event streams (SSE) and call signalling (WebSockets) stay open.
    "nginx.ingress.kubernetes.io/proxy-read-timeout": "3600",
    ...(env.certIssuer ? { "cert-manager.io/cluster-issuer": env.certIssuer } : {}),
  };
  return yamlFile(
    "kubernetes/ingress.yaml",
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "Ingress",
      metadata: metadata(env, SERVICE_NAME, { annotations }),
      spec: {
        ingressClassName: "nginx",
        tls: [{ hosts: [env.domain], secretName: tlsSecretName(env) }],
        rules: [
          {
            host: env.domain,
            http: {
              paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: SERVICE_NAME, port: { name: HTTP_PORT_NAME } } } }],
            },
          },
        ],
      },
    },
    env.certIssuer
      ? `TLS from cert-manager (ClusterIssuer ${env.certIssuer}); remove the annotation to bring your own secret ${tlsSecretName(env)}.`
      : `TLS with your own certificate: create the secret ${tlsSecretName(env)} (kubectl create secret tls …), or add a cert-manager annotation.`,
  );
}

const PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10"];

export function networkPolicy(env: Environment): GeneratedFile {
  const fromNamespace = (name: string) => ({ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": name } } });
  return yamlFile(
    "kubernetes/networkpolicy.yaml",
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: metadata(env, "datamcpserveragent"),
      spec: {
        podSelector: { matchLabels: selectorLabels(env) },
        policyTypes: ["Ingress", "Egress"],
        ingress: [
          { from: [fromNamespace(INGRESS_NAMESPACE), fromNamespace(MONITORING_NAMESPACE)], ports: [{ protocol: "TCP", port: PORT }] },
        ],
        egress: [
          // DNS.
          {
            to: [fromNamespace("kube-system")],
            ports: [
              { protocol: "UDP", port: 53 },
              { protocol: "TCP", port: 53 },
            ],
          },
          // Mail providers, SMTP, the speech server, approval callbacks and http_request tasks: public addresses only
          // (the server opens private ones only through OUTBOUND_PRIVATE_NETWORKS; for an internal SMTP relay, open its address there and add a rule here).
          {
            to: [{ ipBlock: { cidr: "0.0.0.0/0", except: PRIVATE_RANGES } }],
            ports: [443, 80, 587, 465].map((port) => ({ protocol: "TCP", port })),
          },
        ],
      },
    },
    `Only the ingress controller (namespace ${INGRESS_NAMESPACE}) and Prometheus (namespace ${MONITORING_NAMESPACE}) may reach the pod; it may reach DNS and public addresses.`,
  );
}
