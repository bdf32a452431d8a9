/**
 * Every generated deployment file, for every environment, parsed and checked against its schema:
 * Kubernetes objects with the kubernetes-models validators (ServiceMonitor with the Prometheus
 * Operator's), the Compose file against the official Compose schema, the Dockerfile with
 * dockerfile-ast for the image's properties, the .env file against every setting the server reads.
 * Node side (no server): the generators are pure functions.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import { Namespace, ConfigMap, Secret, Service } from "kubernetes-models/v1";
import { StatefulSet } from "kubernetes-models/apps/v1";
import { Ingress, NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
import { describe, expect, it } from "vitest";
import { parseDocument, visit } from "yaml";
import { generateDeployment } from "../../src/deploy/generate";
import { DEPLOY_ENVIRONMENTS, type DeployEnvironment } from "../../src/deploy/options";
import { RUNTIME_VAR, SECRET_NAMES, START_ARGV, START_ENV } from "../../scripts/selfhost/start-command.mjs";
import { PROJECT_ROOT } from "./helpers/local-server";
import { copyOf, envOf, execForm, stages, withKeyword } from "./helpers/dockerfile";

type Obj = Record<string, any>;

const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  "v1/Namespace": Namespace,
  "v1/ConfigMap": ConfigMap,
  "v1/Secret": Secret,
  "v1/Service": Service,
  "apps/v1/StatefulSet": StatefulSet,
  "networking.k8s.io/v1/Ingress": Ingress,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
  "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor,
};

function files(env: DeployEnvironment, options = {}) {
  return new Map(generateDeployment(env, options).map((f) => [f.path, f.content]));
}

/** Parses YAML strictly: one document, no errors or warnings, no duplicate keys, no anchors or aliases. */
function yaml(content: string): Obj {
  const doc = parseDocument(content, { uniqueKeys: true, strict: true });
  expect(doc.errors, String(doc.errors)).toEqual([]);
  expect(doc.warnings).toEqual([]);
  let aliases = 0;
  visit(doc, { Alias: () => void aliases++ });
  expect(aliases, "a YAML alias (a shared object in the generator)").toBe(0);
  return doc.toJS() as Obj;
}

function kubernetesObjects(all: Map<string, string>): Obj[] {
  return [...all].filter(([path]) => path.startsWith("kubernetes/")).map(([, content]) => yaml(content));
}

/** The .env file as name → value: bare values, which `docker run --env-file` and Compose read alike. */
function dotenv(content: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of content.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([A-Z][A-Z0-9_]*)=([\w.:/@,+-]*)$/.exec(line);
    expect(m, line).not.toBeNull();
    out.set(m![1]!, m![2]!);
  }
  return out;
}

