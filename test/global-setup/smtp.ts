/**
 * Vitest globalSetup (runs in Node, once for the `workers` project): local SMTP servers on
 * 127.0.0.1 for test/integration/smtp-*.test.ts, and a small HTTP "inbox" on loopback through which the
 * tests (running inside workerd, where Node's objects are out of reach) read what was received.
 * Ports are handed over with `project.provide("smtp", …)`; see ./smtp-context.ts.
 */
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from "node:net";
import { resolve } from "node:path";
import { simpleParser } from "mailparser";
import { SMTPServer, type SMTPServerOptions } from "smtp-server";
import type { TestProject } from "vitest/node";
import type { AuthAttempt, LoggedServer, ReceivedMessage, SmtpFixtures } from "./smtp-context";

const TLS_DIR = resolve(import.meta.dirname, "../fixtures/tls");
const USERNAME = "probe";
const PASSWORD = "s3cret-pässword";

interface Log {
  messages: ReceivedMessage[];
  auths: AuthAttempt[];
}

type Closer = () => Promise<void>;

function listen(server: NetServer | HttpServer): Promise<number> {
  return new Promise((resolvePort, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolvePort((server.address() as AddressInfo).port));
  });
}

function closeNet(server: NetServer | HttpServer, sockets: Set<Socket>): Closer {
  return () =>
    new Promise<void>((done) => {
      for (const s of sockets) s.destroy();
      server.close(() => done());
    });
}

/** An smtp-server instance that logs AUTH attempts and parsed messages into `log`. */
async function startSmtp(log: Log, options: SMTPServerOptions & { reject550?: boolean }): Promise<{ port: number; close: Closer }> {
  const { reject550, ...rest } = options;
  const server = new SMTPServer({
    name: "smtp.test",
    logger: false,
    disableReverseLookup: true,
    closeTimeout: 500,
    socketTimeout: 10_000,
    authMethods: ["PLAIN", "LOGIN"],
    ...rest,
    onAuth(auth, session, callback) {
      const ok = auth.username === USERNAME && auth.password === PASSWORD;
      log.auths.push({ helo: session.hostNameAppearsAs, method: auth.method, username: auth.username ?? "", secure: session.secure, ok });
      if (ok) callback(null, { user: USERNAME });
      else callback(Object.assign(new Error("Invalid username or password"), { responseCode: 535 }));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("error", callback);
      stream.on("end", () => {
        if (reject550) {
          callback(Object.assign(new Error("Message rejected by policy"), { responseCode: 550 }));
          return;
        }
        const raw = Buffer.concat(chunks);
        simpleParser(raw).then(
          (parsed) => {
            const replyTo = parsed.replyTo?.value[0]?.address ?? null;
            log.messages.push({
              helo: session.hostNameAppearsAs,
              secure: session.secure,
              envelope: {
                from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
                to: session.envelope.rcptTo.map((r) => r.address),
              },
              subject: parsed.subject ?? "",
              text: parsed.text ?? "",
              html: typeof parsed.html === "string" ? parsed.html : null,
              messageId: parsed.messageId ?? null,
              replyTo,
              headerLines: parsed.headerLines.map(({ key, line }) => ({ key, line })),
              raw: raw.toString("utf8"),
            });
            callback(null, `Message queued as test-${log.messages.length}`);
          },
          (err: Error) => callback(err),
        );
      });
    },
  });
  server.on("error", () => {}); // a client that vanishes mid-session is not a test failure here
  const port = await new Promise<number>((resolvePort, reject) => {
    server.server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolvePort((server.server.address() as AddressInfo).port));
  });
  return { port, close: () => new Promise<void>((done) => server.close(() => done())) };
}

/** Accepts connections and never greets. */
async function startSilent(): Promise<{ port: number; close: Closer }> {
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
  });
  return { port: await listen(server), close: closeNet(server, sockets) };
}

/**
 * A scripted SMTP server that accepts everything up to DATA's 354; then `drop` destroys the
 * connection at the first byte of message data, `stall` never answers again.
 */
async function startBroken(mode: "drop" | "stall"): Promise<{ port: number; close: Closer }> {
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    let inData = false;
    let buffer = "";
    socket.write(`220 ${mode}.test ESMTP\r\n`);
    socket.on("data", (chunk: Buffer) => {
      if (inData) {
        if (mode === "drop") socket.destroy();
        return;
      }
      buffer += chunk.toString("latin1");
      let newline: number;
      while (!inData && (newline = buffer.indexOf("\r\n")) !== -1) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 2);
        const verb = line.split(" ")[0]!.toUpperCase();
        if (verb === "EHLO") socket.write(`250-${mode}.test\r\n250 8BITMIME\r\n`);
        else if (verb === "DATA") {
          socket.write("354 go ahead\r\n");
          inData = true;
          if (buffer.length > 0 && mode === "drop") socket.destroy();
        } else if (verb === "QUIT") socket.end("221 bye\r\n");
        else socket.write("250 ok\r\n");
      }
    });
  });
  return { port: await listen(server), close: closeNet(server, sockets) };
}

