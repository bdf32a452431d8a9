/** SendGrid and Mailgun delivery webhooks, with signatures made here the way the providers make them. */
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { json, problem } from "../helpers/api";
import { callWith, fakeProviderApis, messageRow } from "../helpers/email";

const b64 = (bytes: ArrayBuffer | Uint8Array) => btoa(String.fromCharCode(...new Uint8Array(bytes)));
const hex = (bytes: ArrayBuffer) => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");

/** r‖s (WebCrypto) → ASN.1 DER, as SendGrid sends it. */
function p1363ToDer(sig: Uint8Array): Uint8Array {
  const int = (bytes: Uint8Array) => {
    let i = 0;
    while (i < bytes.length - 1 && bytes[i] === 0) i++;
    const trimmed = bytes.subarray(i);
    const body = (trimmed[0] as number) & 0x80 ? [0, ...trimmed] : [...trimmed];
    return [0x02, body.length, ...body];
  };
  const seq = [...int(sig.subarray(0, 32)), ...int(sig.subarray(32))];
  return new Uint8Array([0x30, seq.length, ...seq]);
}

let keys: CryptoKeyPair;
let publicKeyB64: string;
const MAILGUN_KEY = "mailgun-signing-key-123";

beforeAll(async () => {
  keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
  publicKeyB64 = b64((await crypto.subtle.exportKey("spki", keys.publicKey)) as ArrayBuffer);
});

const settings = () => ({
  EMAIL_PROVIDERS: "sendgrid,mailgun",
  SENDGRID_API_KEY: "SG.x",
  MAILGUN_API_KEY: "key-x",
  MAILGUN_DOMAIN: "mg.example.com",
  SENDGRID_WEBHOOK_PUBLIC_KEY: publicKeyB64,
  MAILGUN_WEBHOOK_SIGNING_KEY: MAILGUN_KEY,
});

async function sendVia(provider: "sendgrid" | "mailgun", id: string): Promise<string> {
  fakeProviderApis({}, { sendgrid: id, mailgun: id });
  const res = await callWith(settings(), "/api/v2/email/send", { body: { to: ["x@example.com"], subject: "s", text: "t", provider } });
  expect(res.status).toBe(201);
  vi.restoreAllMocks();
  return (await json<{ message_id: string }>(res)).message_id;
}

async function sendgridHook(
  events: unknown,
  opts: { timestamp?: string; tamper?: boolean; overrides?: Record<string, unknown>; headers?: Record<string, string> } = {},
) {
  const body = JSON.stringify(events);
  const timestamp = opts.timestamp ?? String(Math.floor(Date.now() / 1000));
  const raw = new Uint8Array(
    await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, keys.privateKey, new TextEncoder().encode(timestamp + body)),
  );
  const headers = opts.headers ?? {
    "X-Twilio-Email-Event-Webhook-Signature": b64(p1363ToDer(raw)),
    "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
    "content-type": "application/json",
  };
  return callWith({ ...settings(), ...opts.overrides }, "/api/v2/email/webhooks/sendgrid", {
    token: null,
    method: "POST",
    rawBody: opts.tamper ? body.replace("delivered", "bounce") : body,
    headers,
  });
}

