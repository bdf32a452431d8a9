/**
 * A small SMTP client over `cloudflare:sockets` (RFC 5321, with RFC 3207 STARTTLS and RFC 4954
 * AUTH): one message per connection. Every step has a timeout, errors carry the SMTP code and the
 * step, and a connection that was asked to use TLS never continues in plaintext.
 *
 * `security`:
 * - `"starttls"` (port 587): plaintext greeting, then STARTTLS is required; a server that does not
 *   offer it is an error, never a silent downgrade.
 * - `"tls"` (port 465): TLS from the first byte.
 * - `"none"`: plaintext; only allowed to loopback hosts (local tests), so credentials never cross
 *   a network in clear.
 */
import { connect } from "cloudflare:sockets";
import { base64Utf8 } from "../../lib/base64";
import { SmtpError, type SmtpStage } from "./errors";
import { formatReply, ReplyReader, type SmtpReply } from "./reply-reader";

export { SmtpError, type SmtpStage } from "./errors";

export type SmtpSecurity = "starttls" | "tls" | "none";

export interface SmtpConfig {
  host: string;
  port: number;
  security: SmtpSecurity;
  username?: string;
  password?: string;
  /** The name given in EHLO; default `localhost`. */
  heloName?: string;
  /** The limit for each step (connect, each reply, each write); default 30 s. */
  timeoutMs?: number;
}

export interface SmtpEnvelope {
  /** The reverse-path (bounce address); `""` for the null sender. */
  from: string;
  to: string[];
}

export interface SmtpSendOptions {
  /** Overrides `config.timeoutMs`. */
  timeoutMs?: number;
  /** Aborting fails the send at its current step (transient) and closes the connection. */
  signal?: AbortSignal;
}

export const DEFAULT_SMTP_TIMEOUT_MS = 30_000;
/** QUIT is a courtesy: never wait long for its reply. */
const QUIT_TIMEOUT_MS = 2_000;
/** Closing the socket is bounded too, so a dead peer cannot hold the caller. */
const CLOSE_TIMEOUT_MS = 1_000;

const encoder = new TextEncoder();

/** 127.0.0.0/8, ::1 and `localhost`: the only hosts `security: "none"` may be used with. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, "$1");
  if (h === "localhost" || h === "localhost.") return true;
  if (h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  const v4 = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  return v4 !== null && v4.slice(1).every((octet) => Number(octet) <= 255);
}

/** Sends `rawMessage` (a complete RFC 5322 message) to `envelope.to`. Resolves with the server's final reply. */
export async function sendSmtp(
  config: SmtpConfig,
  envelope: SmtpEnvelope,
  rawMessage: string,
  opts: SmtpSendOptions = {},
): Promise<{ response: string }> {
  validate(config, envelope);
  const session = new Session(opts.timeoutMs ?? config.timeoutMs ?? DEFAULT_SMTP_TIMEOUT_MS, opts.signal);
  const helo = config.heloName ?? "localhost";
  try {
    await session.open(config);
    await session.expect("greeting", [220]);
    let caps = await session.ehlo(helo);

    if (config.security === "starttls") {
      if (!caps.has("STARTTLS")) {
        throw new SmtpError("starttls", "server does not offer STARTTLS (refusing to continue in plaintext)", { transient: false });
      }
      await session.command("starttls", "STARTTLS", [220]);
      session.upgrade();
      try {
        caps = await session.ehlo(helo); // capabilities may differ (AUTH is often offered only now)
      } catch (error) {
        // The handshake runs on the first exchange after startTls(); workerd reports a failed one
        // (an untrusted certificate, a wrong name) only as an opaque "internal error".
        if (error instanceof SmtpError && error.code === undefined) {
          throw new SmtpError("starttls", `TLS handshake or first exchange failed: ${error.message}`, { cause: error });
        }
        throw error;
      }
    }

    if (config.username !== undefined && config.password !== undefined) {
      await authenticate(session, caps, config.username, config.password);
    }

    const utf8Addresses = [envelope.from, ...envelope.to].some(hasNonAscii);
    if (utf8Addresses && !caps.has("SMTPUTF8")) {
      throw new SmtpError("mail-from", "non-ASCII address but the server does not offer SMTPUTF8", { transient: false });
    }
    const params = (hasNonAscii(rawMessage) && caps.has("8BITMIME") ? " BODY=8BITMIME" : "") + (utf8Addresses ? " SMTPUTF8" : "");
    await session.command("mail-from", `MAIL FROM:<${envelope.from}>${params}`, [250]);
    // Every recipient must be accepted: a partial delivery would be reported as a success.
    for (const rcpt of envelope.to) await session.command("rcpt-to", `RCPT TO:<${rcpt}>`, [250, 251]);
    await session.command("data", "DATA", [354]);
    const accepted = await session.send("data-end", dotStuff(rawMessage) + ".\r\n", [250]);
    await session.quit();
    return { response: formatReply(accepted) };
  } catch (error) {
    // The server answered with an error, so the connection still works: say goodbye properly.
    if (error instanceof SmtpError && error.code !== undefined) await session.quit();
    throw error;
  } finally {
    await session.close();
  }
}

