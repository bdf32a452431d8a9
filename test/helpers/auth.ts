/** Helpers for authentication tests: raw JWTs, requests under a modified env, stored facts. */
import { env } from "cloudflare:workers";
import { SignJWT, type CryptoKey, type JWTPayload } from "jose";
import { JWT_SECRET, call, callWith, json, type CallOptions } from "./api";

const enc = new TextEncoder();

export const nowSeconds = () => Math.floor(Date.now() / 1000);

/**
 * Signs exactly the claims given (no defaults), so tests can leave out `exp`, `role` or `sub`.
 * `key` defaults to the test JWT_SECRET; pass a CryptoKey for ES256/RS256.
 */
export async function signJwt(
  payload: JWTPayload & Record<string, unknown>,
  opts: { alg?: string; key?: CryptoKey | Uint8Array | string; kid?: string } = {},
): Promise<string> {
  const key = opts.key ?? JWT_SECRET;
  return new SignJWT(payload)
    .setProtectedHeader({ alg: opts.alg ?? "HS256", ...(opts.kid ? { kid: opts.kid } : {}) })
    .sign(typeof key === "string" ? enc.encode(key) : key);
}

/** A JWT payload that is valid for ten minutes. */
export function claims(extra: Record<string, unknown> = {}): JWTPayload & Record<string, unknown> {
  return { sub: "tester", role: "user", exp: nowSeconds() + 600, ...extra };
}

/**
 * Calls the Worker with the test env plus `overrides` (a fresh env object, so src/config.ts
 * parses a fresh configuration for it). Waits for `waitUntil` work before returning. Unlike
 * `call`, it sends no credentials unless `token` (or a header) is given.
 */
export async function callWithEnv(overrides: Record<string, unknown>, path: string, opts: CallOptions = {}): Promise<Response> {
  return callWith(overrides, path, { ...opts, token: opts.token ?? null });
}

export const statePath = (agentId: string) => `/api/v2/agents/${agentId}/state`;

/** Saves state as super_admin through the API; returns the new version. */
export async function seedState(agentId: string, data: Record<string, unknown>): Promise<number> {
  const res = await call(statePath(agentId), { body: { state_data: data } });
  if (res.status !== 200) throw new Error(`seeding ${agentId} failed: ${res.status} ${await res.text()}`);
  return (await json<{ version: number }>(res)).version;
}

/** The current version straight from the Durable Object, or null when the agent has no state. */
export async function storedVersion(agentId: string): Promise<number | null> {
  return (await env.AGENT.getByName(agentId).getState())?.version ?? null;
}

export interface StoredKeyRow {
  key_id: string;
  key_hash: string;
  name: string;
  prefix: string;
  role: string;
  agents: string | null;
  created_by: string;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
}

export async function apiKeyRows(): Promise<StoredKeyRow[]> {
  return (await env.DB.prepare("SELECT * FROM api_keys ORDER BY key_id").all<StoredKeyRow>()).results;
}

/** The ids of every stored key: what a refused creation must leave unchanged. */
export async function apiKeyIds(): Promise<string[]> {
  return (await apiKeyRows()).map((r) => r.key_id);
}

export interface CreatedKey {
  key_id: string;
  key: string;
  name: string;
  prefix: string;
  role: string;
  agents: string[] | null;
  created_by: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
}

/** Creates an API key as `token` (default: super_admin JWT) and returns the 201 body. */
export async function createKey(
  body: Record<string, unknown>,
  token?: string | null,
  headers?: Record<string, string>,
): Promise<CreatedKey> {
  const res = await call("/api/v2/auth/api-keys", { body, token, headers });
  if (res.status !== 201) throw new Error(`creating a key failed: ${res.status} ${await res.text()}`);
  return json<CreatedKey>(res);
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", enc.encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
