/**
 * What the self-hosted server adds to the Worker (src/selfhost/, docs/self-hosting.md): its D1
 * migrations, its in-process rate limiter, and what /health says under RUNTIME=selfhost.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { localRateLimiter } from "../../src/selfhost/local-rate-limiter";
import { applyMigrations } from "../../src/selfhost/migrate";
import { callWith, json, mintToken } from "../helpers/api";

type Health = {
  status: string;
  features: Record<string, boolean>;
  checks: Record<string, { ok: boolean; detail: string }>;
};

/** /health as the self-hosted server runs it: RUNTIME=selfhost and no send_email or AI binding. */
async function health(overrides: Record<string, unknown> = {}): Promise<Health> {
  const res = await callWith({ RUNTIME: "selfhost", EMAIL: undefined, AI: undefined, ...overrides }, "/health", {
    token: await mintToken({ role: "guest" }),
  });
  return json<Health>(res);
}

describe("D1 migrations of the self-hosted server", () => {
  it("applies each migration once, in order, and records it in d1_migrations", async () => {
    const name = `9001_probe_${crypto.randomUUID().slice(0, 8)}.sql`;
    const table = `probe_${crypto.randomUUID().replaceAll("-", "")}`;
    const migration = { name, statements: [`CREATE TABLE ${table} (x INTEGER)`, `INSERT INTO ${table} VALUES (1)`] };
    // The project's own migrations are already applied (wrangler's table, the same names): nothing to do.
    expect(await applyMigrations(env.DB, [])).toEqual([]);
    expect(await applyMigrations(env.DB, [migration])).toEqual([name]);
    expect(await applyMigrations(env.DB, [migration])).toEqual([]);
    expect((await env.DB.prepare(`SELECT count(*) AS n FROM ${table}`).first<{ n: number }>())!.n).toBe(1);
    const recorded = await env.DB.prepare("SELECT name FROM d1_migrations WHERE name = ?").bind(name).all();
    expect(recorded.results).toHaveLength(1);
  });

  it("a failing migration changes nothing and is not recorded", async () => {
    const name = `9002_broken_${crypto.randomUUID().slice(0, 8)}.sql`;
    const table = `broken_${crypto.randomUUID().replaceAll("-", "")}`;
    const broken = { name, statements: [`CREATE TABLE ${table} (x INTEGER)`, "INSERT INTO no_such_table VALUES (1)"] };
    await expect(applyMigrations(env.DB, [broken])).rejects.toThrow(/no_such_table/);
    const created = await env.DB.prepare("SELECT name FROM sqlite_master WHERE name = ?").bind(table).all();
    expect(created.results).toHaveLength(0);
    expect((await env.DB.prepare("SELECT name FROM d1_migrations WHERE name = ?").bind(name).all()).results).toHaveLength(0);
  });
});

describe("the in-process rate limiter", () => {
  it("allows `limit` requests per key per window, then refuses until the window has passed", async () => {
    let now = 1_000_000;
    const limiter = localRateLimiter(2, 60, () => now);
    expect(await limiter.limit({ key: "a" })).toEqual({ success: true });
    expect(await limiter.limit({ key: "a" })).toEqual({ success: true });
    expect(await limiter.limit({ key: "a" })).toEqual({ success: false });
    expect(await limiter.limit({ key: "b" })).toEqual({ success: true });
    now += 59_999;
    expect(await limiter.limit({ key: "a" })).toEqual({ success: false });
    now += 1;
    expect(await limiter.limit({ key: "a" })).toEqual({ success: true });
  });
});

