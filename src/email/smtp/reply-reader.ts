import { SmtpError, type SmtpStage } from "./errors";

/** One SMTP reply, possibly multi-line (`250-…` continuation lines then `250 …`). */
export interface SmtpReply {
  code: number;
  /** The text of each line, without the code and separator. */
  lines: string[];
}

/** Replies longer than this (or a line without a newline this long) are refused. */
const MAX_REPLY_CHARS = 64 * 1024;
const REPLY_LINE = /^(\d{3})(?:([ -])(.*))?$/;

/**
 * Reads SMTP replies from a socket's readable side. Bytes are buffered, so a reply split over
 * several chunks (or several replies in one chunk) is handled; `buffered` tells whether the server
 * sent anything beyond the last reply (which must not happen before a STARTTLS upgrade).
 */
export class ReplyReader {
  private buffer = "";
  private readonly decoder = new TextDecoder();

  constructor(private readonly reader: ReadableStreamDefaultReader<Uint8Array>) {}

  get buffered(): boolean {
    return this.buffer.length > 0;
  }

  /** The next complete reply. Rejects with an SmtpError when the server closes the connection. */
  async read(stage: SmtpStage): Promise<SmtpReply> {
    const lines: string[] = [];
    let code: number | undefined;
    for (;;) {
      const newline = this.buffer.indexOf("\n");
      if (newline === -1) {
        if (this.buffer.length > MAX_REPLY_CHARS) throw new SmtpError(stage, "reply line too long", { transient: false });
        const chunk = await this.reader.read();
        // EOF: the server went away. Reported at once, never retried in a loop.
        if (chunk.done) throw new SmtpError(stage, "connection closed by server");
        this.buffer += this.decoder.decode(chunk.value, { stream: true });
        continue;
      }
      const line = this.buffer.slice(0, newline).replace(/\r$/, "");
      this.buffer = this.buffer.slice(newline + 1);
      const match = REPLY_LINE.exec(line);
      if (!match) throw new SmtpError(stage, `malformed reply: ${JSON.stringify(line.slice(0, 200))}`, { transient: false });
      const lineCode = Number(match[1]);
      if (code !== undefined && lineCode !== code) {
        throw new SmtpError(stage, `inconsistent codes in a multi-line reply (${code} then ${lineCode})`, { transient: false });
      }
      code = lineCode;
      lines.push(match[3] ?? "");
      if (lines.join("\n").length > MAX_REPLY_CHARS) throw new SmtpError(stage, "reply too long", { transient: false });
      if (match[2] !== "-") return { code, lines };
    }
  }
}

/** `250 first line / second line`, for messages and the `response` of a send. */
export function formatReply(reply: SmtpReply): string {
  return `${reply.code} ${reply.lines.join(" / ")}`.trimEnd();
}
