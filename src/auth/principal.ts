/**
 * Who is calling and what they may do. Roles are cumulative, as in the prototype:
 * guest ⊂ user ⊂ developer ⊂ admin ⊂ super_admin.
 */
import { z } from "zod";
import { AppError } from "../lib/problem";

export const ROLES = ["guest", "user", "developer", "admin", "super_admin"] as const;
export const Role = z.enum(ROLES);
export type Role = z.infer<typeof Role>;

export const PERMISSIONS = [
  "state:read",
  "state:write",
  "tasks:read",
  "tasks:write",
  "scaling:write",
  "email:send",
  "calls:write",
  "api_keys:manage",
  "deploy:generate",
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const GUEST: readonly Permission[] = ["state:read", "tasks:read"];
const USER: readonly Permission[] = [...GUEST, "state:write", "tasks:write"];
const DEVELOPER: readonly Permission[] = [...USER, "scaling:write", "email:send", "calls:write"];
const ADMIN: readonly Permission[] = [...DEVELOPER, "api_keys:manage", "deploy:generate"];

/** Each role has everything the one before it has, plus its own. */
const GRANTS: Record<Role, readonly Permission[]> = {
  guest: GUEST,
  user: USER,
  developer: DEVELOPER,
  admin: ADMIN,
  super_admin: PERMISSIONS,
};

export interface Principal {
  /** `sub` of a JWT, `key_…` of an API key, or `admin` for the bootstrap key. */
  id: string;
  role: Role;
  /** When set, the only agent ids this principal may touch. */
  agents?: readonly string[];
  /** `call_agent`: a call's answering agent using its tools (src/calls/agent-tools.ts); `id` is the call's id. */
  via: "jwt" | "api_key" | "admin_key" | "call_agent";
}

/**
 * How a principal is named where it is recorded (who decided an approval) and counted (its
 * rate-limit bucket): `<how it authenticated>:<id>`, e.g. `jwt:alice`, `api_key:key_…`,
 * `admin_key:admin`. The kind keeps a JWT whose `sub` is `admin` or a `key_…` id apart from the
 * admin key or that API key.
 */
export function principalLabel(principal: Principal): string {
  return `${principal.via}:${principal.id}`;
}

export function can(principal: Principal, permission: Permission): boolean {
  return GRANTS[principal.role].includes(permission);
}

export function roleRank(role: Role): number {
  return ROLES.indexOf(role);
}

export function mayTouchAgent(principal: Principal, agentId: string): boolean {
  return principal.agents === undefined || principal.agents.includes(agentId);
}

/** The `WWW-Authenticate` challenge of every 401 (RFC 6750). */
export const WWW_AUTHENTICATE = 'Bearer realm="datamcpserveragent"';

/** The principal, or 401 with the challenge when the request presented no credentials. */
export function requirePrincipal(principal: Principal | undefined): Principal {
  if (!principal) {
    throw new AppError("unauthenticated", "This route needs a bearer token or an API key.", {
      headers: { "WWW-Authenticate": WWW_AUTHENTICATE },
    });
  }
  return principal;
}

/** The principal when it holds `permission`: 401 without one (for routes that also take other proof), 403 without the permission. */
export function requirePermission(given: Principal | undefined, permission: Permission): Principal {
  const principal = requirePrincipal(given);
  if (!can(principal, permission)) {
    throw new AppError("forbidden", `The role '${principal.role}' lacks the permission '${permission}'.`);
  }
  return principal;
}

/** 403 unless the credential may act for `agentId` (one wording for every route). */
export function requireAgent(principal: Principal, agentId: string): void {
  if (!mayTouchAgent(principal, agentId)) throw new AppError("forbidden", `This credential is limited to other agents than '${agentId}'.`);
}
