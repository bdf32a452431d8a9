/**
 * noop: completes at once with { ok: true }. The benchmark uses it to measure the task
 * pipeline itself (queue, consumer, Durable Object writes) without any work in the way.
 */
import { z } from "zod";
import type { TaskHandler } from "../handler";

/** Any metadata object: noop reads none of it. */
export const NoopInput = z.record(z.string(), z.unknown());

export const noop: TaskHandler = async () => ({ ok: true });
