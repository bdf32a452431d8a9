/**
 * The SMTP client against real SMTP servers on loopback (test/global-setup/smtp.ts): delivery in
 * clear (loopback only), with STARTTLS and with implicit TLS, and every failure mode the issue
 * lists, each failing promptly with the step and the SMTP code.
 */
import { describe, expect, it } from "vitest";
import { buildMime } from "../../src/email/mime";
import { dotStuff, isLoopbackHost, sendSmtp, SmtpError, type SmtpConfig } from "../../src/email/smtp/client";
import type { OutgoingEmail } from "../../src/email/types";
import { authAttempts, received, rejection, requireTestCa, smtp, uniqueHelo } from "../helpers/smtp";

const FROM = "agent@example.com";
const TO = "approver@example.org";
const LONG_LINE = `${"é".repeat(3000)}${"✓".repeat(1000)} end`;
const message: OutgoingEmail = {
  from: { email: FROM, name: "Agent Ünïcode" },
  to: [TO],
  subject: "Grüße ✓ — 日本語 approval",
  text: `Hello there,\n.a line that starts with a dot\n..and two dots\n.\n${LONG_LINE}\nbye`,
  html: `<p>Hallo <b>Wörld</b> ✓</p>\n.<i>dotted</i>\n<p>${LONG_LINE}</p>`,
};

function plainConfig(helo: string, extra: Partial<SmtpConfig> = {}): SmtpConfig {
  return {
    host: "127.0.0.1",
    port: smtp.plain,
    security: "none",
    username: smtp.username,
    password: smtp.password,
    heloName: helo,
    timeoutMs: 5000,
    ...extra,
  };
}

function expectSmtpError(error: unknown, fields: { stage: string; code?: number; transient: boolean }): SmtpError {
  expect(error).toBeInstanceOf(SmtpError);
  const e = error as SmtpError;
  expect({ stage: e.stage, code: e.code, transient: e.transient }).toEqual({ code: undefined, ...fields });
  return e;
}

describe("delivery", () => {
  it("plain + AUTH on loopback delivers the message exactly", async () => {
    const helo = uniqueHelo();
    const result = await sendSmtp(plainConfig(helo), { from: FROM, to: [TO] }, buildMime(message, "<m1@example.com>"));
    expect(result.response).toMatch(/^250 Message queued as test-\d+$/);

    const [got, ...more] = await received("plain", helo);
    expect(more).toEqual([]);
    expect(got).toMatchObject({
      envelope: { from: FROM, to: [TO] },
      subject: message.subject,
      messageId: "<m1@example.com>",
      secure: false,
    });
    expect(got!.text.replace(/\n$/, "")).toBe(message.text);
    expect(got!.html).toBe(message.html);
    expect(await authAttempts("plain", helo)).toEqual([{ helo, method: "PLAIN", username: smtp.username, secure: false, ok: true }]);
  });

  it("falls back to AUTH LOGIN when PLAIN is not offered (UTF-8 password)", async () => {
    const helo = uniqueHelo();
    await sendSmtp(plainConfig(helo, { port: smtp.login }), { from: FROM, to: [TO] }, buildMime(message, "<m9@example.com>"));
    expect(await authAttempts("login", helo)).toEqual([expect.objectContaining({ method: "LOGIN", ok: true })]);
    expect(await received("login", helo)).toHaveLength(1);
  });

  it("dot-stuffs lines starting with '.', including a lone '.', and normalises line endings to CRLF", async () => {
    const helo = uniqueHelo();
    const raw = "Subject: dots\nFrom: a@example.com\r\nTo: b@example.com\r\n\n.hidden\n..two\n.\r\nmiddle\rend";
    await sendSmtp(plainConfig(helo), { from: FROM, to: [TO] }, raw);
    const [got] = await received("plain", helo);
    // The server removes the stuffing; what arrives is the message with CRLF line endings.
    expect(got!.raw).toBe("Subject: dots\r\nFrom: a@example.com\r\nTo: b@example.com\r\n\r\n.hidden\r\n..two\r\n.\r\nmiddle\r\nend\r\n");
  });

  it("delivers to several recipients in one envelope", async () => {
    const helo = uniqueHelo();
    const to = [TO, "second@example.net"];
    await sendSmtp(plainConfig(helo), { from: FROM, to }, buildMime({ ...message, to }, "<m2@example.com>"));
    const [got] = await received("plain", helo);
    expect(got!.envelope.to).toEqual(to);
  });

  it("STARTTLS upgrades, re-EHLOs, authenticates under TLS and delivers", async () => {
    requireTestCa();
    const helo = uniqueHelo();
    const result = await sendSmtp(
      {
        host: "localhost",
        port: smtp.starttls,
        security: "starttls",
        username: smtp.username,
        password: smtp.password,
        heloName: helo,
        timeoutMs: 5000,
      },
      { from: FROM, to: [TO] },
      buildMime(message, "<m3@example.com>"),
    );
    expect(result.response).toMatch(/^250 /);
    const [got] = await received("starttls", helo);
    expect(got).toMatchObject({ secure: true, subject: message.subject, html: message.html });
    expect(await authAttempts("starttls", helo)).toEqual([expect.objectContaining({ secure: true, ok: true })]);
  });

  it("implicit TLS (port-465 style) delivers", async () => {
    requireTestCa();
    const helo = uniqueHelo();
    await sendSmtp(
      {
        host: "127.0.0.1",
        port: smtp.tls,
        security: "tls",
        username: smtp.username,
        password: smtp.password,
        heloName: helo,
        timeoutMs: 5000,
      },
      { from: FROM, to: [TO] },
      buildMime(message, "<m4@example.com>"),
    );
    const [got] = await received("tls", helo);
    expect(got).toMatchObject({ secure: true, subject: message.subject });
    expect(got!.text.replace(/\n$/, "")).toBe(message.text);
  });
});

