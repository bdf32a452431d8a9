/**
 * API keys live in D1 only as SHA-256 hashes; the key itself is returned once, at creation.
 * A key is `dmsa_` + 32 random bytes (base64url), so hashing without a salt is safe: the
 * input has 256 bits of entropy and cannot be brute-forced from the hash.
 */
import { bytesToBase64Url } from "../lib/base64";
import { z } from "zod";
import { newId } from "../lib/ids";
import { iso } from "../lib/time";
import { Role, type Principal } from "./principal";

export const API_KEY_PREFIX = "dmsa_";

export const ApiKeyRecord = z.object({
  key_id: z.string(),
  name: z.string(),
  prefix: z.string().describe("The first characters of the key, to recognise it in lists."),
  role: Role,
  agents: z.array(z.string()).nullable(),
  created_by: z.string(),
  created_at: z.string(),
  expires_at: z.string().nullable(),
  revoked_at: z.string().nullable(),
  last_used_at: z.string().nullable(),
});
export type ApiKeyRecord = z.infer<typeof ApiKeyRecord>;

interface ApiKeyRow {
  key_id: string;
  name: string;
  prefix: string;
  role: string;
  agents: string | null;
  created_by: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
}

const COLUMNS = "key_id, name, prefix, role, agents, created_by, created_at, expires_at, revoked_at, last_used_at";

function toRecord(row: ApiKeyRow): ApiKeyRecord {
  return {
    key_id: row.key_id,
    name: row.name,
    prefix: row.prefix,
    role: Role.parse(row.role),
    agents: row.agents ? (JSON.parse(row.agents) as string[]) : null,
    created_by: row.created_by,
    created_at: iso(row.created_at),
    expires_at: row.expires_at === null ? null : iso(row.expires_at),
    revoked_at: row.revoked_at === null ? null : iso(row.revoked_at),
    last_used_at: row.last_used_at === null ? null : iso(row.last_used_at),
  };
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function newSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return API_KEY_PREFIX + bytesToBase64Url(bytes);
}

export interface NewApiKey {
  name: string;
  role: Role;
  agents?: string[];
  expiresAtMs?: number;
  createdBy: string;
}

export async function insertApiKey(db: D1Database, input: NewApiKey, nowMs: number): Promise<{ key: string; record: ApiKeyRecord }> {
  const key = newSecret();
  const row: ApiKeyRow = {
    key_id: newId("key"),
    name: input.name,
    prefix: key.slice(0, 12),
    role: input.role,
    agents: input.agents ? JSON.stringify(input.agents) : null,
    created_by: input.createdBy,
    created_at: nowMs,
    expires_at: input.expiresAtMs ?? null,
    revoked_at: null,
    last_used_at: null,
  };
  await db
    .prepare(`INSERT INTO api_keys (${COLUMNS}, key_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
    .bind(
      row.key_id,
      row.name,
      row.prefix,
      row.role,
      row.agents,
      row.created_by,
      row.created_at,
      row.expires_at,
      null,
      null,
      await sha256Hex(key),
    )
    .run();
  return { key, record: toRecord(row) };
}

/**
 * A page of keys by id. With `withinAgents`, only keys limited to a subset of those agents
 * (an unrestricted key reaches every agent, so it is outside any agent list).
 */
export async function listApiKeys(
  db: D1Database,
  limit: number,
  afterKeyId?: string,
  withinAgents?: readonly string[],
): Promise<ApiKeyRecord[]> {
  const scope = withinAgents
    ? " AND agents IS NOT NULL AND NOT EXISTS (SELECT 1 FROM json_each(api_keys.agents) AS a WHERE a.value NOT IN (SELECT value FROM json_each(?)))"
    : "";
  const binds: (string | number)[] = [afterKeyId ?? "", ...(withinAgents ? [JSON.stringify(withinAgents)] : []), limit];
  const { results } = await db
    .prepare(`SELECT ${COLUMNS} FROM api_keys WHERE key_id > ?${scope} ORDER BY key_id LIMIT ?`)
    .bind(...binds)
    .all<ApiKeyRow>();
  return results.map(toRecord);
}

export async function getApiKey(db: D1Database, keyId: string): Promise<ApiKeyRecord | null> {
  const row = await db.prepare(`SELECT ${COLUMNS} FROM api_keys WHERE key_id = ?`).bind(keyId).first<ApiKeyRow>();
  return row ? toRecord(row) : null;
}

/** Marks a key revoked; returns false when it was already revoked. */
export async function revokeApiKey(db: D1Database, keyId: string, nowMs: number): Promise<boolean> {
  const res = await db.prepare("UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL").bind(nowMs, keyId).run();
  return res.meta.changes > 0;
}

/** `last_used_at` is refreshed at most this often, so a busy key does not write D1 per request. */
export const LAST_USED_GRANULARITY_MS = 60_000;

/**
 * Resolves a presented key, by its SHA-256 hex digest, to its principal, or null when unknown, revoked or expired. When the
 * stored `last_used_at` is older than the granularity, its refresh is handed to `defer`.
 */
export async function principalForApiKey(
  db: D1Database,
  keyHash: string,
  nowMs: number,
  defer?: (work: Promise<unknown>) => void,
): Promise<Principal | null> {
  const row = await db.prepare(`SELECT ${COLUMNS} FROM api_keys WHERE key_hash = ?`).bind(keyHash).first<ApiKeyRow>();
  if (!row || row.revoked_at !== null || (row.expires_at !== null && row.expires_at <= nowMs)) return null;
  const record = toRecord(row);
  if (defer && (row.last_used_at === null || nowMs - row.last_used_at >= LAST_USED_GRANULARITY_MS)) {
    // Best effort: a failed refresh must not fail (or log as failing) the request it rode on.
    defer(
      db
        .prepare("UPDATE api_keys SET last_used_at = ? WHERE key_id = ?")
        .bind(nowMs, row.key_id)
        .run()
        .catch(() => undefined),
    );
  }
  return { id: record.key_id, role: record.role, agents: record.agents ?? undefined, via: "api_key" };
}