async function mailgunSignature(timestamp: string, token: string, key = MAILGUN_KEY): Promise<string> {
  const k = await crypto.subtle.importKey("raw", new TextEncoder().encode(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return hex(await crypto.subtle.sign("HMAC", k, new TextEncoder().encode(timestamp + token)));
}

async function mailgunHook(
  eventData: unknown,
  opts: { timestamp?: number; token?: string; key?: string; overrides?: Record<string, unknown> } = {},
) {
  const timestamp = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
  const token = opts.token ?? crypto.randomUUID().replace(/-/g, "");
  const signature = { timestamp, token, signature: await mailgunSignature(timestamp, token, opts.key) };
  return callWith({ ...settings(), ...opts.overrides }, "/api/v2/email/webhooks/mailgun", {
    token: null,
    body: { signature, "event-data": eventData },
  });
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("SendGrid event webhook", () => {
  it("moves a message to delivered, then bounced; never back", async () => {
    const id = await sendVia("sendgrid", "sgid-deliver-1");
    const res = await sendgridHook([
      { event: "processed", sg_message_id: "sgid-deliver-1.filter0001.1-0" },
      { event: "delivered", sg_message_id: "sgid-deliver-1.filter0001.1-0", email: "x@example.com" },
    ]);
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ received: 2, updated: 1, unchanged: 0, unknown: 0, ignored: 1 });
    expect((await messageRow(id))?.status).toBe("delivered");
    await sendgridHook([{ event: "bounce", sg_message_id: "sgid-deliver-1.filter0001.1-0" }]);
    expect((await messageRow(id))?.status).toBe("bounced");
    const again = await json(await sendgridHook([{ event: "delivered", sg_message_id: "sgid-deliver-1.x" }]));
    expect(again).toMatchObject({ updated: 0, unchanged: 1 });
    expect((await messageRow(id))?.status).toBe("bounced");
  });

  it("dropped is bounced; unknown messages are acknowledged and change nothing", async () => {
    const id = await sendVia("sendgrid", "sgid-drop-1");
    expect(
      await json(
        await sendgridHook([
          { event: "dropped", sg_message_id: "sgid-drop-1.f.0" },
          { event: "delivered", sg_message_id: "nobody.f.0" },
        ]),
      ),
    ).toMatchObject({
      updated: 1,
      unknown: 1,
    });
    expect((await messageRow(id))?.status).toBe("bounced");
  });

  it("a forged, tampered or missing signature is 401 and changes nothing", async () => {
    const id = await sendVia("sendgrid", "sgid-forged-1");
    const events = [{ event: "delivered", sg_message_id: "sgid-forged-1.f.0" }];
    await problem(await sendgridHook(events, { tamper: true }), 401);
    const other = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const otherKey = b64((await crypto.subtle.exportKey("spki", other.publicKey)) as ArrayBuffer);
    await problem(await sendgridHook(events, { overrides: { SENDGRID_WEBHOOK_PUBLIC_KEY: otherKey } }), 401);
    await problem(await sendgridHook(events, { headers: { "content-type": "application/json" } }), 401);
    await problem(
      await sendgridHook(events, {
        headers: { "X-Twilio-Email-Event-Webhook-Signature": "!!!", "X-Twilio-Email-Event-Webhook-Timestamp": "1" },
      }),
      401,
    );
    expect((await messageRow(id))?.status).toBe("sent");
  });

  it("a correctly signed request with a timestamp more than 5 minutes old or ahead is 401 and changes nothing", async () => {
    const id = await sendVia("sendgrid", "sgid-stale-1");
    const events = [{ event: "bounce", sg_message_id: "sgid-stale-1.f.0" }];
    const now = Math.floor(Date.now() / 1000);
    for (const timestamp of [now - 301, now + 301, now - 86_400]) {
      const doc = await problem(await sendgridHook(events, { timestamp: String(timestamp) }), 401);
      expect(doc.detail).toContain("stale");
      expect((await messageRow(id))?.status).toBe("sent");
    }
    // Within the window the same signed events are applied.
    expect(await json(await sendgridHook(events, { timestamp: String(now - 240) }))).toMatchObject({ updated: 1 });
    expect((await messageRow(id))?.status).toBe("bounced");
  });

  it("is 503 without SENDGRID_WEBHOOK_PUBLIC_KEY; a signed non-array is 400", async () => {
    const none = await problem(await sendgridHook([], { overrides: { SENDGRID_WEBHOOK_PUBLIC_KEY: "" } }), 503);
    expect(none.detail).toContain("SENDGRID_WEBHOOK_PUBLIC_KEY");
    await problem(await sendgridHook({ event: "delivered" }), 400);
  });
});

describe("Mailgun webhook", () => {
  it("delivered, then a permanent failure bounces it; temporary failures change nothing", async () => {
    const id = await sendVia("mailgun", "<mg-deliver-1@mg.example.com>");
    const headers = { "message-id": "mg-deliver-1@mg.example.com" };
    const temp = await mailgunHook({ event: "failed", severity: "temporary", message: { headers } });
    expect(await json(temp)).toMatchObject({ ignored: 1, updated: 0 });
    expect((await messageRow(id))?.status).toBe("sent");
    expect(await json(await mailgunHook({ event: "delivered", message: { headers } }))).toMatchObject({ updated: 1 });
    expect((await messageRow(id))?.status).toBe("delivered");
    await mailgunHook({ event: "failed", severity: "permanent", reason: "bounce", message: { headers } });
    expect((await messageRow(id))?.status).toBe("bounced");
    await mailgunHook({ event: "delivered", message: { headers } });
    expect((await messageRow(id))?.status).toBe("bounced");
    const unknown = await mailgunHook({ event: "delivered", message: { headers: { "message-id": "nobody@mg.example.com" } } });
    expect(unknown.status).toBe(200);
    expect(await json(unknown)).toMatchObject({ unknown: 1 });
  });

  it("a wrong key, a stale timestamp or no signature is 401 and changes nothing; no key configured is 503", async () => {
    const id = await sendVia("mailgun", "<mg-forged-1@mg.example.com>");
    const event = { event: "delivered", message: { headers: { "message-id": "mg-forged-1@mg.example.com" } } };
    await problem(await mailgunHook(event, { key: "not-the-key" }), 401);
    const stale = await problem(await mailgunHook(event, { timestamp: Math.floor(Date.now() / 1000) - 301 }), 401);
    expect(stale.detail).toContain("stale");
    await problem(await callWith(settings(), "/api/v2/email/webhooks/mailgun", { token: null, body: { "event-data": event } }), 401);
    await problem(await callWith(settings(), "/api/v2/email/webhooks/mailgun", { token: null, rawBody: "not json" }), 401);
    await problem(await mailgunHook(event, { overrides: { MAILGUN_WEBHOOK_SIGNING_KEY: "" } }), 503);
    expect((await messageRow(id))?.status).toBe("sent");
    expect(env.MAILGUN_DOMAIN).toBe("");
  });

  it("a token is accepted once: a captured signature replayed with other event data is 401 and changes nothing", async () => {
    const first = await sendVia("mailgun", "<mg-replay-1@mg.example.com>");
    const second = await sendVia("mailgun", "<mg-replay-2@mg.example.com>");
    const timestamp = Math.floor(Date.now() / 1000);
    const token = "replayed-token-0123456789abcdef0123456789abcdef01";
    const headers = (n: number) => ({ "message-id": `mg-replay-${n}@mg.example.com` });
    expect(await json(await mailgunHook({ event: "delivered", message: { headers: headers(1) } }, { timestamp, token }))).toMatchObject({
      updated: 1,
    });
    expect((await messageRow(first))?.status).toBe("delivered");

    const replays = [
      { event: "failed", severity: "permanent", message: { headers: headers(1) } },
      { event: "failed", severity: "permanent", message: { headers: headers(2) } },
      { event: "delivered", message: { headers: headers(2) } },
    ];
    for (const eventData of replays) {
      const doc = await problem(await mailgunHook(eventData, { timestamp, token }), 401);
      expect(doc.detail).toContain("replayed");
    }
    expect((await messageRow(first))?.status).toBe("delivered");
    expect((await messageRow(second))?.status).toBe("sent");
    const remembered = await env.DB.prepare("SELECT provider, expires_at FROM email_webhook_tokens WHERE token = ?").bind(token).all();
    expect(remembered.results).toEqual([{ provider: "mailgun", expires_at: (timestamp + 300) * 1000 }]);
    // A fresh token (a new signature) is accepted.
    expect(await json(await mailgunHook({ event: "delivered", message: { headers: headers(2) } }))).toMatchObject({ updated: 1 });
  });

  it("remembered tokens are pruned once their window has passed", async () => {
    const past = Date.now() - 1000;
    await env.DB.batch(
      ["old-1", "old-2"].map((t) =>
        env.DB.prepare("INSERT INTO email_webhook_tokens (provider, token, expires_at) VALUES ('mailgun', ?, ?)").bind(t, past),
      ),
    );
    const token = "fresh-token-0123456789abcdef0123456789abcdef012345";
    expect(
      (await mailgunHook({ event: "delivered", message: { headers: { "message-id": "nobody-prune@mg.example.com" } } }, { token })).status,
    ).toBe(200);
    const left = await env.DB.prepare("SELECT token FROM email_webhook_tokens WHERE token IN ('old-1', 'old-2', ?)")
      .bind(token)
      .all<{ token: string }>();
    expect(left.results.map((r) => r.token)).toEqual([token]);
  });
});
