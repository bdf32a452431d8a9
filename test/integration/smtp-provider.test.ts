/**
 * The `smtp` provider (env → config, ProviderError mapping, the Message-ID it returns) and
 * buildMime's output as another parser (postal-mime, inside workerd) reads it.
 */
import PostalMime from "postal-mime";
import { describe, expect, it } from "vitest";
import { EmailConfigError } from "../../src/email/settings";
import { buildMime, newMessageId } from "../../src/email/mime";
import { smtpConfigFromEnv, smtpProvider, smtpProviderFromEnv } from "../../src/email/providers/smtp";
import { ProviderError, type OutgoingEmail } from "../../src/email/types";
import { received, rejection, smtp, uniqueHelo } from "../helpers/smtp";

const message: OutgoingEmail = {
  from: { email: "agent@Example.COM", name: "Agent ✓" },
  to: ["approver@example.org"],
  subject: "Approve deploy №42?",
  text: "Reply approve or reject.\n.dot line",
  html: "<p>Reply <b>approve</b> or <b>reject</b>.</p>",
  replyTo: "reply+abc@example.com",
  headers: { "X-Request-Id": "req-123", "In-Reply-To": "<prev@example.com>", "X-Note": "naïve" },
};

const asEnv = (vars: Record<string, string>) => vars as unknown as Env;

describe("smtp provider", () => {
  const config = (helo: string, password = smtp.password) => ({
    host: "127.0.0.1",
    port: smtp.plain,
    security: "none" as const,
    username: smtp.username,
    password,
    heloName: helo,
    timeoutMs: 3000,
  });

  it("sends and returns the Message-ID it generated, which the server received", async () => {
    const helo = uniqueHelo();
    const result = await smtpProvider(config(helo)).send(message);
    expect(result.provider).toBe("smtp");
    expect(result.messageId).toMatch(/^<[0-9a-f-]{36}@example\.com>$/);
    expect(result.providerMessageId).toBe(result.messageId);
    const [got] = await received("plain", helo);
    expect(got).toMatchObject({
      messageId: result.messageId,
      replyTo: "reply+abc@example.com",
      subject: message.subject,
      html: message.html,
    });
    const lines = got!.headerLines.map((h) => h.line);
    expect(lines).toContain("X-Request-Id: req-123");
    expect(lines).toContain("In-Reply-To: <prev@example.com>");
  });

  it("maps a wrong password to a permanent ProviderError with the SMTP code", async () => {
    const { error } = await rejection(smtpProvider(config(uniqueHelo(), "nope")).send(message));
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ provider: "smtp", transient: false, status: 535 });
    expect((error as Error).message).toMatch(/^smtp: auth: 535 /);
  });

  it("maps connection failures and timeouts to transient ProviderErrors", async () => {
    for (const port of [smtp.refused, smtp.silent]) {
      const { error } = await rejection(smtpProvider({ ...config(uniqueHelo()), port, timeoutMs: 300 }).send(message));
      expect(error).toBeInstanceOf(ProviderError);
      expect(error).toMatchObject({ provider: "smtp", transient: true, status: undefined });
    }
  });

  it("a message that cannot be built is a permanent ProviderError (nothing is sent)", async () => {
    const { error } = await rejection(
      smtpProvider(config(uniqueHelo())).send({ ...message, headers: { "X-Evil": "a\r\nBcc: x@evil.test" } }),
    );
    expect(error).toMatchObject({ provider: "smtp", transient: false });
  });

  it("reads its settings from env", () => {
    expect(smtpProviderFromEnv(asEnv({}))).toEqual({ skip: "SMTP_HOST is not set" });
    expect(smtpConfigFromEnv(asEnv({ SMTP_HOST: "smtp.example.com", SMTP_USERNAME: "u", SMTP_PASSWORD: " p w " }))).toEqual({
      host: "smtp.example.com",
      port: 587,
      security: "starttls",
      timeoutMs: 30_000,
      username: "u",
      password: " p w ",
    });
    expect(smtpConfigFromEnv(asEnv({ SMTP_HOST: "smtp.example.com", SMTP_SECURITY: "TLS" }))).toMatchObject({ port: 465, security: "tls" });
    expect(smtpConfigFromEnv(asEnv({ SMTP_HOST: "localhost", SMTP_SECURITY: "none", SMTP_PORT: "2525" }))).toMatchObject({
      port: 2525,
      security: "none",
    });
    expect(smtpProviderFromEnv(asEnv({ SMTP_HOST: "smtp.example.com" }))).toHaveProperty("name", "smtp");
  });

  it("refuses malformed settings, and plaintext to anything but loopback", () => {
    const cases: Record<string, string>[] = [
      { SMTP_HOST: "smtp.example.com", SMTP_SECURITY: "none" },
      { SMTP_HOST: "smtp.example.com", SMTP_SECURITY: "ssl" },
      { SMTP_HOST: "smtp.example.com", SMTP_PORT: "70000" },
      { SMTP_HOST: "smtp.example.com", SMTP_USERNAME: "u" },
      { SMTP_HOST: "smtp.example.com", SMTP_TIMEOUT_MS: "-1" },
    ];
    for (const vars of cases) {
      expect(() => smtpConfigFromEnv(asEnv(vars)), JSON.stringify(vars)).toThrow(EmailConfigError);
    }
  });
});

