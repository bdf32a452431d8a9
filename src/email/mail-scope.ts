/**
 * Whose mail a caller may see and change. Messages and templates have an owner: an agent id,
 * or null for global ones (made by a credential without an agent limit). A credential limited
 * to some agents reads and writes only its agents' messages and templates, and may read and
 * use global templates; global messages and templates are for unrestricted credentials.
 *
 * Every query of the message log and of the template store takes its condition from here, so a
 * new route cannot forget the filter: the store functions require a scope.
 */
import type { Principal } from "../auth/principal";
import { AppError } from "../lib/problem";

/** The caller's agent limit (a Principal is one); `agents` undefined: every agent's mail, and global mail. */
export type MailScope = Pick<Principal, "agents">;

/** The server acting on its own (approval mail, tasks): no limit. */
export const SYSTEM_SCOPE: MailScope = {};

/** A WHERE condition and its bound values. */
export interface SqlCondition {
  sql: string;
  binds: unknown[];
}

const everything: SqlCondition = { sql: "1 = 1", binds: [] };

/** `agent_id` among the scope's agents: one bound JSON array, so a long list stays one parameter. */
function amongAgents(agents: readonly string[]): SqlCondition {
  if (agents.length === 1) return { sql: "agent_id = ?", binds: [agents[0]] };
  return { sql: "agent_id IN (SELECT value FROM json_each(?))", binds: [JSON.stringify(agents)] };
}

export function isRestricted(scope: MailScope): boolean {
  return scope.agents !== undefined;
}

export function mayUseAgent(scope: MailScope, agentId: string): boolean {
  return scope.agents === undefined || scope.agents.includes(agentId);
}

/** 403 for an agent outside the scope (the wording of every other route). */
export function requireMailAgent(scope: MailScope, agentId: string): void {
  if (!mayUseAgent(scope, agentId)) throw new AppError("forbidden", `This credential is limited to other agents than '${agentId}'.`);
}

/**
 * Messages the scope may read, optionally only `agentId`'s (403 when that agent is outside the
 * scope): a limited credential sees its agents' messages, never global ones.
 */
export function visibleMessages(scope: MailScope, agentId?: string): SqlCondition {
  if (agentId !== undefined) {
    requireMailAgent(scope, agentId);
    return { sql: "agent_id = ?", binds: [agentId] };
  }
  return scope.agents === undefined ? everything : amongAgents(scope.agents);
}

/**
 * Templates the scope may read and send with: global ones and its agents'. With `agentId`
 * (403 when outside the scope), global ones and that agent's only.
 */
export function visibleTemplates(scope: MailScope, agentId?: string): SqlCondition {
  if (agentId !== undefined) {
    requireMailAgent(scope, agentId);
    return { sql: "(agent_id IS NULL OR agent_id = ?)", binds: [agentId] };
  }
  if (scope.agents === undefined) return everything;
  const among = amongAgents(scope.agents);
  return { sql: `(agent_id IS NULL OR ${among.sql})`, binds: among.binds };
}

/** Templates a message of `owner` may use: global ones and, for an agent's message, that agent's. */
export function templatesUsableBy(owner: string | null): SqlCondition {
  return owner === null ? { sql: "agent_id IS NULL", binds: [] } : { sql: "(agent_id IS NULL OR agent_id = ?)", binds: [owner] };
}

/** Templates the scope may change or delete: its agents' (every one for an unrestricted credential). */
export function writableTemplates(scope: MailScope): SqlCondition {
  return scope.agents === undefined ? everything : amongAgents(scope.agents);
}

/** Whether the scope may change or delete something owned by `owner` (global: unrestricted credentials only). */
export function mayWrite(scope: MailScope, owner: string | null): boolean {
  return owner === null ? scope.agents === undefined : mayUseAgent(scope, owner);
}

/**
 * The owner of what the scope creates or addresses by name: the agent it names (403 outside the
 * scope); without one, global for an unrestricted credential and the only agent of a credential
 * limited to one; a credential limited to several agents must name one (422 at `path`).
 */
export function ownerFor(scope: MailScope, requested: string | undefined, path = "agent_id"): string | null {
  if (requested !== undefined) {
    requireMailAgent(scope, requested);
    return requested;
  }
  if (scope.agents === undefined) return null;
  if (scope.agents.length === 1) return scope.agents[0] as string;
  throw new AppError(
    "validation_failed",
    `${path} is required: this credential is limited to ${scope.agents.length} agents; name the one the mail is for.`,
    {
      errors: [{ path, message: "required for a credential limited to several agents" }],
    },
  );
}
