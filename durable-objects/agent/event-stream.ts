/**
 * Live task progress as Server-Sent Events, served by AgentDO's fetch handler.
 *
 * Replays the stored events after `afterSeq` (a reconnect's Last-Event-ID), then subscribes to
 * the TaskEngine, in the same synchronous turn, so no event falls between the two. Each event is
 *   id: <seq>\nevent: status|progress|approval\ndata: {task_id, seq, type, status, progress, message, at,
 *   approval_id, waiting_for_approval}\n\n
 * (a terminal status also carries `result`, redacted like every task read, and `error_message`;
 * `approval` is the moment a gated task's approval was granted). A comment line every
 * HEARTBEAT_MS keeps proxies from closing an idle stream. The stream ends after a terminal
 * status, at once when the task already ended. A client that goes away cancels the stream,
 * which unsubscribes and stops the heartbeat; a failing write does the same.
 *
 * The agent's open streams are counted here, per Durable Object instance, so the per-agent cap
 * is exact: the Worker passes the cap (its configuration) with each request.
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html
 */
import { iso } from "../../src/lib/time";
import { isTerminal, type TaskEvent } from "../../src/tasks/model";
import { readRedacted } from "../../src/tasks/redact";
import { approvalGate } from "../../src/tasks/wire";
import type { TaskEngine } from "./task-engine";
import { eventsAfter } from "./task-store";

export const HEARTBEAT_MS = 15_000;
/** Suggested reconnect delay for EventSource clients. */
const RETRY_MS = 3_000;

/** What the Durable Object answers when the agent already has `max` open streams (the Worker makes it a 429). */
export interface StreamCapReached {
  error: "too_many_streams";
  open: number;
  max: number;
}

export function formatEvent(
  taskId: string,
  e: TaskEvent,
  approvalId: string | null,
  outcome?: { result: unknown; error_message: string | null },
): string {
  const data = {
    task_id: taskId,
    seq: e.seq,
    type: e.type,
    status: e.status,
    progress: e.progress,
    message: e.message,
    at: iso(e.at),
    approval_id: approvalId,
    waiting_for_approval: e.waiting_for_approval,
    ...outcome,
  };
  return `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** The event streams of one agent (one Durable Object instance). */
export class EventStreams {
  #open = 0;

  get open(): number {
    return this.#open;
  }

  /** A stream of `taskId`'s events; 404 for an unknown task, 429 once `maxOpen` streams are open. */
  serve(sql: SqlStorage, engine: TaskEngine, taskId: string, afterSeq: number, maxOpen: number): Response {
    if (!engine.get(taskId)) return Response.json({ error: "not_found" }, { status: 404 });
    if (this.#open >= maxOpen) {
      const body: StreamCapReached = { error: "too_many_streams", open: this.#open, max: maxOpen };
      return Response.json(body, { status: 429 });
    }
    this.#open++;
    let released = false;
    return taskEventStream(sql, engine, taskId, afterSeq, () => {
      if (released) return;
      released = true;
      this.#open--;
    });
  }
}

/** The stream itself; `onEnd` runs once, when it ends for any reason. */
function taskEventStream(sql: SqlStorage, engine: TaskEngine, taskId: string, afterSeq: number, onEnd: () => void): Response {
  const task = engine.get(taskId)!;
  const { approval_id: approvalId } = approvalGate(task);
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
        onEnd();
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
        const ending = outcome
          ? { result: outcome.result_json === null ? null : readRedacted(outcome.result_json), error_message: outcome.error_message }
          : undefined;
        write(formatEvent(taskId, e, approvalId, ending));
        if (done) finish();
      };
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