describe("/health under RUNTIME=selfhost", () => {
  it("says self-hosted, and what stands in for the services missing off Cloudflare", async () => {
    const selfHosted = await health({ EMAIL_PROVIDERS: "cloudflare,smtp", SMTP_HOST: "smtp.example.com" });
    expect(selfHosted.status).toBe("healthy");
    expect(selfHosted.features.self_hosting).toBe(true);
    expect(selfHosted.checks.runtime).toMatchObject({ ok: true });
    expect(selfHosted.checks.runtime!.detail).toContain("public addresses only");
    expect(selfHosted.checks.email).toMatchObject({ ok: true });
    expect(selfHosted.checks.email!.detail).toContain("sends through smtp");
    expect(selfHosted.checks.email!.detail).toContain("cloudflare not configured (the EMAIL send_email binding is missing)");

    const onCloudflare = await json<Health>(await callWith({}, "/health", { token: await mintToken({ role: "guest" }) }));
    expect(onCloudflare.features.self_hosting).toBe(false);
    expect(onCloudflare.checks.runtime!.detail).toContain("Cloudflare Workers");
  });

  it("does not count a mail or speech server on a loopback, private or local-only host as available", async () => {
    const local = await health({
      EMAIL_PROVIDERS: "smtp",
      SMTP_HOST: "127.0.0.1",
      SMTP_SECURITY: "none",
      SPEECH_BASE_URL: "http://whisper:8000",
    });
    expect(local.checks.email).toMatchObject({ ok: false });
    expect(local.checks.email!.detail).toContain("smtp not reachable here (SMTP_HOST: 127.0.0.1");
    expect(local.features.email_integration).toBe(false);
    expect(local.checks.calls!.detail).toContain("speech server not reachable here (SPEECH_BASE_URL: whisper");
    expect(local.checks.live_transcription).toMatchObject({ ok: false });
    expect(local.checks.live_transcription!.detail).toContain("the speech server is not reachable here (SPEECH_BASE_URL: whisper");
    expect(local.checks.runtime).toMatchObject({ ok: false });
    expect(local.checks.runtime!.detail).toContain("cannot be reached: SMTP_HOST");
    // Still serving: the stores answer and credentials can be verified.
    expect(local.status).toBe("healthy");
    const privateRelay = await health({ EMAIL_PROVIDERS: "smtp", SMTP_HOST: "10.0.0.25" });
    expect(privateRelay.checks.email!.detail).toContain("private network");
  });

  it("counts a server the operator opened with OUTBOUND_PRIVATE_NETWORKS as available, and only that one", async () => {
    const loopback = await health({
      EMAIL_PROVIDERS: "smtp",
      SMTP_HOST: "127.0.0.1",
      SMTP_SECURITY: "none",
      OUTBOUND_PRIVATE_NETWORKS: "127.0.0.1/32",
    });
    expect(loopback.checks.email).toMatchObject({ ok: true });
    expect(loopback.checks.email!.detail).toContain("sends through smtp");
    expect(loopback.checks.runtime).toMatchObject({ ok: true });
    expect(loopback.checks.runtime!.detail).toContain("public addresses and to 127.0.0.1/32 (OUTBOUND_PRIVATE_NETWORKS)");

    // A range that does not cover the relay leaves it unreachable; an IPv6 range covers its own addresses.
    const ranges = await health({
      EMAIL_PROVIDERS: "smtp",
      SMTP_HOST: "10.0.0.25",
      SPEECH_BASE_URL: "http://[fd00::5]:8000",
      OUTBOUND_PRIVATE_NETWORKS: "192.168.0.0/16,fd00::/8",
    });
    expect(ranges.checks.email).toMatchObject({ ok: false });
    expect(ranges.checks.email!.detail).toContain("smtp not reachable here (SMTP_HOST: 10.0.0.25");
    expect(ranges.checks.calls!.detail).not.toContain("not reachable");
    expect(ranges.checks.runtime!.detail).toContain("cannot be reached: SMTP_HOST");

    // `local` opens loopback names but not a container name, which resolves to a private address.
    const local = await health({
      EMAIL_PROVIDERS: "smtp",
      SMTP_HOST: "localhost",
      SMTP_SECURITY: "none",
      SPEECH_BASE_URL: "http://whisper:8000",
      OUTBOUND_PRIVATE_NETWORKS: "local",
    });
    expect(local.checks.email).toMatchObject({ ok: true });
    expect(local.checks.calls!.detail).toContain("speech server not reachable here (SPEECH_BASE_URL: whisper");
    const everything = await health({ SPEECH_BASE_URL: "http://whisper:8000", OUTBOUND_PRIVATE_NETWORKS: "private" });
    expect(everything.checks.calls!.detail).not.toContain("not reachable");
    expect(everything.checks.runtime).toMatchObject({ ok: true });
  });
});
