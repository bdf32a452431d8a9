/** A failing built-in task retries with exponential backoff, then fails and is dead-lettered. */
import { afterEach, describe, expect, it, vi } from "vitest";
import { createTask, deadLettersFor, getTask, waitForStatus } from "../helpers/tasks";

const TARGET = "https://flaky.example.test/endpoint";

afterEach(() => {
  vi.restoreAllMocks();
});

/** Intercepts fetches to TARGET (answering `answer()`) and records when they happen. */
function interceptTarget(answer: () => Response): number[] {
  const realFetch = globalThis.fetch;
  const calls: number[] = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const url = new Request(input as RequestInfo, init).url;
    if (url !== TARGET) return realFetch(input as RequestInfo, init);
    calls.push(Date.now());
    return answer();
  });
  return calls;
}

describe("retries with backoff", () => {
  it("an http_request answered 503 three times ends failed, after ~1 s and ~2 s of backoff, and is dead-lettered", async () => {
    const calls = interceptTarget(() => new Response("down", { status: 503 }));
    const id = await createTask("retrier", { task_type: "http_request", metadata: { url: TARGET }, max_attempts: 3 });

    const done = await waitForStatus(id, ["completed", "failed"], 20_000);
    expect(done.status).toBe("failed");
    expect(done.attempts).toBe(3);
    expect(done.error_message).toMatch(/503/);
    expect(done.error_message).toContain("down");
    expect(done.result).toBeNull();
    expect(done.completed_at).not.toBeNull();

    // Three requests, the gaps growing: ~1 s, then ~2 s (queue delivery adds a little).
    expect(calls).toHaveLength(3);
    const [a, b, c] = calls as [number, number, number];
    expect(b - a).toBeGreaterThanOrEqual(900);
    expect(c - b).toBeGreaterThanOrEqual(1800);
    expect(c - a).toBeGreaterThanOrEqual(2800);
    expect(Date.parse(done.completed_at!) - Date.parse(done.started_at!)).toBeGreaterThanOrEqual(2800);

    // The dead-letter queue's consumer records the message in D1.
    await expect.poll(async () => (await deadLettersFor(id)).length, { timeout: 10_000, interval: 100 }).toBe(1);
    const [row] = await deadLettersFor(id);
    expect(row).toMatchObject({ task_id: id, agent_id: "retrier", attempts: 3 });
    expect(row!.error).toMatch(/503/);

    // Nothing runs it again afterwards.
    await new Promise((r) => setTimeout(r, 1000));
    expect(calls).toHaveLength(3);
    expect(await getTask(id)).toMatchObject({ status: "failed", attempts: 3 });
  }, 30_000);

  it("a task that recovers on its second attempt completes with attempts 2 and no dead letter", async () => {
    let n = 0;
    const calls = interceptTarget(() => (++n === 1 ? new Response("busy", { status: 502 }) : new Response("fine", { status: 200 })));
    const id = await createTask("recoverer", { task_type: "http_request", metadata: { url: TARGET }, max_attempts: 3 });
    const done = await waitForStatus(id, ["completed", "failed"], 15_000);
    expect(done).toMatchObject({ status: "completed", attempts: 2, progress: 100 });
    expect(done.result).toMatchObject({ status: 200, ok: true, body_excerpt: "fine" });
    expect(calls).toHaveLength(2);
    expect(calls[1]! - calls[0]!).toBeGreaterThanOrEqual(900);
    expect(await deadLettersFor(id)).toEqual([]);
  }, 20_000);

  it("max_attempts 1: the first failure is final and dead-lettered", async () => {
    const calls = interceptTarget(() => new Response("down", { status: 500 }));
    const id = await createTask("one-shot", { task_type: "http_request", metadata: { url: TARGET }, max_attempts: 1 });
    const done = await waitForStatus(id, ["completed", "failed"], 10_000);
    expect(done).toMatchObject({ status: "failed", attempts: 1 });
    expect(calls).toHaveLength(1);
    await expect.poll(async () => (await deadLettersFor(id)).map((r) => r.attempts), { timeout: 10_000, interval: 100 }).toEqual([1]);
  }, 20_000);
});
