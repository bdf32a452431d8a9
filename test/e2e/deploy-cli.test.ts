/**
 * `npm run selfhost -- generate`: a valid run writes exactly the files the generators return (the
 * same ones GET /api/v2/deploy/{env} serves); a bad environment or option exits 2 and writes
 * nothing, not even the folder; existing files are kept unless --force.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateDeployment } from "../../src/deploy/generate";
import { PROJECT_ROOT, nodeBinary } from "./helpers/local-server";

const scratch = mkdtempSync(join(tmpdir(), "selfhost-cli-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function selfhost(...args: string[]) {
  const run = spawnSync(nodeBinary(), [join(PROJECT_ROOT, "scripts/selfhost.mjs"), ...args], { cwd: PROJECT_ROOT, encoding: "utf8" });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

function tree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((p) => statSync(join(dir, p)).isFile())
    .map((p) => relative(dir, join(dir, p)).split("\\").join("/"))
    .sort();
}

describe("npm run selfhost -- generate", () => {
  it("writes every file of the environment, byte for byte what the generators return; secrets files owner-only", () => {
    const out = join(scratch, "staging");
    const run = selfhost("generate", "--env", "staging", "--out", out, "--domain", "agents.acme.test", "--storage-size", "8Gi");
    expect(run.code, run.stderr).toBe(0);
    const expected = generateDeployment("staging", { domain: "agents.acme.test", storage_size: "8Gi" });
    expect(tree(out)).toEqual(expected.map((f) => f.path).sort());
    for (const file of expected) expect(readFileSync(join(out, file.path), "utf8"), file.path).toBe(file.content);
    expect(statSync(join(out, ".env.staging")).mode & 0o777).toBe(0o600);
    expect(statSync(join(out, "kubernetes/secret.yaml")).mode & 0o777).toBe(0o600);
  });

  it.each([
    ["an unknown environment", ["--env", "qa"], /--env must be one of development, staging, production/],
    ["no environment", [], /--env must be one of/],
    [
      "a storage size that is no Kubernetes quantity",
      ["--env", "production", "--storage-size", "10GB"],
      /--storage-size: a Kubernetes quantity/,
    ],
    ["a domain with a scheme", ["--env", "production", "--domain", "https://agents.example.com"], /--domain: a lower-case host name/],
    ["an image with spaces", ["--env", "production", "--image", "my image"], /--image: an image reference/],
    ["an unknown option", ["--env", "production", "--replicas", "3"], /--replicas/],
  ])("%s: exit 2, the option named, nothing written", (_why, args, message) => {
    const out = join(scratch, "refused");
    const run = selfhost("generate", "--out", out, ...args);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(existsSync(out)).toBe(false);
  });

  it("no --out or another command: exit 2", () => {
    expect(selfhost("generate", "--env", "development").code).toBe(2);
    expect(selfhost("deploy", "--env", "development", "--out", join(scratch, "x")).code).toBe(2);
    expect(existsSync(join(scratch, "x"))).toBe(false);
  });

  it("keeps existing files (exit 1, nothing changed) unless --force", () => {
    const out = join(scratch, "dev");
    expect(selfhost("generate", "--env", "development", "--out", out).code).toBe(0);
    writeFileSync(join(out, "Dockerfile"), "mine\n");
    const refused = selfhost("generate", "--env", "development", "--out", out, "--image", "other:1.0.0");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/--force/);
    expect(readFileSync(join(out, "Dockerfile"), "utf8")).toBe("mine\n");
    expect(readFileSync(join(out, "docker-compose.yml"), "utf8")).not.toContain("other:1.0.0");
    const forced = selfhost("generate", "--env", "development", "--out", out, "--image", "other:1.0.0", "--force");
    expect(forced.code, forced.stderr).toBe(0);
    expect(readFileSync(join(out, "Dockerfile"), "utf8")).toBe(
      generateDeployment("development").find((f) => f.path === "Dockerfile")!.content,
    );
    expect(readFileSync(join(out, "docker-compose.yml"), "utf8")).toContain("image: other:1.0.0");
  });
});
