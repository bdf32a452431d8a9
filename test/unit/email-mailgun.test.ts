/**
 * The Mailgun provider against a fake of `POST /v3/{domain}/messages` that checks each request the
 * way Mailgun documents it (documentation.mailgun.com … /messages: HTTP Basic `api:<key>`,
 * multipart/form-data, repeated `to`, `h:` headers) and answers like it: 200 `{id, message}`,
 * 400 `{"message": …}`, 401 `Forbidden`, 429, 503.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { MAILGUN_EU_BASE_URL, mailgunProvider } from "../../src/email/providers/mailgun";
import { ProviderError, type OutgoingEmail } from "../../src/email/types";

const KEY = "key-0123456789abcdef";
const DOMAIN = "mg.example.com";
const MAILGUN_ID = "<20261120120000.1.ABCDEF0123456789@mg.example.com>";

const message: OutgoingEmail = {
  from: { email: "agent@mg.example.com", name: 'Data "Agent"' },
  to: ["boss@example.com", "deputy@example.com"],
  subject: "Approval needed: deploy",
  text: "Plain body",
  html: "<p>HTML body</p>",
  replyTo: "approvals+a1@mg.example.com",
  headers: { "X-Request-Id": "req-1", References: "<a@x> <b@x>" },
};

/** A fake Messages endpoint: asserts the request's shape, then answers with `reply`. */
function fakeMailgun(reply: () => Response, expectedUrl = `https://api.mailgun.net/v3/${DOMAIN}/messages`) {
  const forms: FormData[] = [];
  const fetchFn = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init);
    expect(req.url).toBe(expectedUrl);
    expect(req.method).toBe("POST");
    expect(req.headers.get("authorization")).toBe(`Basic ${btoa(`api:${KEY}`)}`);
    expect(req.headers.get("content-type")).toMatch(/^multipart\/form-data; boundary=/);
    forms.push(await req.formData());
    return reply();
  });
  return { fetchFn: fetchFn as unknown as typeof fetch, forms };
}

const queued = () => Response.json({ id: MAILGUN_ID, message: "Queued. Thank you." });

describe("mailgun provider", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("posts the documented form fields and returns the id as the Message-ID", async () => {
    const { fetchFn, forms } = fakeMailgun(queued);
    const result = await mailgunProvider({ apiKey: KEY, domain: DOMAIN, fetch: fetchFn }).send(message);
    expect(result).toEqual({ provider: "mailgun", providerMessageId: MAILGUN_ID, messageId: MAILGUN_ID });

    const form = forms[0] as FormData;
    expect([...form.keys()]).toEqual(["from", "to", "to", "subject", "text", "html", "h:Reply-To", "h:X-Request-Id", "h:References"]);
    expect(form.get("from")).toBe('"Data \\"Agent\\"" <agent@mg.example.com>');
    expect(form.getAll("to")).toEqual(["boss@example.com", "deputy@example.com"]);
    expect(form.get("subject")).toBe("Approval needed: deploy");
    expect(form.get("text")).toBe("Plain body");
    expect(form.get("html")).toBe("<p>HTML body</p>");
    expect(form.get("h:Reply-To")).toBe("approvals+a1@mg.example.com");
    expect(form.get("h:X-Request-Id")).toBe("req-1");
    expect(form.get("h:References")).toBe("<a@x> <b@x>");
  });

  it("leaves out what is not set; a bare from address", async () => {
    const { fetchFn, forms } = fakeMailgun(queued);
    await mailgunProvider({ apiKey: KEY, domain: DOMAIN, fetch: fetchFn }).send({
      from: { email: "a@mg.example.com" },
      to: ["b@example.com"],
      subject: "s",
      text: "t",
    });
    const form = forms[0] as FormData;
    expect([...form.entries()]).toEqual([
      ["from", "a@mg.example.com"],
      ["to", "b@example.com"],
      ["subject", "s"],
      ["text", "t"],
    ]);
  });

  it("sends to the EU endpoint when MAILGUN_BASE_URL says so", async () => {
    const { fetchFn } = fakeMailgun(queued, `https://api.eu.mailgun.net/v3/${DOMAIN}/messages`);
    const result = await mailgunProvider({ apiKey: KEY, domain: DOMAIN, baseUrl: `${MAILGUN_EU_BASE_URL}/`, fetch: fetchFn }).send(message);
    expect(result.providerMessageId).toBe(MAILGUN_ID);
  });

  it("uses the global fetch by default", async () => {
    const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async () => queued());
    await mailgunProvider({ apiKey: KEY, domain: DOMAIN }).send(message);
    expect(spy).toHaveBeenCalledTimes(1);
  });

  it("401 (plain-text Forbidden): permanent", async () => {
    const { fetchFn } = fakeMailgun(() => new Response("Forbidden", { status: 401 }));
    const err = await mailgunProvider({ apiKey: KEY, domain: DOMAIN, fetch: fetchFn })
      .send(message)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ provider: "mailgun", transient: false, status: 401, message: "mailgun: HTTP 401: Forbidden" });
  });

  it("400: permanent, with the API's message", async () => {
    const { fetchFn } = fakeMailgun(() =>
      Response.json({ message: "to parameter is not a valid address. please check documentation" }, { status: 400 }),
    );
    const err = await mailgunProvider({ apiKey: KEY, domain: DOMAIN, fetch: fetchFn })
      .send(message)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({
      transient: false,
      status: 400,
      message: "mailgun: HTTP 400: to parameter is not a valid address. please check documentation",
    });
  });

  it("429 and 503: transient", async () => {
    for (const status of [429, 503]) {
      const { fetchFn } = fakeMailgun(() => Response.json({ message: "try later" }, { status }));
      const err = await mailgunProvider({ apiKey: KEY, domain: DOMAIN, fetch: fetchFn })
        .send(message)
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ transient: true, status });
    }
  });

  it("a timeout is transient", async () => {
    const hanging = ((_input: RequestInfo | URL, init?: RequestInit) =>
      new Promise<Response>((_resolve, reject) => {
        init?.signal?.addEventListener("abort", () => reject(init.signal?.reason));
      })) as typeof fetch;
    const err = await mailgunProvider({ apiKey: KEY, domain: DOMAIN, fetch: hanging, timeoutMs: 20 })
      .send(message)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ transient: true, message: "mailgun: no answer within 20 ms" });
  });
});
