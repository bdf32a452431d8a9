/**
 * Server-sent events as chat completion streams use them: `data: …` lines, events separated by a
 * blank line, `data: [DONE]` at the end (OpenAI; Workers AI sends it too). Yields each event's data
 * text; comments (`:`) and other fields are skipped. Ends at `[DONE]` or at the end of the body.
 */
export async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let data: string[] = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let newline: number;
      while ((newline = buffer.search(/\r?\n/)) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer[newline] === "\r" ? 2 : 1));
        if (line === "") {
          if (data.length > 0) {
            const event = data.join("\n");
            data = [];
            if (event.trim() === "[DONE]") return;
            yield event;
          }
        } else if (line.startsWith("data:")) {
          data.push(line.slice(line[5] === " " ? 6 : 5));
        }
      }
    }
    if (buffer.startsWith("data:")) data.push(buffer.slice(buffer[5] === " " ? 6 : 5));
    if (data.length > 0 && data.join("\n").trim() !== "[DONE]") yield data.join("\n");
  } finally {
    // Also runs when the consumer stops early (barge-in): the connection is released.
    await reader.cancel().catch(() => {});
  }
}
