/** The dashboard's event-stream reader and its reconnecting follower (src/dashboard/client/sse.ts). */
import { describe, expect, it } from "vitest";
import { apiClient, ApiError } from "../../src/dashboard/client/api";
import { follow, readEvents, type StreamEvent } from "../../src/dashboard/client/sse";

/** A body that delivers `chunks` as separate reads, then ends. */
function body(chunks: readonly string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(encoder.encode(c));
      controller.close();
    },
  });
}

const stream = (chunks: readonly string[]) => new Response(body(chunks), { headers: { "Content-Type": "text/event-stream" } });

async function all(b: ReadableStream<Uint8Array>): Promise<StreamEvent[]> {
  const out: StreamEvent[] = [];
  for await (const e of readEvents(b)) out.push(e);
  return out;
}

describe("readEvents", () => {
  it("reads events cut anywhere across chunks, with CRLF or LF, skipping comments and blocks without data", async () => {
    const events = await all(
      body([
        ": heartbeat\r\n\r\nid: 1\r\nevent: chan",
        'ge\r\ndata: {"a":1}\r\n\r',
        "\nid: 2\ndata: line one\ndata:line two\n\nid: 3\n\n",
        "data: last\n\n",
      ]),
    );
    expect(events).toEqual([
      { id: "1", event: "change", data: '{"a":1}' },
      { id: "2", event: "message", data: "line one\nline two" },
      { id: null, event: "message", data: "last" },
    ]);
  });

  it("drops an event the stream ends in the middle of", async () => {
    expect(await all(body(["id: 1\ndata: whole\n\n", "id: 2\ndata: cut"]))).toEqual([{ id: "1", event: "message", data: "whole" }]);
  });
});

describe("follow", () => {
  it("reopens a dropped stream with Last-Event-ID of the last event seen, and stops when the caller is done", async () => {
    const requests: Headers[] = [];
    const answers = [stream(["id: 1\ndata: a\n\n", "id: 2\ndata: b\n\n"]), stream(["id: 3\ndata: c\n\n", "id: 4\ndata: after\n\n"])];
    const client = apiClient("dmsa_key", async (_path, init) => {
      requests.push(new Headers(init.headers));
      return answers.shift() ?? new Response("no more", { status: 500 });
    });
    const seen: string[] = [];
    const errors: unknown[] = [];
    await follow(
      client,
      "/api/v2/tasks/t1/events",
      new AbortController().signal,
      (e) => {
        seen.push(e.data);
        return e.data === "c";
      },
      (err) => errors.push(err),
    );
    expect(seen).toEqual(["a", "b", "c"]);
    expect(errors).toEqual([]);
    expect(requests.map((h) => h.get("last-event-id"))).toEqual([null, "2"]);
    expect(requests.every((h) => h.get("authorization") === "Bearer dmsa_key" && h.get("accept") === "text/event-stream")).toBe(true);
  });

  it("a refusal (404) is reported once and not retried", async () => {
    let calls = 0;
    const client = apiClient("dmsa_key", async () => {
      calls += 1;
      return Response.json(
        { title: "Not found", status: 404, detail: "No task t9." },
        { status: 404, headers: { "Content-Type": "application/problem+json" } },
      );
    });
    const errors: unknown[] = [];
    await follow(
      client,
      "/api/v2/tasks/t9/events",
      new AbortController().signal,
      () => true,
      (err) => errors.push(err),
    );
    expect(calls).toBe(1);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(ApiError);
    expect((errors[0] as ApiError).status).toBe(404);
    expect((errors[0] as ApiError).detail).toBe("No task t9.");
  });

  it("a rate limit (429) is retried after a pause", async () => {
    const answers = [
      Response.json({ title: "Too many requests", status: 429, detail: "Too many open streams." }, { status: 429 }),
      stream(["id: 1\ndata: done\n\n"]),
    ];
    let calls = 0;
    const client = apiClient("dmsa_key", async () => {
      calls += 1;
      return answers.shift() ?? new Response("no more", { status: 500 });
    });
    const errors: unknown[] = [];
    const seen: string[] = [];
    await follow(
      client,
      "/api/v2/tasks/t1/events",
      new AbortController().signal,
      (e) => (seen.push(e.data), true),
      (err) => errors.push(err),
    );
    expect(calls).toBe(2);
    expect(seen).toEqual(["done"]);
    expect(errors.map((e) => (e as ApiError).status)).toEqual([429]);
  });

  it("an aborted signal opens nothing", async () => {
    let calls = 0;
    const client = apiClient("dmsa_key", async () => {
      calls += 1;
      return stream([]);
    });
    const ac = new AbortController();
    ac.abort();
    await follow(
      client,
      "/api/v2/tasks/t1/events",
      ac.signal,
      () => true,
      () => undefined,
    );
    expect(calls).toBe(0);
  });
});
