/** zod schemas for agent state: the single source for validation, types and the OpenAPI document. */
import { z } from "zod";
import { AGENT_ID_PATTERN, AGENT_TYPES } from "./model";

export const AgentId = z
  .string()
  .regex(AGENT_ID_PATTERN, "1–128 characters of [A-Za-z0-9._:-], starting with a letter or digit")
  .describe("The agent's id.");

export const AgentType = z.enum(AGENT_TYPES);

export const AgentParams = z.object({ agent_id: AgentId });
export const AgentVersionParams = z.object({
  agent_id: AgentId,
  version: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).describe("A version number."),
});

const StateData = z.record(z.string(), z.unknown()).describe("Any JSON object.");
const ExpectedVersion = z
  .number()
  .int()
  .min(0)
  .describe("Save only if the current version is this one (0: only if no state exists yet); same as `If-Match`.");

export const SaveStateBody = z
  .object({
    agent_type: AgentType.optional().describe("Defaults to the previous version's type, or `analytics`."),
    state_data: StateData,
    expected_version: ExpectedVersion.optional(),
  })
  .strict();
export type SaveStateBody = z.infer<typeof SaveStateBody>;

/**
 * The prototype posted the state itself as the body, with `?agent_type=` in the query. That old
 * form applies when `agent_type` is in the query, or when the body has no `state_data` member.
 * A body that has `state_data` is the documented form and is validated as such: a mistake in it
 * (`{"state_data": 1}`, an unknown member) is a 422 that changes nothing, never a new version
 * whose data is the whole mistaken body.
 */
export function adaptLegacySaveBody(raw: unknown, query: Record<string, string>): unknown {
  if (query.agent_type !== undefined) return { agent_type: query.agent_type, state_data: raw };
  const hasStateData = typeof raw === "object" && raw !== null && !Array.isArray(raw) && Object.hasOwn(raw, "state_data");
  return hasStateData ? raw : { state_data: raw };
}

export const RestoreBody = z
  .object({
    version: z.number().int().min(1).describe("The version whose data becomes the new current version."),
    expected_version: ExpectedVersion.optional(),
  })
  .strict();

export const LoadStateQuery = z.object({
  consistency: z
    .enum(["strong", "eventual"])
    .default("strong")
    .describe("`eventual` may serve the KV snapshot (fast, up to ~60 s stale on Cloudflare); `strong` asks the Durable Object."),
});

const Limit = z.coerce.number().int().min(1).max(100).default(20).describe("Page size, 1–100.");
export const VersionsQuery = z.object({
  limit: Limit,
  cursor: z
    .string()
    .regex(/^\d{1,15}$/, "a cursor returned as next_cursor")
    .optional()
    .describe("`next_cursor` from the previous page."),
});
export const AgentsQuery = z.object({
  limit: Limit,
  cursor: z.string().max(200).optional().describe("`next_cursor` from the previous page."),
  agent_type: AgentType.optional().describe("Only agents of this type."),
});

export const PersistentState = z.object({
  agent_id: z.string(),
  agent_type: AgentType,
  state_data: z.record(z.string(), z.unknown()),
  created_at: z.string().describe("ISO 8601 UTC: when this agent's state was first saved."),
  updated_at: z.string().describe("ISO 8601 UTC: when this version was saved."),
  version: z.number().int(),
  restored_from: z.number().int().optional().describe("Present when this version was written by a restore."),
});

export const SaveStateResponse = z.object({
  success: z.literal(true),
  agent_id: z.string(),
  version: z.number().int(),
  message: z.string(),
  restored_from: z.number().int().optional(),
});

export const DeleteStateResponse = z.object({ success: z.literal(true), agent_id: z.string(), message: z.string() });

export const VersionList = z.object({
  agent_id: z.string(),
  current_version: z.number().int(),
  versions: z.array(
    z.object({
      version: z.number().int(),
      agent_type: AgentType,
      updated_at: z.string(),
      size_bytes: z.number().int(),
      restored_from: z.number().int().nullable(),
    }),
  ),
  next_cursor: z.string().nullable(),
});

export const AgentList = z.object({
  agents: z.array(
    z.object({
      agent_id: z.string(),
      agent_type: AgentType,
      version: z.number().int(),
      updated_at: z.string(),
      instances: z.number().int(),
    }),
  ),
  next_cursor: z.string().nullable(),
});