describe("failures", () => {
  it("a wrong password is a permanent auth error with code 535", async () => {
    const helo = uniqueHelo();
    const { error } = await rejection(sendSmtp(plainConfig(helo, { password: "wrong" }), { from: FROM, to: [TO] }, "Subject: x\r\n\r\nx"));
    const e = expectSmtpError(error, { stage: "auth", code: 535, transient: false });
    expect(e.message).toContain("Invalid username or password");
    expect(await received("plain", helo)).toEqual([]);
  });

  it("a refused connection is a transient connect error, at once rather than at the timeout", async () => {
    const { error } = await rejection(
      sendSmtp(plainConfig(uniqueHelo(), { port: smtp.refused, timeoutMs: 60_000 }), { from: FROM, to: [TO] }, "x"),
    );
    const e = expectSmtpError(error, { stage: "connect", transient: true });
    // The refusal itself, not the step's timer (which would say "timeout after 60000 ms").
    expect(e.message).not.toContain("timeout");
  });

  it("a server that never greets fails at the greeting when the step's timeout is up", async () => {
    const { error, ms } = await rejection(
      sendSmtp(plainConfig(uniqueHelo(), { port: smtp.silent, timeoutMs: 500 }), { from: FROM, to: [TO] }, "x"),
    );
    const e = expectSmtpError(error, { stage: "greeting", transient: true });
    // The step's own timer ended it, and not before it was due.
    expect(e.message).toContain("timeout after 500 ms");
    expect(ms).toBeGreaterThanOrEqual(450);
  });

  it("opts.timeoutMs overrides the config's timeout", async () => {
    const { error, ms } = await rejection(
      sendSmtp(plainConfig(uniqueHelo(), { port: smtp.silent, timeoutMs: 60_000 }), { from: FROM, to: [TO] }, "x", { timeoutMs: 300 }),
    );
    const e = expectSmtpError(error, { stage: "greeting", transient: true });
    // The per-call 300 ms timer fired, not the config's minute.
    expect(e.message).toContain("timeout after 300 ms");
    expect(ms).toBeGreaterThanOrEqual(250);
  });

  it("an abort signal stops the send at its current step", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("caller gave up")), 200);
    const { error } = await rejection(
      sendSmtp(plainConfig(uniqueHelo(), { port: smtp.silent, timeoutMs: 60_000 }), { from: FROM, to: [TO] }, "x", {
        signal: controller.signal,
      }),
    );
    // "aborted": the signal ended it, not the step's minute-long timer.
    expect(expectSmtpError(error, { stage: "greeting", transient: true }).message).toContain("aborted");
  });

  it("a server dropping the connection mid-DATA fails at once, not at the timeout, and does not hang", async () => {
    const { error } = await rejection(
      sendSmtp(
        { host: "127.0.0.1", port: smtp.drop, security: "none", heloName: uniqueHelo(), timeoutMs: 60_000 },
        { from: FROM, to: [TO] },
        buildMime(message, "<m5@example.com>"),
      ),
    );
    expect(error).toBeInstanceOf(SmtpError);
    const e = error as SmtpError;
    expect(["data", "data-end"]).toContain(e.stage);
    expect(e.transient).toBe(true);
    // The dropped connection itself, not the step's minute-long timer.
    expect(e.message).not.toContain("timeout");
  });

  it("a server going silent mid-DATA fails when the step's timeout is up", async () => {
    const { error } = await rejection(
      sendSmtp(
        { host: "127.0.0.1", port: smtp.stall, security: "none", heloName: uniqueHelo(), timeoutMs: 500 },
        { from: FROM, to: [TO] },
        buildMime(message, "<m6@example.com>"),
      ),
    );
    expect(expectSmtpError(error, { stage: "data-end", transient: true }).message).toContain("timeout after 500 ms");
  });

  it("550 at the end of DATA is permanent, with the code", async () => {
    const { error } = await rejection(
      sendSmtp(
        { host: "127.0.0.1", port: smtp.reject, security: "none", heloName: uniqueHelo(), timeoutMs: 5000 },
        { from: FROM, to: [TO] },
        buildMime(message, "<m7@example.com>"),
      ),
    );
    expect(expectSmtpError(error, { stage: "data-end", code: 550, transient: false }).message).toContain("rejected by policy");
  });

  it("STARTTLS required but not offered: refuses, never continuing in clear, never sending AUTH", async () => {
    const helo = uniqueHelo();
    const { error } = await rejection(
      sendSmtp(plainConfig(helo, { security: "starttls" }), { from: FROM, to: [TO] }, buildMime(message, "<m8@example.com>")),
    );
    expect(expectSmtpError(error, { stage: "starttls", transient: false }).message).toContain("does not offer STARTTLS");
    expect(await authAttempts("plain", helo)).toEqual([]);
    expect(await received("plain", helo)).toEqual([]);
  });

  it('security "none" to a host that is not loopback is refused before connecting', async () => {
    // Stage "config": refused by the settings check, before any connection is attempted.
    for (const host of ["192.0.2.1", "smtp.example.com", "10.0.0.1", "::ffff:127.0.0.1", "127.0.0.1.example.com"]) {
      const { error } = await rejection(sendSmtp({ ...plainConfig(uniqueHelo()), host, timeoutMs: 10_000 }, { from: FROM, to: [TO] }, "x"));
      expect(expectSmtpError(error, { stage: "config", transient: false }).message).toContain("loopback");
    }
  });

  it("refuses envelopes that could inject commands", async () => {
    for (const envelope of [
      { from: "a@example.com>\r\nRCPT TO:<x@evil.test", to: [TO] },
      { from: FROM, to: ["b@example.com> NOTIFY=NEVER"] },
      { from: FROM, to: [] },
    ]) {
      const { error } = await rejection(sendSmtp(plainConfig(uniqueHelo()), envelope, "x"));
      expectSmtpError(error, { stage: "config", transient: false });
    }
  });
});

describe("helpers", () => {
  it("isLoopbackHost", () => {
    for (const h of ["localhost", "LOCALHOST", "127.0.0.1", "127.1.2.3", "::1", "[::1]"]) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ["128.0.0.1", "127.0.0.256", "localhost.example.com", "10.0.0.1", "example.com", "::2"])
      expect(isLoopbackHost(h), h).toBe(false);
  });

  it("dotStuff leaves U+2028/U+2029 alone and stuffs only real line starts", () => {
    expect(dotStuff(".a\u2028.b\u2029.c\n.d")).toBe("..a\u2028.b\u2029.c\r\n..d\r\n");
    expect(dotStuff("")).toBe("\r\n");
  });
});
