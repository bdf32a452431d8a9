/** Provider selection from EMAIL_PROVIDERS and sending with failover. */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { EmailDeliveryError, UnconfiguredProvider, providersFromEnv, sendWithFailover, type Attempt } from "../../src/email/failover";
import { EmailConfigError } from "../../src/email/settings";
import { defaultSender } from "../../src/email/settings";
import { ProviderError, type EmailProvider, type OutgoingEmail } from "../../src/email/types";
import { problemDocument } from "../../src/lib/problem";

const message: OutgoingEmail = { from: { email: "agent@example.com" }, to: ["boss@example.com"], subject: "Hello", text: "Body" };

/**
 * The test env with some settings replaced. Defined, not assigned: assigning through a child of
 * `env` would reach the `env` proxy's set trap and change the real one.
 */
function envWith(overrides: Record<string, unknown>): Env {
  const child = Object.create(env) as object;
  for (const [key, value] of Object.entries(overrides)) Object.defineProperty(child, key, { value, enumerable: true });
  return child as Env;
}

/** Routes every fetch by host: sendgrid and mailgun answer with the given status. */
function fakeApis(status: { sendgrid?: number; mailgun?: number }) {
  const hosts: string[] = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const url = new URL(new Request(input, init).url);
    hosts.push(url.host);
    if (url.host === "api.sendgrid.com") {
      const s = status.sendgrid ?? 202;
      return s === 202
        ? new Response(null, { status: 202, headers: { "X-Message-Id": "sg-1" } })
        : Response.json({ errors: [{ message: `sendgrid says ${s}`, field: null, help: null }] }, { status: s });
    }
    if (url.host === "api.mailgun.net") {
      const s = status.mailgun ?? 200;
      return s === 200
        ? Response.json({ id: "<mg-1@mg.example.com>", message: "Queued. Thank you." })
        : Response.json({ message: `mailgun says ${s}` }, { status: s });
    }
    return new Response("unexpected host", { status: 599 });
  });
  return hosts;
}

const ALL_KEYS = { SENDGRID_API_KEY: "SG.key", MAILGUN_API_KEY: "key-1", MAILGUN_DOMAIN: "mg.example.com" };

