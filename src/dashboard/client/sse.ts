/**
 * Server-Sent Events over fetch (EventSource cannot send the Authorization header): reads
 * `id:`/`event:`/`data:` blocks as they arrive and reconnects with `Last-Event-ID` when the stream
 * drops before the caller is done, so no change is lost or repeated.
 */
import { ApiError, type ApiClient } from "./api";

export interface StreamEvent {
  id: string | null;
  event: string;
  data: string;
}

/** The events of one response body, in order. */
export async function* readEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<StreamEvent> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let id: string | null = null;
        let event = "message";
        const data: string[] = [];
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const name = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (name === "id") id = value;
          else if (name === "event") event = value;
          else if (name === "data") data.push(value);
        }
        if (data.length) yield { id, event, data: data.join("\n") };
      }
    }
  } finally {
    reader.releaseLock();
  }
}

/**
 * Follows `path` until `onEvent` returns true (done) or `signal` aborts. A dropped stream is
 * reopened after a pause, resuming after the last event seen; errors go to `onError`.
 */
export async function follow(
  client: ApiClient,
  path: string,
  signal: AbortSignal,
  onEvent: (event: StreamEvent) => boolean,
  onError: (err: unknown) => void,
): Promise<void> {
  let lastId: string | undefined;
  for (let attempt = 0; !signal.aborted && attempt < 20; attempt++) {
    try {
      const res = await client.stream(path, signal, lastId);
      if (!res.body) return;
      for await (const event of readEvents(res.body)) {
        if (event.id) lastId = event.id;
        attempt = 0;
        if (onEvent(event)) return;
      }
    } catch (err) {
      if (signal.aborted) return;
      onError(err);
      // A refusal (unknown task, no permission) will not change by retrying; a rate limit will.
      if (err instanceof ApiError && err.status >= 400 && err.status < 500 && err.status !== 429) return;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000 * Math.min(attempt + 1, 5)));
  }
}
