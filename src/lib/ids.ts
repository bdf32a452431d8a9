/** Public ids: a type prefix and 24 hex characters of randomness (96 bits). */
export type IdPrefix = "task" | "approval" | "msg" | "tmpl" | "call" | "part" | "key";

export function newId(prefix: IdPrefix): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `${prefix}_${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}