describe("buildMime", () => {
  it("is read back exactly by postal-mime", async () => {
    const id = newMessageId(message.from.email);
    const raw = buildMime(message, id);
    expect(raw).not.toMatch(/(?<!\r)\n/); // CRLF only
    expect(raw.split("\r\n").every((line) => line.length <= 998)).toBe(true);
    const email = await PostalMime.parse(raw);
    expect(email.subject).toBe(message.subject);
    expect(email.from).toMatchObject({ address: "agent@Example.COM", name: "Agent ✓" });
    expect(email.to).toEqual([expect.objectContaining({ address: "approver@example.org" })]);
    expect(email.replyTo).toEqual([expect.objectContaining({ address: "reply+abc@example.com" })]);
    expect(email.messageId).toBe(id);
    expect(email.inReplyTo).toBe("<prev@example.com>");
    expect(email.text?.replace(/\n$/, "")).toBe(message.text);
    expect(email.html).toBe(message.html);
    expect(email.headers).toEqual(expect.arrayContaining([expect.objectContaining({ key: "x-request-id", value: "req-123" })]));
    expect(email.headers.find((h) => h.key === "x-note")?.value).toMatch(/^=\?utf-8\?B\?/); // encoded-word on the wire
  });

  it("text only gives a single text/plain part; a long UTF-8 line survives", async () => {
    const text = "ü".repeat(5000);
    const raw = buildMime({ from: { email: "a@example.com" }, to: ["b@example.com"], subject: "s", text }, "<x@example.com>");
    expect(raw).not.toContain("multipart");
    expect((await PostalMime.parse(raw)).text?.replace(/\n$/, "")).toBe(text);
  });

  it("refuses header injection and reserved headers", () => {
    const base = { from: { email: "a@example.com" }, to: ["b@example.com"], subject: "s", text: "t" };
    expect(() => buildMime({ ...base, replyTo: "x@example.com\r\nBcc: y@evil.test" }, "<x@example.com>")).toThrow(TypeError);
    expect(() => buildMime({ ...base, to: ["b@example.com\nBcc: y@evil.test"] }, "<x@example.com>")).toThrow(TypeError);
    expect(() => buildMime({ ...base, headers: { Bcc: "y@evil.test" } }, "<x@example.com>")).toThrow(/cannot be set/);
    expect(() => buildMime({ ...base, headers: { "Bad Name": "v" } }, "<x@example.com>")).toThrow(/invalid header name/);
    expect(() => buildMime(base, "no-brackets@example.com")).toThrow(/Message-ID/);
  });

  it("newMessageId uses the sender's domain", () => {
    expect(newMessageId("Agent@Mail.Example.com")).toMatch(/^<[0-9a-f-]{36}@mail\.example\.com>$/);
    expect(newMessageId("weird")).toMatch(/^<[0-9a-f-]{36}@weird>$/);
  });
});
