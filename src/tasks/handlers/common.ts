/**
 * Helpers shared by the built-in handlers: metadata validation that fails without retries, and
 * telling a cancelled task apart from one that was aborted for another reason (timeout).
 */
import type { z } from "zod";
import { NonRetryableError, TaskCancelled, type TaskContext } from "../handler";

/**
 * Validates `ctx.metadata` against a schema. Bad input never gets better on retry, so every
 * failure is a NonRetryableError naming the first failing field as `metadata.<path>`.
 */
export function parseMetadata<S extends z.ZodType>(schema: S, metadata: unknown, taskType: string): z.output<S> {
  const result = schema.safeParse(metadata ?? {});
  if (result.success) return result.data;
  const details = result.error.issues.map((issue) => {
    const path = ["metadata", ...issue.path.map(String)].join(".");
    return `${path}: ${issue.message}`;
  });
  throw new NonRetryableError(`Invalid ${taskType} input: ${details.join("; ")}`);
}

/**
 * What to throw once `ctx.signal` has aborted. `ctx.signal` aborts on cancellation *and* on the
 * task timeout, so its reason decides: a TaskCancelled reason is rethrown as is; otherwise
 * `ctx.checkpoint()` asks whether the task was cancelled (it throws TaskCancelled if so), and if
 * not, the abort is reported as a plain (retryable) Error — the consumer decides about timeouts.
 */
export async function abortedError(ctx: TaskContext, doing: string): Promise<Error> {
  const reason: unknown = ctx.signal.reason;
  if (reason instanceof TaskCancelled) return reason;
  try {
    await ctx.checkpoint();
  } catch (error) {
    if (error instanceof TaskCancelled) return error;
    throw error;
  }
  const why = reason instanceof Error ? reason.message : String(reason ?? "aborted");
  return new Error(`${doing} was aborted: ${why}`);
}

/** Waits `ms`, rejecting with the signal's reason as soon as `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