/** The names under wrangler.toml's [vars]. */
function wranglerVars(): string[] {
  const toml = readFileSync(join(PROJECT_ROOT, "wrangler.toml"), "utf8");
  const section = toml.slice(toml.indexOf("\n[vars]\n") + 8);
  const body = section.slice(0, section.search(/\n\[/));
  return [...body.matchAll(/^([A-Z][A-Z0-9_]*)\s*=/gm)].map((m) => m[1]!);
}

const composeSchema = (() => {
  const schema = JSON.parse(readFileSync(join(PROJECT_ROOT, "test/fixtures/compose-spec/compose-spec.json"), "utf8")) as Obj;
  delete schema.$schema; // draft-07, ajv's default; its https alias is not registered in ajv
  return new Ajv({ strict: false, allErrors: true, validateFormats: false }).compile(schema);
})();

describe.each(DEPLOY_ENVIRONMENTS)("%s", (env) => {
  const all = files(env);

  it("every Kubernetes object validates against its schema; one replica, no autoscaler, no disruption budget", () => {
    const objects = kubernetesObjects(all);
    for (const obj of objects) {
      const model = MODELS[`${obj.apiVersion}/${obj.kind}`];
      expect(model, `${obj.apiVersion} ${obj.kind}`).toBeDefined();
      expect(() => new model!(obj).validate(), `${obj.kind} ${obj.metadata?.name}`).not.toThrow();
    }
    const kinds = objects.map((o) => o.kind).sort();
    expect(kinds).toEqual([
      "ConfigMap",
      "ConfigMap",
      "Ingress",
      "Namespace",
      "NetworkPolicy",
      "Secret",
      "Service",
      "Service",
      "ServiceMonitor",
      "StatefulSet",
    ]);
    const namespace = objects.find((o) => o.kind === "Namespace")!.metadata.name;
    for (const o of objects.filter((x) => x.kind !== "Namespace")) expect(o.metadata.namespace, o.kind).toBe(namespace);
  });

  it("the StatefulSet: one replica with a volume claim, probes, resources and a locked-down container", () => {
    const set = kubernetesObjects(all).find((o) => o.kind === "StatefulSet")!;
    expect(set.spec.replicas).toBe(1);
    expect(set.metadata.annotations["datamcpserveragent.dev/single-writer"]).toMatch(/one writer/);
    expect(set.spec.volumeClaimTemplates[0].spec.accessModes).toEqual(["ReadWriteOnce"]);
    const pod = set.spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    const [container] = pod.containers;
    for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) expect(container[probe].httpGet.path, probe).toBe("/health");
    expect(container.resources.requests.cpu).toBeTruthy();
    expect(container.resources.requests.memory).toBeTruthy();
    expect(container.resources.limits.memory).toBeTruthy();
    expect(container.securityContext).toEqual({
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    });
    // The runtime's kill comes after the server's own drain has ended.
    const drain = Number(
      kubernetesObjects(all).find((o) => o.kind === "ConfigMap" && !o.metadata.labels.grafana_dashboard)!.data.SHUTDOWN_GRACE_SECONDS,
    );
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(drain);
    expect(Number(/^(\d+)s$/.exec(yaml(all.get("docker-compose.yml")!).services.app.stop_grace_period)![1])).toBeGreaterThan(drain);
    const mounts = Object.fromEntries(container.volumeMounts.map((m: Obj) => [m.mountPath, m.name]));
    expect(mounts).toEqual({ "/data": "data", "/tmp": "tmp" });
    expect(pod.volumes).toContainEqual(expect.objectContaining({ name: "tmp", emptyDir: expect.any(Object) }));
    // Every setting reaches the pod: the ConfigMap and the Secret, whole.
    const config = kubernetesObjects(all).find((o) => o.kind === "ConfigMap" && !o.metadata.labels.grafana_dashboard)!;
    const secret = kubernetesObjects(all).find((o) => o.kind === "Secret")!;
    expect(container.envFrom).toEqual([{ configMapRef: { name: config.metadata.name } }, { secretRef: { name: secret.metadata.name } }]);
  });

  it("the ServiceMonitor scrapes /metrics with METRICS_TOKEN from the Secret; the Ingress has TLS for the domain", () => {
    const objects = kubernetesObjects(all);
    const monitor = objects.find((o) => o.kind === "ServiceMonitor")!;
    const secret = objects.find((o) => o.kind === "Secret")!;
    expect(monitor.spec.endpoints[0]).toMatchObject({
      path: "/metrics",
      authorization: { credentials: { name: secret.metadata.name, key: "METRICS_TOKEN" } },
    });
    const service = objects.find((o) => o.kind === "Service" && o.spec.type === "ClusterIP")!;
    expect(service.metadata.labels).toMatchObject(monitor.spec.selector.matchLabels);
    const ingress = objects.find((o) => o.kind === "Ingress")!;
    expect(ingress.spec.tls[0].hosts).toEqual([ingress.spec.rules[0].host]);
    expect(ingress.spec.rules[0].http.paths[0].backend.service.name).toBe(service.metadata.name);
    const dashboard = objects.find((o) => o.kind === "ConfigMap" && o.metadata.labels.grafana_dashboard === "1")!;
    expect(JSON.parse(dashboard.data["datamcpserveragent.json"]).panels.length).toBeGreaterThan(5);
  });

  it("docker-compose.yml validates against the Compose schema; the app has its volume and health check", () => {
    const compose = yaml(all.get("docker-compose.yml")!);
    expect(composeSchema(compose), JSON.stringify(composeSchema.errors)).toBe(true);
    const app = compose.services.app;
    expect(app.volumes).toEqual(["app-data:/data"]);
    expect(app.healthcheck.test.join(" ")).toContain("/health");
    expect(app.env_file).toEqual([`.env.${env}`]);
    // Prometheus gets METRICS_TOKEN as a file its scrape job reads.
    const prometheus = yaml(all.get("monitoring/prometheus.yml")!);
    const job = prometheus.scrape_configs[0];
    expect(job.metrics_path).toBe("/metrics");
    expect(compose.services.prometheus.secrets[0].target).toBe(job.authorization.credentials_file);
    expect(compose.secrets.metrics_token).toEqual({ environment: "METRICS_TOKEN" });
    // Grafana: the datasource the dashboard names, and the dashboard folder it loads.
    const datasources = yaml(all.get("monitoring/grafana/provisioning/datasources/prometheus.yml")!);
    const dashboard = JSON.parse(all.get("monitoring/grafana/dashboards/datamcpserveragent.json")!) as Obj;
    for (const panel of dashboard.panels) expect(panel.datasource.uid).toBe(datasources.datasources[0].uid);
    const providers = yaml(all.get("monitoring/grafana/provisioning/dashboards/datamcpserveragent.yml")!);
    expect(compose.services.grafana.volumes).toContain(`./monitoring/grafana/dashboards:${providers.providers[0].options.path}:ro`);
  });

  it("the .env file has every setting the server reads, and no real secret", () => {
    const values = dotenv(all.get(`.env.${env}`)!);
    // RUNTIME is set by the server itself, whatever the environment says.
    const expected = new Set([...wranglerVars(), ...SECRET_NAMES, ...Object.keys(START_ENV)]);
    for (const name of Object.keys(RUNTIME_VAR)) expected.delete(name);
    expect([...values.keys()].sort()).toEqual([...expected].sort());
    const config = kubernetesObjects(all).find((o) => o.kind === "ConfigMap" && !o.metadata.labels.grafana_dashboard)!;
    const secret = kubernetesObjects(all).find((o) => o.kind === "Secret")!;
    expect([...Object.keys(config.data), ...Object.keys(secret.stringData)].sort()).toEqual([...expected].sort());
    // Every secret is empty: a placeholder would be a working, guessable credential if left in place.
    for (const [name, value] of Object.entries(secret.stringData as Record<string, string>)) {
      expect(value, name).toBe("");
      expect(values.get(name), name).toBe("");
    }
    expect(Object.keys(secret.stringData).sort()).toEqual(expect.arrayContaining(["ADMIN_API_KEY", "JWT_SECRET", "METRICS_TOKEN"]));
    // The required ones say so, and how to make one.
    const text = all.get(`.env.${env}`)!;
    for (const name of ["JWT_SECRET", "ADMIN_API_KEY", "METRICS_TOKEN"])
      expect(text, name).toMatch(new RegExp(`# REQUIRED[^\\n]*openssl rand[^\\n]*\\n${name}=\\n`));
  });

  it("the Dockerfile: pinned multi-stage build, production dependencies only, non-root, tini, health check, data volume, the server's command", () => {
    const dockerfile = all.get("Dockerfile")!;
    const [build, runtime, ...rest] = stages(dockerfile);
    expect(rest).toEqual([]);
    for (const stage of [build!, runtime!]) expect(stage.image, "an exact Node release").toMatch(/^node:\d+\.\d+\.\d+-bookworm-slim$/);
    const run = runtime!;
    const runs = withKeyword(run, "RUN").map((i) => i.getArgumentsContent() ?? "");
    expect(runs.some((r) => /npm ci --omit=dev/.test(r))).toBe(true);
    expect(runs.some((r) => /apt-get install .*\btini\b/.test(r))).toBe(true);
    // Nothing from the build stage's full node_modules.
    for (const copy of withKeyword(run, "COPY").map(copyOf)) for (const src of copy.sources) expect(src).not.toMatch(/node_modules/);
    const users = withKeyword(run, "USER").map((i) => i.getArgumentsContent());
    expect(users.at(-1)).toBe("node");
    expect(withKeyword(run, "VOLUME").map(execForm)).toEqual([["/data"]]);
    expect(envOf(run)).toMatchObject({ DATA_DIR: "/data", PORT: START_ENV.PORT });
    expect(withKeyword(run, "EXPOSE").map((i) => i.getArgumentsContent())).toEqual([START_ENV.PORT]);
    const [healthcheck] = withKeyword(run, "HEALTHCHECK");
    expect(healthcheck!.getArgumentsContent()).toMatch(/CMD .*\/health/);
    expect(withKeyword(run, "ENTRYPOINT").map(execForm)).toEqual([["/usr/bin/tini", "--"]]);
    expect(withKeyword(run, "CMD").map(execForm)).toEqual([START_ARGV]);
    expect(all.get(".dockerignore")!.split("\n")).toEqual(expect.arrayContaining([".dev.vars", ".env.*", "node_modules", ".data"]));
  });
});