describe("providersFromEnv", () => {
  it("defaults to the cloudflare binding (wrangler.toml sets EMAIL_PROVIDERS = cloudflare)", () => {
    expect(providersFromEnv(env).map((p) => p.name)).toEqual(["cloudflare"]);
    expect(providersFromEnv(envWith({ EMAIL_PROVIDERS: "" })).map((p) => p.name)).toEqual(["cloudflare"]);
    expect(defaultSender(env)).toEqual({ email: "agent@localhost", name: "DataMCPServerAgent" });
  });

  it("keeps the configured order, ignores case, blanks and repeats", () => {
    const providers = providersFromEnv(envWith({ ...ALL_KEYS, EMAIL_PROVIDERS: " Mailgun, sendgrid,,cloudflare,sendgrid " }));
    expect(providers.map((p) => p.name)).toEqual(["mailgun", "sendgrid", "cloudflare"]);
    expect(providers.some((p) => p instanceof UnconfiguredProvider)).toBe(false);
  });

  it("an unknown name is a configuration error naming it", () => {
    expect(() => providersFromEnv(envWith({ EMAIL_PROVIDERS: "cloudflare,postmark,ses" }))).toThrow(EmailConfigError);
    expect(() => providersFromEnv(envWith({ EMAIL_PROVIDERS: "cloudflare,postmark,ses" }))).toThrow(/unknown providers "postmark", "ses"/);
  });

  it("a malformed base URL is a configuration error", () => {
    expect(() => providersFromEnv(envWith({ ...ALL_KEYS, EMAIL_PROVIDERS: "sendgrid", SENDGRID_BASE_URL: "api.sendgrid.com" }))).toThrow(
      /SENDGRID_BASE_URL/,
    );
  });

  it("a provider without its secrets is kept as unconfigured, with the reason", () => {
    const providers = providersFromEnv(envWith({ EMAIL_PROVIDERS: "sendgrid,mailgun,smtp,cloudflare", MAILGUN_DOMAIN: "mg.example.com" }));
    expect(providers.map((p) => [p.name, p instanceof UnconfiguredProvider ? p.reason : "ok"])).toEqual([
      ["sendgrid", "SENDGRID_API_KEY is not set"],
      ["mailgun", "MAILGUN_API_KEY is not set"],
      ["smtp", "SMTP_HOST is not set"],
      ["cloudflare", "ok"],
    ]);
    const none = providersFromEnv(envWith({ EMAIL_PROVIDERS: "mailgun" }))[0] as UnconfiguredProvider;
    expect(none.reason).toBe("MAILGUN_API_KEY and MAILGUN_DOMAIN are not set");
  });

  it("smtp is registered: built from SMTP_HOST and friends", () => {
    const [smtp] = providersFromEnv(
      envWith({ EMAIL_PROVIDERS: "smtp", SMTP_HOST: "smtp.example.com", SMTP_USERNAME: "u", SMTP_PASSWORD: "p" }),
    );
    expect(smtp?.name).toBe("smtp");
    expect(smtp).not.toBeInstanceOf(UnconfiguredProvider);
  });

  it("extra factories replace or add factories; a name without one is unconfigured", () => {
    const none = providersFromEnv(envWith({ EMAIL_PROVIDERS: "smtp" }), { smtp: undefined })[0];
    expect(none).toMatchObject({ name: "smtp", reason: "no smtp provider is registered in this build" });
    const smtp: EmailProvider = { name: "smtp", send: async () => ({ provider: "smtp", providerMessageId: "<s@x>" }) };
    expect(providersFromEnv(envWith({ EMAIL_PROVIDERS: "smtp" }), { smtp: () => smtp })[0]).toBe(smtp);
    const skipped = providersFromEnv(envWith({ EMAIL_PROVIDERS: "smtp" }), { smtp: () => ({ skip: "SMTP_HOST is not set" }) })[0];
    expect(skipped).toMatchObject({ name: "smtp", reason: "SMTP_HOST is not set" });
  });
});

