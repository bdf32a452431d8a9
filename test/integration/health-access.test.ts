/**
 * `/health` tells anyone whether the server works (status, timestamp, version, features); how it
 * is configured (`checks`) only to a valid credential; and a store's own error text to nobody.
 */
import { describe, expect, it } from "vitest";
import { ADMIN_KEY, call, callWith, json, mintToken } from "../helpers/api";
import { linkToken } from "../helpers/tokens";

type Health = {
  status: string;
  timestamp: string;
  version: string;
  features: Record<string, boolean>;
  checks?: Record<string, { ok: boolean; detail: string }>;
};

const PUBLIC_KEYS = ["features", "status", "timestamp", "version"];

describe("GET /health", () => {
  it("without credentials: status, timestamp, version and features only", async () => {
    const res = await call("/health", { token: null });
    expect(res.status).toBe(200);
    const body = await json<Health>(res);
    expect(Object.keys(body).sort()).toEqual(PUBLIC_KEYS);
    expect(body).toMatchObject({ status: "healthy", features: { persistent_state: true } });
  });

  it("with an invalid credential or a purpose token: the same public answer (not the checks)", async () => {
    const link = await linkToken({ approvalId: "approval_000000000000000000000001", action: "approve" });
    const attempts: Record<string, string>[] = [
      { Authorization: "Bearer garbage" },
      { "X-API-Key": "dmsa_not_a_key" },
      { Authorization: `Bearer ${link}` },
    ];
    for (const headers of attempts) {
      const res = await call("/health", { token: null, headers });
      expect(res.status).toBe(200);
      expect(Object.keys(await json<Health>(res)).sort()).toEqual(PUBLIC_KEYS);
    }
  });

  it("with a valid credential of any role: the checks too", async () => {
    for (const opts of [
      { token: await mintToken({ role: "guest", agents: ["some-agent"] }) },
      { token: null, headers: { "X-API-Key": ADMIN_KEY } },
    ]) {
      const body = await json<Health>(await call("/health", opts));
      expect(body.checks).toMatchObject({ d1: { ok: true }, kv: { ok: true }, auth: { ok: true }, durable_objects: { ok: true } });
    }
  });

  it("a store that fails is reported without its error text (which is only logged)", async () => {
    const leak = "SQLITE_CORRUPT at /var/lib/secret-volume/db.sqlite";
    const broken = {
      DB: { prepare: () => ({ all: () => Promise.reject(new Error(leak)), bind: () => ({}) }) },
      STATE_SNAPSHOTS: { get: () => Promise.reject(new Error(`KV ${leak}`)) },
    };
    const res = await callWith(broken, "/health", { token: await mintToken({ role: "guest" }) });
    expect(res.status).toBe(503);
    const text = await res.text();
    expect(text).not.toContain("SQLITE_CORRUPT");
    expect(text).not.toContain("secret-volume");
    const body = JSON.parse(text) as Health;
    expect(body.status).toBe("degraded");
    expect(body.checks!.d1).toEqual({ ok: false, detail: "D1 (agents index) did not answer" });
    expect(body.checks!.kv).toEqual({ ok: false, detail: "KV (state snapshots) did not answer" });
    // Anonymous callers learn that it is degraded, and no more.
    const anonymous = await callWith(broken, "/health", { token: null });
    expect(anonymous.status).toBe(503);
    expect(Object.keys(await json<Health>(anonymous)).sort()).toEqual(PUBLIC_KEYS);
  });
});