/** CRLF line endings everywhere, a leading "." doubled (RFC 5321 §4.5.2), a final CRLF. */
export function dotStuff(rawMessage: string): string {
  // No `m` flag: `^` would also match after U+2028/U+2029 and corrupt the text.
  let body = rawMessage.replace(/\r\n|\r|\n/g, "\r\n").replace(/(^|\r\n)\./g, "$1..");
  if (!body.endsWith("\r\n")) body += "\r\n";
  return body;
}

function validate(config: SmtpConfig, envelope: SmtpEnvelope): void {
  const fail = (message: string) => new SmtpError("config", message, { transient: false });
  if (!config.host || /[\s/]/.test(config.host)) throw fail(`invalid host ${JSON.stringify(config.host)}`);
  if (!Number.isInteger(config.port) || config.port < 1 || config.port > 65535) throw fail(`invalid port ${config.port}`);
  if (!["starttls", "tls", "none"].includes(config.security)) throw fail(`invalid security ${JSON.stringify(config.security)}`);
  if (config.security === "none" && !isLoopbackHost(config.host)) {
    throw fail(`security "none" is only allowed for loopback hosts, not ${config.host} (use "starttls" or "tls")`);
  }
  if ((config.username === undefined) !== (config.password === undefined)) throw fail("username and password go together");
  if (config.heloName !== undefined && !/^[A-Za-z0-9.\-[\]:]+$/.test(config.heloName)) throw fail("invalid heloName");
  // Spaces, controls and angle brackets could end the address and inject parameters or commands.
  const badAddress = (a: string) => /[\s<>]/.test(a) || [...a].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);
  if (badAddress(envelope.from)) throw fail("invalid envelope sender");
  if (envelope.to.length === 0) throw fail("no recipients");
  for (const rcpt of envelope.to) if (!rcpt.includes("@") || badAddress(rcpt)) throw fail(`invalid recipient ${JSON.stringify(rcpt)}`);
}

async function authenticate(session: Session, caps: Map<string, string>, username: string, password: string): Promise<void> {
  const offered = caps.get("AUTH");
  if (offered === undefined) throw new SmtpError("auth", "server does not offer AUTH", { transient: false });
  const methods = offered.toUpperCase().split(/\s+/);
  if (methods.includes("PLAIN")) {
    let reply = await session.send("auth", `AUTH PLAIN ${base64Utf8(`\0${username}\0${password}`)}\r\n`);
    // A server that ignores the initial response asks for it (334 with an empty challenge).
    if (reply.code === 334) reply = await session.send("auth", `${base64Utf8(`\0${username}\0${password}`)}\r\n`);
    if (reply.code === 235) return;
    // 504: mechanism not supported after all; anything else (535 bad credentials, …) is final.
    if (reply.code !== 504 || !methods.includes("LOGIN")) throw replyError("auth", reply);
  }
  if (methods.includes("LOGIN")) {
    await session.command("auth", "AUTH LOGIN", [334]);
    await session.send("auth", `${base64Utf8(username)}\r\n`, [334]);
    await session.send("auth", `${base64Utf8(password)}\r\n`, [235]);
    return;
  }
  throw new SmtpError("auth", `no supported AUTH mechanism (server offers: ${offered})`, { transient: false });
}

function replyError(stage: SmtpStage, reply: SmtpReply): SmtpError {
  return new SmtpError(stage, reply.lines.join(" / ") || "(no text)", { code: reply.code });
}

/** One connection: the socket, its reader and writer, and the per-step timeout. */
class Session {
  private socket?: Socket;
  private reader?: ReadableStreamDefaultReader<Uint8Array>;
  private writer?: WritableStreamDefaultWriter<Uint8Array>;
  private replies?: ReplyReader;

  constructor(
    private readonly timeoutMs: number,
    private readonly signal?: AbortSignal,
  ) {}

