/** Cancelling a running built-in task stops its handler at the next checkpoint. */
import { afterEach, describe, expect, it, vi } from "vitest";
import { call, json, problem } from "../helpers/api";
import { BUILT_IN_TASK_TYPES } from "../../src/tasks/handlers/registry";
import type { TaskHandler } from "../../src/tasks/handler";
import { createTask, getTask, sleep, waitForStatus, type Task } from "../helpers/tasks";

afterEach(() => {
  vi.restoreAllMocks();
});

type Ending = { outcome: "returned" | "threw"; error?: unknown };

/**
 * Wraps the real delay handler (same isolate as the queue consumer) to see how it ends.
 * The outcome is recorded in a plain object and polled: a promise settled from the consumer's
 * request context must not be awaited from the test's.
 */
function watchDelayHandler(): { ending: Ending | null } {
  const real = BUILT_IN_TASK_TYPES.delay!.handler;
  const watch: { ending: Ending | null } = { ending: null };
  const wrapped: TaskHandler = async (ctx) => {
    try {
      const result = await real(ctx);
      watch.ending = { outcome: "returned" };
      return result;
    } catch (error) {
      watch.ending = { outcome: "threw", error };
      throw error;
    }
  };
  vi.spyOn(BUILT_IN_TASK_TYPES.delay!, "handler").mockImplementation(wrapped);
  return watch;
}

/**
 * How long a cancelled attempt may take to stop: a delay checks at its next progress report
 * (every 250 ms) and the consumer asks the agent for cancellations once a second; the rest is
 * margin for a busy machine. The tasks under test would run for a minute if nothing stopped them.
 */
const STOP_WITHIN_MS = 10_000;

describe("cancellation mid-run", () => {
  it("a running delay task is cancelled, its handler stops at a checkpoint, and it stays cancelled", async () => {
    const watch = watchDelayHandler();
    const id = await createTask("canceller", { task_type: "delay", metadata: { seconds: 60 } });
    // Running, with some progress reported.
    await expect
      .poll(
        async () => {
          const t = await getTask(id);
          return t.status === "running" && t.progress > 0;
        },
        { timeout: 10_000, interval: 50 },
      )
      .toBe(true);

    const res = await call(`/api/v2/tasks/${id}/cancel`, { method: "POST" });
    expect(res.status).toBe(200);
    const cancelled = await json<Task>(res);
    expect(cancelled.status).toBe("cancelled");
    expect(cancelled.progress).toBeLessThan(100);

    // The handler ends with TaskCancelled at a checkpoint, long before its minute is up.
    await expect.poll(() => watch.ending, { timeout: STOP_WITHIN_MS, interval: 50 }).not.toBeNull();
    const end = watch.ending!;
    expect(end.outcome).toBe("threw");
    expect((end.error as Error).name).toBe("TaskCancelled");

    // A second later nothing has moved: still cancelled, same progress, attempts 1, no result.
    await sleep(1000);
    const later = await getTask(id);
    expect(later).toMatchObject({ status: "cancelled", progress: cancelled.progress, attempts: 1, result: null });
    expect(later.completed_at).toBe(cancelled.completed_at);
    await problem(await call(`/api/v2/tasks/${id}/cancel`, { method: "POST" }), 409);
  }, 30_000);

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
    for (const id of ids.slice(1))
      expect(await getTask(id)).toMatchObject({ status: "cancelled", attempts: 0, started_at: null, progress: 0 });
  }, 20_000);
});

describe("cancellation of a handler waiting on I/O", () => {
  it("an http_request whose server never answers is aborted after the cancel, and not retried", async () => {
    const target = "https://never-answers.example.test/slow";
    const realFetch = globalThis.fetch;
    // What the fetch saw, in a plain object polled by the test (it runs in the consumer's context).
    const seen = { calls: 0, aborted: false };
    vi.spyOn(globalThis, "fetch").mockImplementation((input, init) => {
      const req = new Request(input as RequestInfo, init);
      if (req.url !== target) return realFetch(input as RequestInfo, init);
      seen.calls++;
      return new Promise<Response>((_resolve, reject) => {
        req.signal.addEventListener("abort", () => {
          seen.aborted = true;
          reject(req.signal.reason);
        });
      });
    });
    const id = await createTask("io-canceller", { task_type: "http_request", metadata: { url: target, timeout_seconds: 60 } });
    await waitForStatus(id, ["running"]);
    await expect.poll(() => seen.calls, { timeout: 10_000, interval: 20 }).toBe(1);

    // Not aborted by anything else: the request's own timeout is a minute away.
    expect(seen.aborted).toBe(false);
    expect((await call(`/api/v2/tasks/${id}/cancel`, { method: "POST" })).status).toBe(200);
    // The consumer's once-a-second cancellation check aborts the handler's signal.
    await expect.poll(() => seen.aborted, { timeout: STOP_WITHIN_MS, interval: 20 }).toBe(true);

    await sleep(1500);
    expect(seen.calls).toBe(1);
    expect(await getTask(id)).toMatchObject({ status: "cancelled", attempts: 1, result: null });
  }, 30_000);
});