/** A port with nothing listening (taken, then released). */
async function freePort(): Promise<number> {
  const server = createNetServer();
  const port = await listen(server);
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

/** GET /{server}/messages?helo=…, GET /{server}/auth?helo=…, DELETE /{server}. */
async function startInbox(logs: Record<LoggedServer, Log>): Promise<{ port: number; close: Closer }> {
  const sockets = new Set<Socket>();
  const server = createHttpServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const [name, what] = url.pathname.split("/").filter(Boolean) as [string | undefined, string | undefined];
    const log = name && Object.hasOwn(logs, name) ? logs[name as LoggedServer] : undefined;
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (!log) return send(404, { error: `unknown server ${name}` });
    const helo = url.searchParams.get("helo");
    const mine = <T extends { helo: string }>(items: T[]) => (helo === null ? items : items.filter((i) => i.helo === helo));
    if (req.method === "DELETE" && what === undefined) {
      log.messages.length = 0;
      log.auths.length = 0;
      return send(200, { ok: true });
    }
    if (req.method === "GET" && what === "messages") return send(200, mine(log.messages));
    if (req.method === "GET" && what === "auth") return send(200, mine(log.auths));
    return send(404, { error: "not found" });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  return { port: await listen(server), close: closeNet(server, sockets) };
}

/** Whether NODE_EXTRA_CA_CERTS (read by miniflare when it loads) includes our test CA. */
function tlsTrust(): { tlsTrusted: boolean; tlsProblem?: string } {
  const hint = "start vitest through `npm test` (its script sets NODE_EXTRA_CA_CERTS=test/fixtures/tls/ca.pem)";
  const path = process.env.NODE_EXTRA_CA_CERTS;
  if (!path)
    return { tlsTrusted: false, tlsProblem: `NODE_EXTRA_CA_CERTS is not set, so workerd cannot trust the test certificate: ${hint}` };
  try {
    const ca = readFileSync(resolve(TLS_DIR, "ca.pem"), "utf8").trim();
    if (readFileSync(resolve(path), "utf8").includes(ca)) return { tlsTrusted: true };
    return { tlsTrusted: false, tlsProblem: `NODE_EXTRA_CA_CERTS=${path} does not contain test/fixtures/tls/ca.pem: ${hint}` };
  } catch (err) {
    return { tlsTrusted: false, tlsProblem: `NODE_EXTRA_CA_CERTS=${path} cannot be read (${(err as Error).message}): ${hint}` };
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const key = readFileSync(resolve(TLS_DIR, "server-key.pem"));
  const cert = readFileSync(resolve(TLS_DIR, "server.pem"));
  const logs: Record<LoggedServer, Log> = {
    plain: { messages: [], auths: [] },
    login: { messages: [], auths: [] },
    starttls: { messages: [], auths: [] },
    tls: { messages: [], auths: [] },
    reject: { messages: [], auths: [] },
  };
  const closers: Closer[] = [];
  const start = async <T extends { port: number; close: Closer }>(server: Promise<T>) => {
    const started = await server;
    closers.push(started.close);
    return started.port;
  };
  try {
    const fixtures: SmtpFixtures = {
      plain: await start(startSmtp(logs.plain, { allowInsecureAuth: true, disabledCommands: ["STARTTLS"] })),
      login: await start(startSmtp(logs.login, { allowInsecureAuth: true, disabledCommands: ["STARTTLS"], authMethods: ["LOGIN"] })),
      starttls: await start(startSmtp(logs.starttls, { key, cert, secure: false })),
      tls: await start(startSmtp(logs.tls, { key, cert, secure: true })),
      reject: await start(startSmtp(logs.reject, { authOptional: true, disabledCommands: ["STARTTLS", "AUTH"], reject550: true })),
      silent: await start(startSilent()),
      drop: await start(startBroken("drop")),
      stall: await start(startBroken("stall")),
      refused: await freePort(),
      inbox: await start(startInbox(logs)),
      username: USERNAME,
      password: PASSWORD,
      ...tlsTrust(),
    };
    project.provide("smtp", fixtures);
  } catch (err) {
    await Promise.all(closers.map((close) => close()));
    throw err;
  }
  return async () => {
    await Promise.all(closers.map((close) => close()));
  };
}
