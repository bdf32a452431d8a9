/**
 * The SendGrid provider against a fake of v3 Mail Send that checks each request the way the API
 * documents it (twilio.com/docs/sendgrid/api-reference/mail-send/mail-send) and answers like it:
 * 202 + X-Message-Id, 400/401 `{"errors":[{message,field,help}]}`, 429, 503.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { sendgridProvider } from "../../src/email/providers/sendgrid";
import { ProviderError, type OutgoingEmail } from "../../src/email/types";

const KEY = "SG.test-key";

const message: OutgoingEmail = {
  from: { email: "agent@example.com", name: "Data Agent" },
  to: ["boss@example.com", "deputy@example.com"],
  subject: "Approval needed: deploy",
  text: "Plain body",
  html: "<p>HTML body</p>",
  replyTo: "approvals+a1@example.com",
  headers: { "X-Request-Id": "req-1", "In-Reply-To": "<prev@example.com>" },
};

/** The documented failure bodies. */
const errors = (message: string, field: string | null = null) => ({ errors: [{ message, field, help: null }] });

/** A fake Mail Send endpoint: asserts the request's shape, then answers with `reply`. */
function fakeSendGrid(reply: () => Response, expectedUrl = "https://api.sendgrid.com/v3/mail/send") {
  const seen: { url: string; body: Record<string, unknown> }[] = [];
  const fetchFn = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init);
    expect(req.url).toBe(expectedUrl);
    expect(req.method).toBe("POST");
    expect(req.headers.get("authorization")).toBe(`Bearer ${KEY}`);
    expect(req.headers.get("content-type")).toBe("application/json");
    const raw = await req.text();
    seen.push({ url: req.url, body: JSON.parse(raw) as Record<string, unknown> });
    return reply();
  });
  return { fetchFn: fetchFn as unknown as typeof fetch, seen };
}

const accepted = () => new Response(null, { status: 202, headers: { "X-Message-Id": "W8nYl1xRQx2LIm4gvJMl5A" } });

describe("sendgrid provider", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("posts the documented JSON body and returns X-Message-Id", async () => {
    const { fetchFn, seen } = fakeSendGrid(accepted);
    const result = await sendgridProvider({ apiKey: KEY, fetch: fetchFn }).send(message);
    expect(result).toEqual({ provider: "sendgrid", providerMessageId: "W8nYl1xRQx2LIm4gvJMl5A" });
    expect(seen).toHaveLength(1);
    expect(seen[0]?.body).toEqual({
      personalizations: [{ to: [{ email: "boss@example.com" }, { email: "deputy@example.com" }] }],
      from: { email: "agent@example.com", name: "Data Agent" },
      reply_to: { email: "approvals+a1@example.com" },
      subject: "Approval needed: deploy",
      content: [
        { type: "text/plain", value: "Plain body" },
        { type: "text/html", value: "<p>HTML body</p>" },
      ],
      headers: { "X-Request-Id": "req-1", "In-Reply-To": "<prev@example.com>" },
    });
    // text/plain must precede text/html (the API refuses the other order).
    const content = seen[0]?.body.content as { type: string }[];
    expect(content.map((c) => c.type)).toEqual(["text/plain", "text/html"]);
  });

  it("leaves out what is not set: html, reply_to, headers, from.name", async () => {
    const { fetchFn, seen } = fakeSendGrid(accepted);
    await sendgridProvider({ apiKey: KEY, fetch: fetchFn }).send({
      from: { email: "a@example.com" },
      to: ["b@example.com"],
      subject: "s",
      text: "t",
    });
    expect(seen[0]?.body).toEqual({
      personalizations: [{ to: [{ email: "b@example.com" }] }],
      from: { email: "a@example.com" },
      subject: "s",
      content: [{ type: "text/plain", value: "t" }],
    });
  });

  it("uses SENDGRID_BASE_URL when given (trailing slash tolerated)", async () => {
    const { fetchFn } = fakeSendGrid(accepted, "https://api.eu.sendgrid.com/v3/mail/send");
    const result = await sendgridProvider({ apiKey: KEY, baseUrl: "https://api.eu.sendgrid.com/", fetch: fetchFn }).send(message);
    expect(result.providerMessageId).toBe("W8nYl1xRQx2LIm4gvJMl5A");
  });

  it("uses the global fetch by default", async () => {
    const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const req = new Request(input, init);
      expect(req.url).toBe("https://api.sendgrid.com/v3/mail/send");
      return accepted();
    });
    await sendgridProvider({ apiKey: KEY }).send(message);
    expect(spy).toHaveBeenCalledTimes(1);
  });

  it("401: permanent, with the API's message", async () => {
    const { fetchFn } = fakeSendGrid(() =>
      Response.json(errors("The provided authorization grant is invalid, expired, or revoked"), { status: 401 }),
    );
    const err = await sendgridProvider({ apiKey: KEY, fetch: fetchFn })
      .send(message)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ provider: "sendgrid", transient: false, status: 401 });
    expect((err as Error).message).toContain("The provided authorization grant is invalid, expired, or revoked");
  });

  it("400: permanent, joining every error message", async () => {
    const body = {
      errors: [
        {
          message: "Does not contain a valid address.",
          field: "personalizations.0.to.0.email",
          help: "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html#message.personalizations.to",
        },
        { message: "The from email does not contain a valid address.", field: "from.email", help: null },
      ],
    };
    const { fetchFn } = fakeSendGrid(() => Response.json(body, { status: 400 }));
    const err = (await sendgridProvider({ apiKey: KEY, fetch: fetchFn })
      .send(message)
      .catch((e: unknown) => e)) as ProviderError;
    expect(err).toMatchObject({ transient: false, status: 400 });
    expect(err.message).toBe("sendgrid: HTTP 400: Does not contain a valid address.; The from email does not contain a valid address.");
  });

  it("429 and 503: transient", async () => {
    for (const status of [429, 503]) {
      const { fetchFn } = fakeSendGrid(() =>
        Response.json(errors(status === 429 ? "too many requests" : "service unavailable"), { status }),
      );
      const err = await sendgridProvider({ apiKey: KEY, fetch: fetchFn })
        .send(message)
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ transient: true, status });
    }
  });

  it("a network failure is transient", async () => {
    const fetchFn = (async () => {
      throw new TypeError("Network connection lost.");
    }) as unknown as typeof fetch;
    const err = await sendgridProvider({ apiKey: KEY, fetch: fetchFn })
      .send(message)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ transient: true, status: undefined });
    expect((err as Error).message).toContain("Network connection lost.");
  });

  it("gives up after its timeout, and when the caller aborts", async () => {
    const hanging = ((_input: RequestInfo | URL, init?: RequestInit) =>
      new Promise<Response>((_resolve, reject) => {
        const signal = init?.signal;
        signal?.addEventListener("abort", () => reject(signal.reason));
      })) as typeof fetch;
    const timedOut = await sendgridProvider({ apiKey: KEY, fetch: hanging, timeoutMs: 20 })
      .send(message)
      .catch((e: unknown) => e);
    expect(timedOut).toMatchObject({ transient: true });
    expect((timedOut as Error).message).toContain("no answer within 20 ms");

    const controller = new AbortController();
    const pending = sendgridProvider({ apiKey: KEY, fetch: hanging })
      .send(message, controller.signal)
      .catch((e: unknown) => e);
    controller.abort();
    expect(((await pending) as Error).message).toContain("aborted by the caller");
  });
});
