/**
 * Live task progress as Server-Sent Events, served by AgentDO's fetch handler (SPEC §3).
 *
 * Replays the stored events after `afterSeq` (a reconnect's Last-Event-ID), then subscribes to
 * the TaskEngine, in the same synchronous turn, so no event falls between the two. Each event is
 *   id: <seq>\nevent: status|progress\ndata: {task_id, seq, type, status, progress, message, at}\n\n
 * (a terminal status also carries `result` and `error_message`). A comment line every
 * HEARTBEAT_MS keeps proxies from closing an idle stream. The stream ends after a terminal
 * status, at once when the task already ended. A client that goes away cancels the stream,
 * which unsubscribes and stops the heartbeat; a failing write does the same.
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html
 */
import { iso } from "../../src/lib/time";
import { isTerminal, type TaskEvent } from "../../src/tasks/model";
import type { TaskEngine } from "./task-engine";
import { eventsAfter } from "./task-store";

export const HEARTBEAT_MS = 15_000;
/** Suggested reconnect delay for EventSource clients. */
const RETRY_MS = 3_000;

/** Open streams in this Durable Object instance (for tests and diagnostics). */
let openStreams = 0;
export function openEventStreams(): number {
  return openStreams;
}

export function formatEvent(taskId: string, e: TaskEvent, outcome?: { result: unknown; error_message: string | null }): string {
  const data = { task_id: taskId, seq: e.seq, type: e.type, status: e.status, progress: e.progress, message: e.message, at: iso(e.at), ...outcome };
  return `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(data)}\n\n`;
}

export function taskEventStream(sql: SqlStorage, engine: TaskEngine, taskId: string, afterSeq: number): Response {
  const task = engine.get(taskId);
  if (!task) return Response.json({ error: "not_found" }, { status: 404 });
  const encoder = new TextEncoder();
  let stop = () => {};
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      let closed = false;
      let last = afterSeq;
      let unsubscribe = () => {};
      let heartbeat: ReturnType<typeof setInterval> | undefined;
      stop = () => {
        if (closed) return;
        closed = true;
        openStreams--;
        unsubscribe();
        clearInterval(heartbeat);
      };
      const finish = () => {
        stop();
        try {
          controller.close();
        } catch {
          // already cancelled by the client
        }
      };
      const write = (chunk: string) => {
        try {
          controller.enqueue(encoder.encode(chunk));
        } catch {
          stop();
        }
      };
      const send = (e: TaskEvent) => {
        if (closed || e.seq <= last) return;
        last = e.seq;
        const done = e.type === "status" && isTerminal(e.status);
        const outcome = done ? engine.get(taskId) : null;
        write(formatEvent(taskId, e, outcome ? { result: outcome.result_json === null ? null : JSON.parse(outcome.result_json), error_message: outcome.error_message } : undefined));
        if (done) finish();
      };
      openStreams++;
      write(`retry: ${RETRY_MS}\n\n`);
      for (const e of eventsAfter(sql, taskId, afterSeq)) send(e);
      if (closed) return;
      if (isTerminal(task.status)) {
        // The terminal event is before `afterSeq`: nothing more will ever come.
        finish();
        return;
      }
      unsubscribe = engine.subscribe(taskId, send);
      heartbeat = setInterval(() => write(`: heartbeat ${new Date().toISOString()}\n\n`), HEARTBEAT_MS);
    },
    cancel() {
      stop();
    },
  });
  return new Response(body, {
    headers: { "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache", "X-Accel-Buffering": "no" },
  });
}
