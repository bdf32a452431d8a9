/**
 * The cloudflare provider over the real local `send_email` binding (miniflare simulates it and
 * returns a synthesized Message-ID), and with `vi.spyOn(env.EMAIL, "send")` to see the builder.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { classifyBindingError, cloudflareProvider } from "../../src/email/providers/cloudflare";
import { ProviderError, type OutgoingEmail } from "../../src/email/types";

const message: OutgoingEmail = {
  from: { email: "agent@example.com", name: "Data Agent" },
  to: ["boss@example.com"],
  subject: "Approval needed: deploy",
  text: "Plain body",
  html: "<p>HTML body</p>",
  replyTo: "approvals+a1@example.com",
  headers: { "X-Request-Id": "req-1" },
};

describe("cloudflare provider", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("sends through the local binding and returns its Message-ID for threading", async () => {
    const result = await cloudflareProvider(env.EMAIL).send(message);
    expect(result.provider).toBe("cloudflare");
    expect(result.providerMessageId).toMatch(/^<[^<>@\s]+@[^<>\s]+>$/);
    expect(result.messageId).toBe(result.providerMessageId);
  });

  it("passes the builder form: from {email,name}, to, subject, text, html, replyTo, headers", async () => {
    const spy = vi.spyOn(env.EMAIL, "send");
    await cloudflareProvider(env.EMAIL).send({ ...message, to: ["boss@example.com", "deputy@example.com"] });
    expect(spy).toHaveBeenCalledTimes(1);
    expect(spy.mock.calls[0]?.[0]).toEqual({
      from: { email: "agent@example.com", name: "Data Agent" },
      to: ["boss@example.com", "deputy@example.com"],
      subject: "Approval needed: deploy",
      text: "Plain body",
      html: "<p>HTML body</p>",
      replyTo: "approvals+a1@example.com",
      headers: { "X-Request-Id": "req-1" },
    });
  });

  it("a single recipient and no name: plain strings; unset members left out", async () => {
    const spy = vi.spyOn(env.EMAIL, "send").mockResolvedValue({ messageId: "<m1@example.com>" });
    const result = await cloudflareProvider(env.EMAIL).send({
      from: { email: "a@example.com" },
      to: ["b@example.com"],
      subject: "s",
      text: "t",
    });
    expect(spy.mock.calls[0]?.[0]).toEqual({ from: "a@example.com", to: "b@example.com", subject: "s", text: "t" });
    expect(result).toEqual({ provider: "cloudflare", providerMessageId: "<m1@example.com>", messageId: "<m1@example.com>" });
  });

  it("an allow-list refusal is permanent", async () => {
    vi.spyOn(env.EMAIL, "send").mockRejectedValue(new Error("email to stranger@example.com not allowed"));
    const err = await cloudflareProvider(env.EMAIL)
      .send(message)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({
      provider: "cloudflare",
      transient: false,
      message: "cloudflare: email to stranger@example.com not allowed",
    });
  });

  it("other binding failures are transient", async () => {
    vi.spyOn(env.EMAIL, "send").mockRejectedValue(new Error("internal error; reference = 0123abcd"));
    const err = await cloudflareProvider(env.EMAIL)
      .send(message)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ transient: true });
  });

  it("classifies binding errors", () => {
    expect(classifyBindingError(new Error("email from nobody@example.com not allowed")).transient).toBe(false);
    expect(classifyBindingError(new Error("sender domain not verified")).transient).toBe(false);
    expect(classifyBindingError(new TypeError("Incorrect type for the 'to' field"))).toMatchObject({ transient: false });
    expect(classifyBindingError(Object.assign(new Error("rejected"), { code: "E_VALIDATION_ERROR" })).transient).toBe(false);
    expect(classifyBindingError(Object.assign(new Error("slow down"), { code: "E_RATE_LIMIT_EXCEEDED" })).transient).toBe(true);
    expect(classifyBindingError(new Error("Network connection lost.")).transient).toBe(true);
  });

  it("gives up after its timeout (the binding takes no signal)", async () => {
    vi.spyOn(env.EMAIL, "send").mockImplementation(() => new Promise(() => {}));
    const err = await cloudflareProvider(env.EMAIL, { timeoutMs: 20 })
      .send(message)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ provider: "cloudflare", transient: true, message: "cloudflare: no answer within 20 ms" });
  });
});
