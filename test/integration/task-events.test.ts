import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, json, mintToken, problem } from "../helpers/api";
import { HEARTBEAT_MS } from "../../durable-objects/agent/event-stream";
import { SseReader } from "../helpers/sse";

type Ev = {
  task_id: string;
  seq: number;
  type: string;
  status: string;
  progress: number;
  message: string | null;
  at: string;
  result?: unknown;
  error_message?: string | null;
};

async function externalTask(agent: string): Promise<string> {
  const res = await call(`/api/v2/agents/${agent}/tasks`, { body: { task_type: "external_job", metadata: { n: 1 } } });
  expect(res.status).toBe(202);
  return (await json<{ task_id: string }>(res)).task_id;
}

const progress = (id: string, body: Record<string, unknown>) => call(`/api/v2/tasks/${id}/progress`, { method: "PUT", body });

/** How long a live event may take to arrive: a wide margin, and still well under the heartbeat. */
const LIVE_WAIT_MS = HEARTBEAT_MS / 3;

function parse(e: { id?: string; event?: string; data: string }): Ev {
  const data = JSON.parse(e.data) as Ev;
  expect(e.id).toBe(String(data.seq));
  expect(e.event).toBe(data.type);
  return data;
}

describe("GET /api/v2/tasks/{id}/events", () => {
  it("streams every change live, in order, and ends after the terminal status", async () => {
    const id = await externalTask("sse-live");
    const res = await call(`/api/v2/tasks/${id}/events`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(res.headers.get("x-request-id")).toBeTruthy();
    const sse = new SseReader(res);
    const created = parse((await sse.next())!);
    expect(created).toMatchObject({ task_id: id, seq: 1, type: "status", status: "pending", progress: 0 });

    // Each change arrives before the next one is made: pushed as it happens, not held back for the
    // next heartbeat or the end of the stream.
    const steps: [Record<string, unknown>, Partial<Ev>][] = [
      [
        { progress: 10, message: "starting" },
        { seq: 2, type: "status", status: "running", progress: 10, message: "starting" },
      ],
      [
        { progress: 55.5, message: "halfway" },
        { seq: 3, type: "progress", status: "running", progress: 55.5, message: "halfway" },
      ],
      [{ progress: 250 }, { seq: 4, type: "progress", status: "running", progress: 100 }],
    ];
    for (const [body, expected] of steps) {
      expect((await progress(id, body)).status).toBe(200);
      expect(parse((await sse.next(LIVE_WAIT_MS))!)).toMatchObject(expected);
    }
    expect((await call(`/api/v2/tasks/${id}/complete`, { body: { result: { rows: 3 } } })).status).toBe(200);
    const done = parse((await sse.next(LIVE_WAIT_MS))!);
    expect(done).toMatchObject({ seq: 5, type: "status", status: "completed", progress: 100, result: { rows: 3 }, error_message: null });
    expect(done.at).toMatch(/Z$/);
    expect(await sse.next(LIVE_WAIT_MS)).toBeNull(); // the stream ended
  }, 30_000);

  it("replays after Last-Event-ID (or ?after=) and then goes on live", async () => {
    const id = await externalTask("sse-replay");
    await progress(id, { progress: 20 });
    await progress(id, { progress: 40 });
    const sse = new SseReader(await call(`/api/v2/tasks/${id}/events`, { headers: { "Last-Event-ID": "2" } }));
    expect(parse((await sse.next())!)).toMatchObject({ seq: 3, progress: 40 });
    await call(`/api/v2/tasks/${id}/cancel`, { method: "POST" });
    expect(parse((await sse.next())!)).toMatchObject({ seq: 4, type: "status", status: "cancelled" });
    expect(await sse.next()).toBeNull();

    // ?after= does the same; Last-Event-ID wins when both are given (a reconnect of that URL).
    const q = await new SseReader(await call(`/api/v2/tasks/${id}/events?after=1`)).rest();
    expect(q.map((e) => parse(e).seq)).toEqual([2, 3, 4]);
    const both = await new SseReader(await call(`/api/v2/tasks/${id}/events?after=1`, { headers: { "Last-Event-ID": "3" } })).rest();
    expect(both.map((e) => parse(e).seq)).toEqual([4]);
  });

  it("gives an already-terminal task's events and closes", async () => {
    const id = await externalTask("sse-terminal");
    await progress(id, { progress: 30 });
    await call(`/api/v2/tasks/${id}/complete`, { body: { error_message: "boom" } });
    const events = (await new SseReader(await call(`/api/v2/tasks/${id}/events`)).rest()).map(parse);
    expect(events.map((e) => [e.seq, e.status, e.progress])).toEqual([
      [1, "pending", 0],
      [2, "running", 30],
      [3, "failed", 100],
    ]);
    expect(events[2]).toMatchObject({ error_message: "boom", result: null });
    // Resuming after the end: nothing more, and the stream closes at once.
    expect(await new SseReader(await call(`/api/v2/tasks/${id}/events`, { headers: { "Last-Event-ID": "3" } })).rest()).toEqual([]);
  });

  it("releases the subscription when the client goes away", async () => {
    const id = await externalTask("sse-disconnect");
    const stub = env.AGENT.getByName("sse-disconnect");
    const before = await stub.openEventStreams();
    const sse = new SseReader(await call(`/api/v2/tasks/${id}/events`));
    await sse.next();
    expect(await stub.openEventStreams()).toBe(before + 1);
    await sse.cancel();
    await expect.poll(() => stub.openEventStreams(), { timeout: 10_000, interval: 20 }).toBe(before);
    // The task goes on without the stream.
    expect((await progress(id, { progress: 5 })).status).toBe(200);
  });

  it("404 for an unknown task, 403 for another agent's task, 422 for a bad ?after=", async () => {
    await problem(await call(`/api/v2/tasks/task_${"0".repeat(24)}/events`), 404);
    const id = await externalTask("sse-private");
    const token = await mintToken({ role: "guest", agents: ["someone-else"] });
    await problem(await call(`/api/v2/tasks/${id}/events`, { token }), 403);
    await problem(await call(`/api/v2/tasks/${id}/events?after=-1`), 422);
    await problem(await call(`/api/v2/tasks/${id}/events`, { token: null }), 401);
  });

  it("is documented as text/event-stream", async () => {
    const doc = await json<{ paths: Record<string, { get: { responses: Record<string, { content?: Record<string, unknown> }> } }> }>(
      await call("/openapi.json"),
    );
    expect(Object.keys(doc.paths["/api/v2/tasks/{task_id}/events"]!.get.responses["200"]!.content!)).toEqual(["text/event-stream"]);
  });
});
