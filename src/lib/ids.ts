/**
 * Public ids: a type prefix and 24 hex characters of randomness (96 bits). Task ids are made by
 * their agent's Durable Object instead (durable-objects/agent/task-ids.ts): `task_` + the agent's
 * 12-hex prefix + 20 random hex.
 */
export type IdPrefix = "approval" | "msg" | "tmpl" | "call" | "part" | "key" | "rec";

export function newId(prefix: IdPrefix): string {
  return `${prefix}_${randomHex(12)}`;
}

/** `bytes` random bytes as lowercase hex. */
export function randomHex(bytes: number): string {
  const buf = crypto.getRandomValues(new Uint8Array(bytes));
  let out = "";
  for (const b of buf) out += b.toString(16).padStart(2, "0");
  return out;
}

/** A task id's agent prefix, or null for an id made before prefixes (`task_` + 24 hex, in D1's task_index). */
export function taskIdPrefix(taskId: string): string | null {
  return /^task_([0-9a-f]{12})[0-9a-f]{20}$/.exec(taskId)?.[1] ?? null;
}
