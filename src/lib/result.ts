/**
 * The one result shape of a Durable Object method: the value, or an expected failure as data.
 * Only an Error's `message` and `name` cross RPC, so refusals travel as values and the calling
 * service turns them into problems with {@link unwrap}.
 */
import type { AppError } from "./problem";

export type Result<T, F extends { reason: string }> = { ok: true; value: T } | ({ ok: false } & F);

/** The value of a result, or the problem its failure maps to (thrown). */
export function unwrap<T, F extends { reason: string }>(result: Result<T, F>, refuse: (failure: F) => AppError): T {
  if (result.ok) return result.value;
  throw refuse(result as F);
}
