import { describe, expect, it } from "vitest";
import { NonRetryableError, TaskCancelled, type TaskContext } from "../../src/tasks/handler";
import { dataAnalysis } from "../../src/tasks/handlers/data-analysis";
import { delay, SLICE_MS, type DelayResult } from "../../src/tasks/handlers/delay";
import { httpRequest } from "../../src/tasks/handlers/http-request";
import { noop } from "../../src/tasks/handlers/noop";
import { BUILT_IN_TASK_TYPES, handlerFor } from "../../src/tasks/handlers/registry";

/** Records progress; with `cancelAfter`, progress throws TaskCancelled after that many calls. */
function fakeContext(metadata: Record<string, unknown>, options: { cancelAfter?: number; signal?: AbortSignal } = {}) {
  const progress: { percent: number; message?: string }[] = [];
  const ctx: TaskContext = {
    taskId: "task-1",
    agentId: "agent-1",
    taskType: "delay",
    attempt: 1,
    metadata,
    signal: options.signal ?? new AbortController().signal,
    async progress(percent, message) {
      progress.push({ percent, message });
      if (options.cancelAfter !== undefined && progress.length > options.cancelAfter) throw new TaskCancelled();
    },
    async checkpoint() {},
  };
  return { ctx, progress };
}

describe("handler registry", () => {
  it("maps the built-in task types to their handlers", () => {
    expect(Object.keys(BUILT_IN_TASK_TYPES).sort()).toEqual(["data_analysis", "delay", "http_request", "noop", "send_email"]);
    expect(handlerFor("data_analysis")).toBe(dataAnalysis);
    expect(handlerFor("http_request")).toBe(httpRequest);
    expect(handlerFor("noop")).toBe(noop);
    expect(handlerFor("delay")).toBe(delay);
  });

  it("has no handler for external task types, nor for Object.prototype's keys", () => {
    for (const type of ["image_render", "constructor", "toString", "__proto__", ""]) {
      expect(handlerFor(type)).toBeUndefined();
    }
  });
});

describe("noop handler", () => {
  it("returns { ok: true } without reporting anything", async () => {
    const { ctx, progress } = fakeContext({ anything: 1 });
    expect(await noop(ctx)).toEqual({ ok: true });
    expect(progress).toHaveLength(0);
  });
});

describe("delay handler", () => {
  it("waits metadata.seconds in slices of at most 250 ms, reporting progress after each", async () => {
    const { ctx, progress } = fakeContext({ seconds: 0.3 });
    const result = (await delay(ctx)) as DelayResult;
    expect(result).toMatchObject({ ok: true, seconds: 0.3 });
    expect(result.waited_ms).toBeGreaterThanOrEqual(295);
    expect(progress).toEqual([
      { percent: Math.floor((SLICE_MS / 300) * 100), message: "waited 0.25 of 0.3 s" },
      { percent: 100, message: "waited 0.30 of 0.3 s" },
    ]);
  });

  it("returns at once for 0 seconds", async () => {
    const { ctx, progress } = fakeContext({ seconds: 0 });
    expect(await delay(ctx)).toMatchObject({ ok: true, seconds: 0 });
    expect(progress).toHaveLength(0);
  });

  it("stops at the next slice once cancelled, rethrowing TaskCancelled", async () => {
    const { ctx, progress } = fakeContext({ seconds: 10 }, { cancelAfter: 2 });
    await expect(delay(ctx)).rejects.toBeInstanceOf(TaskCancelled);
    // Stopped at the third report (the one that threw), not after the 40 slices of 10 s.
    expect(progress).toHaveLength(3);
  });

  it("ends a slice early when ctx.signal aborts", async () => {
    const controller = new AbortController();
    const { ctx, progress } = fakeContext({ seconds: 300 }, { signal: controller.signal });
    // The first slice starts as the call begins; the abort comes while it waits.
    const running = delay(ctx);
    controller.abort(new TaskCancelled());
    await expect(running).rejects.toBeInstanceOf(TaskCancelled);
    // That slice never completed: no progress was reported.
    expect(progress).toHaveLength(0);
  });

  it.each([[{}], [{ seconds: -1 }], [{ seconds: 301 }], [{ seconds: "5" }]])("refuses %j without retries", async (metadata) => {
    const attempt = delay(fakeContext(metadata).ctx);
    await expect(attempt).rejects.toBeInstanceOf(NonRetryableError);
    await expect(attempt).rejects.toThrow(/metadata\.seconds/);
  });
});
