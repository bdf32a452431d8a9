/**
 * GET /api/v2/deploy/{env}: the deployment bundle for admins, the same files the CLI writes (one
 * library), its refusals as problems, its OpenAPI entry; and the Grafana dashboard it carries
 * queries only metric names a live /metrics exposes.
 */
import { describe, expect, it } from "vitest";
import { generateDeployment } from "../../src/deploy/generate";
import { DASHBOARD_PANELS } from "../../src/deploy/grafana-dashboard";
import { ADMIN_KEY, JWT_SECRET, call, callWith, json, mintToken, problem } from "../helpers/api";
import { scrape } from "../helpers/metrics";
import { exposedSampleNames, metricNames } from "../helpers/promql";

interface Bundle {
  env: string;
  files: { path: string; content: string }[];
}

describe("GET /api/v2/deploy/{env}", () => {
  it.each(["admin", "super_admin"] as const)("%s: every environment's files, as the generators make them", async (role) => {
    const token = await mintToken({ role });
    for (const env of ["development", "staging", "production"] as const) {
      const res = await call(`/api/v2/deploy/${env}`, { token });
      expect(res.status).toBe(200);
      expect(await json<Bundle>(res)).toEqual({ env, files: generateDeployment(env) });
    }
  });

  it("the admin key, with options: they reach the files exactly as the CLI's flags do", async () => {
    const res = await call("/api/v2/deploy/production?domain=agents.acme.test&image=registry.acme.test/agents:2.0.0&storage_size=50Gi", {
      token: ADMIN_KEY,
    });
    const bundle = await json<Bundle>(res);
    expect(bundle.files).toEqual(
      generateDeployment("production", { domain: "agents.acme.test", image: "registry.acme.test/agents:2.0.0", storage_size: "50Gi" }),
    );
    expect(bundle.files.find((f) => f.path === "kubernetes/ingress.yaml")!.content).toContain("host: agents.acme.test");
  });

  it("shows nothing of the server's own settings: its secrets appear nowhere, every secret in the files is empty", async () => {
    const serverSecrets = { METRICS_TOKEN: "metrics-token-of-this-server-0123456789", SMTP_PASSWORD: "smtp-password-of-this-server" };
    const res = await callWith(serverSecrets, "/api/v2/deploy/production", { token: ADMIN_KEY });
    const text = await res.text();
    expect(res.status).toBe(200);
    for (const secret of [...Object.values(serverSecrets), JWT_SECRET, ADMIN_KEY]) expect(text).not.toContain(secret);
    const env = (JSON.parse(text) as Bundle).files.find((f) => f.path === ".env.production")!.content;
    for (const name of ["JWT_SECRET", "ADMIN_API_KEY", "METRICS_TOKEN", "SMTP_PASSWORD"]) expect(env).toContain(`\n${name}=\n`);
  });

  it("no credential: 401 with the challenge", async () => {
    const res = await call("/api/v2/deploy/production", { token: null });
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer /);
    expect((await problem(res, 401)).code).toBe("unauthenticated");
  });

  it.each(["guest", "user", "developer"] as const)("%s: 403", async (role) => {
    const doc = await problem(await call("/api/v2/deploy/production", { token: await mintToken({ role }) }), 403);
    expect(doc.code).toBe("forbidden");
    expect(doc.detail).toContain("deploy:generate");
  });

  it("an unknown environment or a bad option: 422 naming it", async () => {
    const cases: [string, string][] = [
      ["/api/v2/deploy/qa", "env"],
      ["/api/v2/deploy/production?storage_size=10GB", "storage_size"],
      ["/api/v2/deploy/production?domain=https://agents.example.com", "domain"],
      ["/api/v2/deploy/production?image=Not%20An%20Image", "image"],
      ["/api/v2/deploy/production?replicas=3", ""],
    ];
    for (const [path, field] of cases) {
      const doc = await problem(await call(path), 422);
      expect(doc.code, path).toBe("validation_failed");
      expect(JSON.stringify(doc.errors), path).toContain(field);
    }
  });

  it("is in the OpenAPI document with its permission and the three options", async () => {
    const doc = await json<{
      paths: Record<string, Record<string, { parameters: { name: string; in: string }[]; "x-required-permission"?: string }>>;
    }>(await call("/openapi.json", { token: null }));
    const op = doc.paths["/api/v2/deploy/{env}"]!.get!;
    expect(op["x-required-permission"]).toBe("deploy:generate");
    expect(op.parameters.map((p) => `${p.in}:${p.name}`).sort()).toEqual(["path:env", "query:domain", "query:image", "query:storage_size"]);
  });
});

describe("the Grafana dashboard", () => {
  it("queries only metric names a live /metrics exposes", async () => {
    const exposed = exposedSampleNames((await scrape()).text);
    const used = new Set(DASHBOARD_PANELS.flatMap((p) => p.targets.flatMap((t) => metricNames(t.expr))));
    // Every family the app exports has a panel.
    expect(used.size).toBeGreaterThanOrEqual(11);
    for (const name of used) expect(exposed, name).toContain(name);
  });

  it("the metric-name reader finds names behind functions, clauses, matchers and ranges", () => {
    expect(metricNames('histogram_quantile(0.95, sum by (le, route) (rate(a_b_bucket{route="x"}[5m])))')).toEqual(["a_b_bucket"]);
    expect(metricNames("time() - max(start_seconds) and on (job) up offset 5m")).toEqual(["start_seconds", "up"]);
  });
});