describe("what differs between environments", () => {
  const objectsOf = (env: DeployEnvironment) => kubernetesObjects(files(env));
  const find = (objects: Obj[], kind: string) => objects.find((o) => o.kind === kind)!;

  it("log level, resources, domain, TLS issuer and the mail catcher; replicas stay 1", () => {
    const [dev, staging, prod] = DEPLOY_ENVIRONMENTS.map(objectsOf) as [Obj[], Obj[], Obj[]];
    expect(find(dev, "ConfigMap").data.LOG_LEVEL).toBe("debug");
    expect(find(prod, "ConfigMap").data.LOG_LEVEL).toBe("info");
    const memory = (o: Obj[]) => find(o, "StatefulSet").spec.template.spec.containers[0].resources.limits.memory;
    expect(new Set([memory(dev), memory(staging), memory(prod)]).size).toBe(3);
    expect(find(dev, "Ingress").metadata.annotations).not.toHaveProperty("cert-manager.io/cluster-issuer");
    expect(find(staging, "Ingress").metadata.annotations["cert-manager.io/cluster-issuer"]).toBe("letsencrypt-staging");
    expect(find(prod, "Ingress").metadata.annotations["cert-manager.io/cluster-issuer"]).toBe("letsencrypt-prod");
    expect(new Set([dev, staging, prod].map((o) => find(o, "Ingress").spec.rules[0].host)).size).toBe(3);
    for (const o of [dev, staging, prod]) expect(find(o, "StatefulSet").spec.replicas).toBe(1);
    const composeOf = (env: DeployEnvironment) => yaml(files(env).get("docker-compose.yml")!);
    expect(Object.keys(composeOf("development").services)).toContain("mail-catcher");
    expect(Object.keys(composeOf("staging").services)).not.toContain("mail-catcher");
    expect(Object.keys(composeOf("production").services)).not.toContain("mail-catcher");
  });

  it("CLIENT_IP_HEADER: none trusted where clients reach the app directly (.env), X-Real-IP behind the Ingress (ConfigMap)", () => {
    for (const env of DEPLOY_ENVIRONMENTS) {
      expect(dotenv(files(env).get(`.env.${env}`)!).get("CLIENT_IP_HEADER"), env).toBe("");
      expect(find(objectsOf(env), "ConfigMap").data.CLIENT_IP_HEADER, env).toBe("X-Real-IP");
    }
  });

  it("development mail goes over SMTP to the catcher on the app's loopback", () => {
    const values = dotenv(files("development").get(".env.development")!);
    expect(Object.fromEntries(["EMAIL_PROVIDERS", "SMTP_HOST", "SMTP_SECURITY", "SMTP_PORT"].map((k) => [k, values.get(k)]))).toEqual({
      EMAIL_PROVIDERS: "smtp",
      SMTP_HOST: "127.0.0.1",
      SMTP_SECURITY: "none",
      SMTP_PORT: "1025",
    });
    const catcher = yaml(files("development").get("docker-compose.yml")!).services["mail-catcher"];
    expect(catcher.network_mode).toBe("service:app");
    expect(catcher.environment.MP_SMTP_BIND_ADDR).toBe("127.0.0.1:1025");
    expect(catcher.image).toMatch(/:v\d+\.\d+\.\d+$/);
  });

  it("options reach the files: domain, image and storage size", () => {
    const all = files("production", { domain: "agents.acme.test", image: "registry.acme.test:5000/agents:1.2.3", storage_size: "50Gi" });
    const objects = kubernetesObjects(all);
    expect(find(objects, "Ingress").spec.rules[0].host).toBe("agents.acme.test");
    const set = find(objects, "StatefulSet");
    expect(set.spec.template.spec.containers[0].image).toBe("registry.acme.test:5000/agents:1.2.3");
    expect(set.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe("50Gi");
    expect(find(objects, "ConfigMap").data.PUBLIC_BASE_URL).toBe("https://agents.acme.test");
    expect(yaml(all.get("docker-compose.yml")!).services.app.image).toBe("registry.acme.test:5000/agents:1.2.3");
  });

  it("the base image is the Node release the project runs on (the node dev dependency)", () => {
    const { version } = JSON.parse(readFileSync(join(PROJECT_ROOT, "node_modules/node/package.json"), "utf8")) as { version: string };
    expect(stages(files("production").get("Dockerfile")!)[0]!.image).toBe(`node:${version}-bookworm-slim`);
  });
});