  async open(config: SmtpConfig): Promise<void> {
    const secureTransport = config.security === "tls" ? "on" : config.security === "starttls" ? "starttls" : "off";
    try {
      this.attach(connect({ hostname: config.host, port: config.port }, { secureTransport, allowHalfOpen: false }));
    } catch (error) {
      throw new SmtpError("connect", errorMessage(error), { cause: error });
    }
    await this.step("connect", `connection to ${config.host}:${config.port}`, this.socket!.opened);
  }

  /** Reads one reply; with `ok`, any other code is an SmtpError carrying it. */
  async expect(stage: SmtpStage, ok?: number[], timeoutMs = this.timeoutMs): Promise<SmtpReply> {
    const reply = await this.step(stage, "the server's reply", this.replies!.read(stage), timeoutMs);
    if (ok && !ok.includes(reply.code)) throw replyError(stage, reply);
    return reply;
  }

  /** Writes raw text (it must end in CRLF), then reads the reply. */
  async send(stage: SmtpStage, text: string, ok?: number[], timeoutMs = this.timeoutMs): Promise<SmtpReply> {
    await this.step(stage, "the write to complete", this.writer!.write(encoder.encode(text)), timeoutMs);
    return this.expect(stage, ok, timeoutMs);
  }

  command(stage: SmtpStage, line: string, ok: number[]): Promise<SmtpReply> {
    return this.send(stage, `${line}\r\n`, ok);
  }

  /** EHLO; returns the capabilities (keyword → parameters), e.g. `AUTH` → `PLAIN LOGIN`. */
  async ehlo(name: string): Promise<Map<string, string>> {
    const reply = await this.command("ehlo", `EHLO ${name}`, [250]);
    const caps = new Map<string, string>();
    for (const line of reply.lines.slice(1)) {
      const match = /^([A-Za-z0-9-]+)(?:[ =](.*))?$/.exec(line.trim());
      if (match) caps.set(match[1]!.toUpperCase(), (match[2] ?? "").trim());
    }
    return caps;
  }

  /** Switches to TLS after the server's 220 to STARTTLS. */
  upgrade(): void {
    // Anything the server sent after its 220 arrived in plaintext and could be an injection.
    if (this.replies!.buffered) throw new SmtpError("starttls", "server sent data before the TLS handshake", { transient: false });
    this.reader!.releaseLock();
    this.writer!.releaseLock();
    this.attach(this.socket!.startTls());
  }

  /** Best effort: QUIT and a short wait for 221; failures are ignored. */
  async quit(): Promise<void> {
    try {
      await this.send("data-end", "QUIT\r\n", undefined, Math.min(this.timeoutMs, QUIT_TIMEOUT_MS));
    } catch {
      // The message is already accepted (or the send already failed); nothing to add.
    }
  }

  /** Releases the locks and closes the socket; never throws and never waits long. */
  async close(): Promise<void> {
    const { socket, reader, writer } = this;
    this.socket = this.reader = this.writer = this.replies = undefined;
    reader?.cancel().catch(() => {});
    try {
      reader?.releaseLock();
    } catch {
      // Already released.
    }
    try {
      writer?.releaseLock();
    } catch {
      // Already released.
    }
    if (!socket) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([socket.close().catch(() => {}), new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_TIMEOUT_MS)))]);
    clearTimeout(timer);
  }

  private attach(socket: Socket): void {
    socket.closed.catch(() => {}); // a reset is reported by the step that meets it
    this.socket = socket;
    this.reader = socket.readable.getReader() as ReadableStreamDefaultReader<Uint8Array>;
    this.writer = socket.writable.getWriter() as WritableStreamDefaultWriter<Uint8Array>;
    this.replies = new ReplyReader(this.reader);
  }

  /** `work`, or an SmtpError for `stage` when it takes longer than the timeout or the signal aborts. */
  private async step<T>(stage: SmtpStage, what: string, work: Promise<T>, timeoutMs = this.timeoutMs): Promise<T> {
    work.catch(() => {}); // if the guard wins, a later rejection of `work` is not unhandled
    const signal = this.signal;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort: (() => void) | undefined;
    const guard = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SmtpError(stage, `timeout after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
      if (signal) {
        onAbort = () => reject(new SmtpError(stage, "aborted", { cause: signal.reason }));
        if (signal.aborted) onAbort();
        else signal.addEventListener("abort", onAbort, { once: true });
      }
    });
    try {
      return await Promise.race([work, guard]);
    } catch (error) {
      if (error instanceof SmtpError) throw error;
      throw new SmtpError(stage, errorMessage(error), { cause: error });
    } finally {
      clearTimeout(timer);
      if (signal && onAbort) signal.removeEventListener("abort", onAbort);
    }
  }
}

function hasNonAscii(text: string): boolean {
  return /[\u0080-\uffff]/.test(text);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
