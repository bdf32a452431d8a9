/**
 * The app as a StatefulSet of exactly one replica with its own volume. Every store (each agent's
 * Durable Object, KV, D1, queues) is SQLite files under DATA_DIR with one writer process, so a second
 * replica would not share them but split them: no HorizontalPodAutoscaler is generated, and no
 * PodDisruptionBudget either (with one replica a budget either changes nothing or blocks every node
 * drain; a drain here is a short planned restart, which the data volume survives).
 */
import type { Environment } from "../environments";
import { type GeneratedFile, yamlFile } from "../files";
import { DATA_DIR, HEALTH_PATH, PORT, STOP_GRACE_SECONDS } from "../runtime";
import { APP, CONFIG_NAME, HEADLESS_SERVICE_NAME, HTTP_PORT_NAME, SECRET_NAME, labels, metadata, selectorLabels } from "./common";

/** The image's `node` user. */
const UID = 1000;

const probe = (periodSeconds: number, failureThreshold: number) => ({
  httpGet: { path: HEALTH_PATH, port: HTTP_PORT_NAME },
  periodSeconds,
  timeoutSeconds: 5,
  failureThreshold,
});

export function statefulSet(env: Environment): GeneratedFile {
  return yamlFile(
    "kubernetes/statefulset.yaml",
    {
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata: metadata(env, APP, {
        annotations: {
          "datamcpserveragent.dev/single-writer":
            "One replica only: the data volume has one writer process. Do not scale or autoscale; move to Cloudflare (npm run deploy) to grow beyond one machine.",
        },
      }),
      spec: {
        replicas: 1,
        serviceName: HEADLESS_SERVICE_NAME,
        selector: { matchLabels: selectorLabels(env) },
        updateStrategy: { type: "RollingUpdate" },
        persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
        template: {
          metadata: { labels: labels(env) },
          spec: {
            automountServiceAccountToken: false,
            // The server drains in-flight requests on SIGTERM for up to SHUTDOWN_GRACE_SECONDS; this is longer.
            terminationGracePeriodSeconds: STOP_GRACE_SECONDS,
            securityContext: {
              runAsNonRoot: true,
              runAsUser: UID,
              runAsGroup: UID,
              fsGroup: UID,
              seccompProfile: { type: "RuntimeDefault" },
            },
            containers: [
              {
                name: "app",
                image: env.image,
                imagePullPolicy: "IfNotPresent",
                ports: [{ name: HTTP_PORT_NAME, containerPort: PORT, protocol: "TCP" }],
                envFrom: [{ configMapRef: { name: CONFIG_NAME } }, { secretRef: { name: SECRET_NAME } }],
                // Up to a minute for the first start (migrations run before the port opens).
                startupProbe: probe(2, 30),
                readinessProbe: probe(10, 3),
                livenessProbe: probe(20, 6),
                resources: env.resources,
                securityContext: {
                  runAsNonRoot: true,
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ["ALL"] },
                  seccompProfile: { type: "RuntimeDefault" },
                },
                volumeMounts: [
                  { name: "data", mountPath: DATA_DIR },
                  // The root filesystem is read-only; the runtime's temporary files go here.
                  { name: "tmp", mountPath: "/tmp" },
                ],
              },
            ],
            volumes: [{ name: "tmp", emptyDir: { sizeLimit: "256Mi" } }],
          },
        },
        volumeClaimTemplates: [
          {
            metadata: { name: "data", labels: labels(env) },
            spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: env.storageSize } } },
          },
        ],
      },
    },
    "One replica, one volume: the store is single-writer (see the annotation). No autoscaler and no PodDisruptionBudget are generated on purpose.",
  );
}