describe("sendWithFailover", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("the first provider answers: one attempt", async () => {
    fakeApis({});
    const providers = providersFromEnv(envWith({ ...ALL_KEYS, EMAIL_PROVIDERS: "sendgrid,mailgun" }));
    const { result, attempts } = await sendWithFailover(providers, message);
    expect(result).toEqual({ provider: "sendgrid", providerMessageId: "sg-1" });
    expect(attempts).toEqual([{ provider: "sendgrid", ok: true, duration_ms: expect.any(Number) }]);
  });

  it("first provider 503 → the second one sends; both attempts recorded", async () => {
    const hosts = fakeApis({ sendgrid: 503 });
    const providers = providersFromEnv(envWith({ ...ALL_KEYS, EMAIL_PROVIDERS: "sendgrid,mailgun" }));
    const { result, attempts } = await sendWithFailover(providers, message);
    expect(hosts).toEqual(["api.sendgrid.com", "api.mailgun.net"]);
    expect(result).toEqual({ provider: "mailgun", providerMessageId: "<mg-1@mg.example.com>", messageId: "<mg-1@mg.example.com>" });
    expect(attempts).toEqual([
      { provider: "sendgrid", ok: false, status: 503, error: "sendgrid: HTTP 503: sendgrid says 503", duration_ms: expect.any(Number) },
      { provider: "mailgun", ok: true, duration_ms: expect.any(Number) },
    ]);
  });

  it("a permanent failure falls over too (e.g. a revoked key)", async () => {
    fakeApis({ sendgrid: 401 });
    const providers = providersFromEnv(envWith({ ...ALL_KEYS, EMAIL_PROVIDERS: "sendgrid,cloudflare" }));
    const { result, attempts } = await sendWithFailover(providers, message);
    expect(result.provider).toBe("cloudflare");
    expect(result.messageId).toMatch(/^<.+@.+>$/);
    expect(attempts.map((a) => [a.provider, a.ok, a.status])).toEqual([
      ["sendgrid", false, 401],
      ["cloudflare", true, undefined],
    ]);
  });

  it("a provider skipped for missing secrets is listed with its reason", async () => {
    fakeApis({});
    const providers = providersFromEnv(envWith({ EMAIL_PROVIDERS: "sendgrid,cloudflare" }));
    const { result, attempts } = await sendWithFailover(providers, message);
    expect(result.provider).toBe("cloudflare");
    expect(attempts).toEqual([
      { provider: "sendgrid", ok: false, skipped: true, error: "not configured: SENDGRID_API_KEY is not set", duration_ms: 0 },
      { provider: "cloudflare", ok: true, duration_ms: expect.any(Number) },
    ]);
    expect(vi.mocked(globalThis.fetch)).not.toHaveBeenCalled();
  });

  it("all failing → EmailDeliveryError carrying every attempt (503 problem)", async () => {
    fakeApis({ sendgrid: 429, mailgun: 500 });
    vi.spyOn(env.EMAIL, "send").mockRejectedValue(new Error("email to boss@example.com not allowed"));
    const providers = providersFromEnv(
      envWith({ SENDGRID_API_KEY: "SG.key", MAILGUN_API_KEY: "k", EMAIL_PROVIDERS: "sendgrid,mailgun,smtp,cloudflare" }),
    );
    const err = (await sendWithFailover(providers, message).catch((e: unknown) => e)) as EmailDeliveryError;
    expect(err).toBeInstanceOf(EmailDeliveryError);
    expect(err.attempts.map((a: Attempt) => [a.provider, a.ok, a.status, a.skipped, a.error])).toEqual([
      ["sendgrid", false, 429, undefined, "sendgrid: HTTP 429: sendgrid says 429"],
      ["mailgun", false, undefined, true, "not configured: MAILGUN_DOMAIN is not set"],
      ["smtp", false, undefined, true, "not configured: SMTP_HOST is not set"],
      ["cloudflare", false, undefined, undefined, "cloudflare: email to boss@example.com not allowed"],
    ]);
    expect(err.status).toBe(503);
    const doc = problemDocument(err, "/api/v2/email/send");
    expect(doc.code).toBe("service_unavailable");
    expect(doc.attempts).toEqual(err.attempts);
    expect(doc.detail).toContain("sendgrid: HTTP 429");
  });

  it("no providers at all → EmailDeliveryError with no attempts", async () => {
    const err = (await sendWithFailover([], message).catch((e: unknown) => e)) as EmailDeliveryError;
    expect(err).toBeInstanceOf(EmailDeliveryError);
    expect(err.attempts).toEqual([]);
    expect(err.message).toContain("no email provider is configured");
  });

  it("a non-ProviderError thrown by a provider is recorded too", async () => {
    const broken: EmailProvider = {
      name: "smtp",
      send: async () => {
        throw new Error("socket closed");
      },
    };
    const ok: EmailProvider = {
      name: "cloudflare",
      send: async () => ({ provider: "cloudflare", providerMessageId: "<x@y>", messageId: "<x@y>" }),
    };
    const { attempts } = await sendWithFailover([broken, ok], message);
    expect(attempts[0]).toMatchObject({ provider: "smtp", ok: false, error: "socket closed" });
  });

  it("passes the caller's signal on and stops once it is aborted", async () => {
    const controller = new AbortController();
    const seen: (AbortSignal | undefined)[] = [];
    const first: EmailProvider = {
      name: "sendgrid",
      send: async (_m, signal) => {
        seen.push(signal);
        controller.abort();
        throw new ProviderError("sendgrid", "send aborted by the caller", { transient: true });
      },
    };
    const second: EmailProvider = { name: "mailgun", send: vi.fn(async () => ({ provider: "mailgun" as const, providerMessageId: "x" })) };
    const err = (await sendWithFailover([first, second], message, controller.signal).catch((e: unknown) => e)) as EmailDeliveryError;
    expect(seen[0]).toBe(controller.signal);
    expect(second.send).not.toHaveBeenCalled();
    expect(err.attempts.map((a) => a.provider)).toEqual(["sendgrid"]);
    expect(err.message).toContain("aborted by the caller");
  });
});
