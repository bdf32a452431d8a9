/**
 * delay: waits `metadata.seconds` (0–300, fractions allowed) and completes with
 * { ok: true, seconds, waited_ms }. It exists to demonstrate parallel lanes and cancellation.
 *
 * The wait is cut into slices of at most SLICE_MS; after each slice the handler reports
 * progress, which is also the cancellation checkpoint, so a cancelled delay stops within one
 * slice. Each slice also listens to ctx.signal, so an abort ends it at once.
 */
import { z } from "zod";
import type { TaskContext, TaskHandler } from "../handler";
import { abortedError, parseMetadata, sleep } from "./common";

export const SLICE_MS = 250;

/** The input, checked when the task is created and again when it runs. */
export const DelayInput = z.object({
  seconds: z.number({ error: "is required: a number of seconds, 0–300" }).min(0).max(300),
});

export interface DelayResult {
  ok: true;
  seconds: number;
  waited_ms: number;
}

export const delay: TaskHandler = async (ctx: TaskContext): Promise<DelayResult> => {
  const { seconds } = parseMetadata(DelayInput, ctx.metadata, "delay");
  const totalMs = Math.round(seconds * 1000);
  const started = Date.now();
  // Counted in planned slices, not wall time, so progress reaches 100 exactly on the last one.
  for (let done = 0; done < totalMs;) {
    const slice = Math.min(SLICE_MS, totalMs - done);
    try {
      await sleep(slice, ctx.signal);
    } catch {
      throw await abortedError(ctx, "delay");
    }
    done += slice;
    await ctx.progress(Math.floor((done / totalMs) * 100), `waited ${(done / 1000).toFixed(2)} of ${seconds} s`);
  }
  return { ok: true, seconds, waited_ms: Date.now() - started };
};
