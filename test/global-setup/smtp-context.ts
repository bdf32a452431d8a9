/**
 * What test/global-setup/smtp.ts (Node) hands to the tests (workerd) through
 * `project.provide("smtp", …)`; read it with `inject("smtp")`. Types only: no Node imports, so
 * the Worker-side tests can import it.
 */

/** The names of the servers that keep a log the inbox endpoint serves. */
export type LoggedServer = "plain" | "login" | "starttls" | "tls" | "reject";

export interface SmtpFixtures {
  /** smtp-server, plaintext only (STARTTLS disabled), AUTH PLAIN/LOGIN allowed in clear. */
  plain: number;
  /** Like `plain`, but offering AUTH LOGIN only. */
  login: number;
  /** smtp-server offering STARTTLS with test/fixtures/tls/server.pem; AUTH only after it. */
  starttls: number;
  /** smtp-server with implicit TLS (the port-465 style). */
  tls: number;
  /** Accepts TCP connections and never says anything. */
  silent: number;
  /** Plays SMTP up to 354, then closes the connection at the first byte of message data. */
  drop: number;
  /** Plays SMTP up to 354, then never answers again. */
  stall: number;
  /** smtp-server (no AUTH needed) that answers 550 at the end of DATA. */
  reject: number;
  /** A port nothing listens on. */
  refused: number;
  /** The inbox: `GET /{server}/messages?helo=…`, `GET /{server}/auth?helo=…`, `DELETE /{server}`. */
  inbox: number;
  username: string;
  password: string;
  /**
   * Whether vitest was started with NODE_EXTRA_CA_CERTS naming test/fixtures/tls/ca.pem (workerd
   * cannot trust the test certificate otherwise); when not, `tlsProblem` says what is wrong.
   */
  tlsTrusted: boolean;
  tlsProblem?: string;
}

/** A message as the inbox returns it (parsed by mailparser on the Node side). */
export interface ReceivedMessage {
  /** The name the client gave in EHLO: tests use a unique one to find their own messages. */
  helo: string;
  /** Whether the session was under TLS when the message was sent. */
  secure: boolean;
  envelope: { from: string; to: string[] };
  subject: string;
  text: string;
  html: string | null;
  messageId: string | null;
  replyTo: string | null;
  /** Every header line as received, `{key: lower-case name, line: "Name: value"}`. */
  headerLines: { key: string; line: string }[];
  /** The message as received (after the server removed the dot-stuffing). */
  raw: string;
}

export interface AuthAttempt {
  helo: string;
  method: string;
  username: string;
  secure: boolean;
  ok: boolean;
}

declare module "vitest" {
  export interface ProvidedContext {
    smtp: SmtpFixtures;
  }
}
