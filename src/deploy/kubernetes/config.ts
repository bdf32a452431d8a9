/** Namespace, ConfigMap (settings) and Secret (secrets, left empty to fill in). */
import type { Environment } from "../environments";
import { type GeneratedFile, yamlFile } from "../files";
import { VARIABLES } from "../variables";
import { CONFIG_NAME, SECRET_NAME, labels, metadata, namespaceOf } from "./common";

export function namespace(env: Environment): GeneratedFile {
  return yamlFile(
    "kubernetes/namespace.yaml",
    {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: {
        name: namespaceOf(env),
        labels: {
          ...labels(env),
          // The pod meets the restricted Pod Security Standard; enforce it for everything in the namespace.
          "pod-security.kubernetes.io/enforce": "restricted",
          "pod-security.kubernetes.io/enforce-version": "latest",
        },
      },
    },
    "Apply first: kubectl apply -f kubernetes/namespace.yaml, then kubectl apply -f kubernetes/",
  );
}

export function configMap(env: Environment): GeneratedFile {
  const data = Object.fromEntries(VARIABLES.filter((v) => !v.secret).map((v) => [v.name, (v.inCluster ?? v.value)(env)]));
  return yamlFile(
    "kubernetes/configmap.yaml",
    { apiVersion: "v1", kind: "ConfigMap", metadata: metadata(env, CONFIG_NAME), data },
    "Every setting that is not a secret (docs/configuration.md). The pod reads them as environment variables.",
  );
}

export function secret(env: Environment): GeneratedFile {
  const stringData = Object.fromEntries(VARIABLES.filter((v) => v.secret).map((v) => [v.name, v.value(env)]));
  return yamlFile(
    "kubernetes/secret.yaml",
    { apiVersion: "v1", kind: "Secret", metadata: metadata(env, SECRET_NAME), type: "Opaque", stringData },
    "EMPTY ON PURPOSE: fill in JWT_SECRET, ADMIN_API_KEY and METRICS_TOKEN (or create this Secret from your secret store)\n" +
      "before applying; .env.<env> says how to make each. The other values are optional features left off.",
  );
}
