/** Cancelling a running built-in task stops its handler at the next checkpoint. */
import { afterEach, describe, expect, it, vi } from "vitest";
import { call, json, problem } from "../helpers/api";
import { BUILT_IN_TASK_TYPES } from "../../src/tasks/handlers/registry";
import type { TaskHandler } from "../../src/tasks/handler";
import { createTask, getTask, sleep, waitForStatus, type Task } from "../helpers/tasks";

afterEach(() => {
  vi.restoreAllMocks();
});

type Ending = { at: number; outcome: "returned" | "threw"; error?: unknown };

/**
 * Wraps the real delay handler (same isolate as the queue consumer) to see when and how it ends.
 * The outcome is recorded in a plain object and polled: a promise settled from the consumer's
 * request context must not be awaited from the test's.
 */
function watchDelayHandler(): { ending: Ending | null } {
  const real = BUILT_IN_TASK_TYPES.delay!.handler;
  const watch: { ending: Ending | null } = { ending: null };
  const wrapped: TaskHandler = async (ctx) => {
    try {
      const result = await real(ctx);
      watch.ending = { at: Date.now(), outcome: "returned" };
      return result;
    } catch (error) {
      watch.ending = { at: Date.now(), outcome: "threw", error };
      throw error;
    }
  };
  vi.spyOn(BUILT_IN_TASK_TYPES.delay!, "handler").mockImplementation(wrapped);
  return watch;
}

describe("cancellation mid-run", () => {
  it("a running delay task is cancelled, its handler stops within a checkpoint, and it stays cancelled", async () => {
    const watch = watchDelayHandler();
    const started = Date.now();
    const id = await createTask("canceller", { task_type: "delay", metadata: { seconds: 5 } });
    // Running, with some progress reported.
    await expect.poll(async () => {
      const t = await getTask(id);
      return t.status === "running" && t.progress > 0;
    }, { timeout: 10_000, interval: 50 }).toBe(true);

    const cancelledAt = Date.now();
    const res = await call(`/api/v2/tasks/${id}/cancel`, { method: "POST" });
    expect(res.status).toBe(200);
    const cancelled = await json<Task>(res);
    expect(cancelled.status).toBe("cancelled");
    expect(cancelled.progress).toBeLessThan(100);

    // The handler ends with TaskCancelled at its next checkpoint (slices of 250 ms), not after 5 s.
    await expect.poll(() => watch.ending, { timeout: 5000, interval: 50 }).not.toBeNull();
    const end = watch.ending!;
    expect(end.outcome).toBe("threw");
    expect((end.error as Error).name).toBe("TaskCancelled");
    expect(end.at - cancelledAt).toBeLessThan(1500);
    expect(end.at - started).toBeLessThan(4000);

    // A second later nothing has moved: still cancelled, same progress, attempts 1, no result.
    await sleep(1000);
    const later = await getTask(id);
    expect(later).toMatchObject({ status: "cancelled", progress: cancelled.progress, attempts: 1, result: null });
    expect(later.completed_at).toBe(cancelled.completed_at);
    await problem(await call(`/api/v2/tasks/${id}/cancel`, { method: "POST" }), 409);
  }, 20_000);

  it("cancelled tasks free their lane, and backlog tasks cancelled before running never run", async () => {
    const agent = "lane-freer";
    const ids = [];
    // With the default concurrency per instance, enough long delays fill the lanes; the last waits.
    for (let i = 0; i < 3; i++) ids.push(await createTask(agent, { task_type: "delay", metadata: { seconds: 30 } }));
    await waitForStatus(ids[0]!, ["running"]);
    for (const id of ids) await call(`/api/v2/tasks/${id}/cancel`, { method: "POST" });
    const quick = await createTask(agent, { task_type: "noop" });
    expect(await waitForStatus(quick, ["completed", "failed"])).toMatchObject({ status: "completed", attempts: 1 });
    expect(await getTask(ids[0]!)).toMatchObject({ status: "cancelled", attempts: 1 });
    // The two that waited in the backlog were cancelled before any attempt, and never ran.
    for (const id of ids.slice(1)) expect(await getTask(id)).toMatchObject({ status: "cancelled", attempts: 0, started_at: null, progress: 0 });
  }, 20_000);
});

describe("cancellation of a handler waiting on I/O", () => {
  it("an http_request whose server never answers is aborted within about a second of the cancel, and not retried", async () => {
    const target = "https://never-answers.example.test/slow";
    const realFetch = globalThis.fetch;
    // What the fetch saw, in a plain object polled by the test (it runs in the consumer's context).
    const seen = { calls: 0, abortedAt: null as number | null };
    vi.spyOn(globalThis, "fetch").mockImplementation((input, init) => {
      const req = new Request(input as RequestInfo, init);
      if (req.url !== target) return realFetch(input as RequestInfo, init);
      seen.calls++;
      return new Promise<Response>((_resolve, reject) => {
        req.signal.addEventListener("abort", () => {
          seen.abortedAt = Date.now();
          reject(req.signal.reason);
        });
      });
    });
    const id = await createTask("io-canceller", { task_type: "http_request", metadata: { url: target, timeout_seconds: 60 } });
    await waitForStatus(id, ["running"]);
    await expect.poll(() => seen.calls, { timeout: 5000, interval: 20 }).toBe(1);

    const cancelledAt = Date.now();
    expect((await call(`/api/v2/tasks/${id}/cancel`, { method: "POST" })).status).toBe(200);
    await expect.poll(() => seen.abortedAt, { timeout: 5000, interval: 20 }).not.toBeNull();
    expect(seen.abortedAt! - cancelledAt).toBeLessThan(2500);

    await sleep(1500);
    expect(seen.calls).toBe(1);
    expect(await getTask(id)).toMatchObject({ status: "cancelled", attempts: 1, result: null });
  }, 20_000);
});
