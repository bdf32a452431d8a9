/** Reads a Server-Sent Events response incrementally, as a browser's EventSource would. */
export interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

export class SseReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  #buffer = "";
  readonly #queue: SseEvent[] = [];
  /** Comment lines seen (heartbeats). */
  readonly comments: string[] = [];
  ended = false;

  constructor(res: Response) {
    this.#reader = res.body!.getReader();
  }

  /** The next event, or null once the stream has ended; rejects after `timeoutMs`. */
  async next(timeoutMs = 10_000): Promise<SseEvent | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.#queue.length === 0) {
      if (this.ended) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("no SSE event in time");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("no SSE event in time")), left)));
      const { done, value } = await Promise.race([this.#reader.read(), timeout]).finally(() => clearTimeout(timer));
      if (done) this.ended = true;
      else this.#feed(this.#decoder.decode(value, { stream: true }));
    }
    return this.#queue.shift()!;
  }

  /** Every remaining event until the stream ends. */
  async rest(timeoutMs = 10_000): Promise<SseEvent[]> {
    const out: SseEvent[] = [];
    for (let e = await this.next(timeoutMs); e; e = await this.next(timeoutMs)) out.push(e);
    return out;
  }

  cancel(): Promise<void> {
    return this.#reader.cancel();
  }

  #feed(text: string): void {
    this.#buffer += text;
    let cut: number;
    while ((cut = this.#buffer.indexOf("\n\n")) >= 0) {
      const block = this.#buffer.slice(0, cut);
      this.#buffer = this.#buffer.slice(cut + 2);
      const event: SseEvent = { data: "" };
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) this.comments.push(line);
        else if (line.startsWith("id: ")) event.id = line.slice(4);
        else if (line.startsWith("event: ")) event.event = line.slice(7);
        else if (line.startsWith("data: ")) data.push(line.slice(6));
      }
      event.data = data.join("\n");
      if (data.length) this.#queue.push(event);
    }
  }
}
