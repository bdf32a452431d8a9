/**
 * noop: completes at once with { ok: true }. The benchmark uses it to measure the task
 * pipeline itself (queue, consumer, Durable Object writes) without any work in the way.
 */
import type { TaskHandler } from "../handler";

export const noop: TaskHandler = async () => ({ ok: true });
