/**
 * API key rules: nobody mints, sees or revokes a key wider in agents than their own credential,
 * and nobody mints or revokes a key stronger in role (an admin cannot switch off a super_admin).
 */
import { AppError } from "../lib/problem";
import { iso } from "../lib/time";
import { log } from "../lib/log";
import { getApiKey, insertApiKey, listApiKeys as listRows, revokeApiKey as revokeRow, type ApiKeyRecord } from "./api-key-store";
import { roleRank, type Principal, type Role } from "./principal";

const DAY_MS = 86_400_000;

export async function createApiKey(
  env: Env,
  creator: Principal,
  input: { name: string; role: Role; agents?: string[]; expiresInDays?: number; requestId: string },
): Promise<{ key: string; record: ApiKeyRecord }> {
  if (roleRank(input.role) > roleRank(creator.role)) {
    throw new AppError("validation_failed", `A '${creator.role}' cannot create a key with the role '${input.role}'.`, {
      errors: [{ path: "role", message: `at most '${creator.role}'` }],
    });
  }
  if (creator.agents) {
    const outside = (input.agents ?? []).filter((a) => !creator.agents!.includes(a));
    if (!input.agents || outside.length > 0) {
      throw new AppError("validation_failed", "A credential limited to some agents can only create keys limited to those agents.", {
        errors: [{ path: "agents", message: input.agents ? `not allowed: ${outside.join(", ")}` : "required" }],
      });
    }
  }
  const now = Date.now();
  const created = await insertApiKey(
    env.DB,
    {
      name: input.name,
      role: input.role,
      agents: input.agents,
      expiresAtMs: input.expiresInDays ? now + input.expiresInDays * DAY_MS : undefined,
      createdBy: creator.id,
    },
    now,
  );
  log({ event: "auth.api_key_created", request_id: input.requestId, key_id: created.record.key_id, role: input.role, by: creator.id });
  return created;
}

export async function listApiKeys(env: Env, viewer: Principal, limit: number, cursor?: string) {
  const rows = await listRows(env.DB, limit + 1, cursor, viewer.agents);
  const page = rows.slice(0, limit);
  return { api_keys: page, next_cursor: rows.length > limit ? page[page.length - 1]!.key_id : null };
}

function withinAgents(principal: Principal, keyAgents: readonly string[] | null): boolean {
  if (!principal.agents) return true;
  return keyAgents !== null && keyAgents.every((a) => principal.agents!.includes(a));
}

export async function revokeApiKey(env: Env, by: Principal, keyId: string, requestId: string): Promise<string> {
  const existing = await getApiKey(env.DB, keyId);
  // A key outside the caller's agents is reported as unknown: it is not in their list either.
  if (!existing || !withinAgents(by, existing.agents)) throw new AppError("not_found", `No API key '${keyId}'.`);
  if (roleRank(existing.role) > roleRank(by.role)) {
    throw new AppError("forbidden", `A '${by.role}' cannot revoke a key with the role '${existing.role}'.`);
  }
  const now = Date.now();
  if (!(await revokeRow(env.DB, keyId, now))) {
    const current = await getApiKey(env.DB, keyId);
    throw new AppError("conflict", `API key '${keyId}' was already revoked at ${current?.revoked_at ?? existing.revoked_at}.`);
  }
  log({ event: "auth.api_key_revoked", request_id: requestId, key_id: keyId, by: by.id });
  return iso(now);
}
