/**
 * Who is calling and what they may do. Roles are cumulative, as in the prototype:
 * guest ⊂ user ⊂ developer ⊂ admin ⊂ super_admin.
 */
import { z } from "zod";

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

const GRANTS: Record<Role, readonly Permission[]> = {
  guest: ["state:read", "tasks:read"],
  user: ["state:read", "tasks:read", "state:write", "tasks:write"],
  developer: ["state:read", "tasks:read", "state:write", "tasks:write", "scaling:write", "email:send", "calls:write"],
  admin: [
    "state:read",
    "tasks:read",
    "state:write",
    "tasks:write",
    "scaling:write",
    "email:send",
    "calls:write",
    "api_keys:manage",
    "deploy:generate",
  ],
  super_admin: PERMISSIONS,
};

export interface Principal {
  /** `sub` of a JWT, `key_…` of an API key, or `admin` for the bootstrap key. */
  id: string;
  role: Role;
  /** When set, the only agent ids this principal may touch. */
  agents?: readonly string[];
  via: "jwt" | "api_key" | "admin_key";
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
