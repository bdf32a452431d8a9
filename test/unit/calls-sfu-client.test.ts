/**
 * The SFU client and TURN credentials against a fake of the Realtime "Connection API"
 * (developers.cloudflare.com/realtime/sfu/https-api/) that checks method, path, bearer secret and
 * body shape, and answers like the API: 201 sessions/new, requiresImmediateRenegotiation, a
 * per-track errorCode in a 200, `{errorCode, errorDescription}` on 401, and a malformed body.
 */
import { describe, expect, it, vi } from "vitest";
import { SfuClient, SfuError, STUN_ONLY, iceServers } from "../../src/calls/sfu-client";
import { realtimeCredentials, turnCredentials } from "../../src/calls/settings";

const APP = "app-123";
const SECRET = "sfu-secret";
const BASE = `https://rtc.live.cloudflare.com/v1/apps/${APP}`;
const OFFER = { type: "offer" as const, sdp: "v=0\r\no=- offer\r\n" };
const ANSWER = { type: "answer" as const, sdp: "v=0\r\no=- answer\r\n" };

interface Expected {
  method: string;
  url: string;
  body?: unknown;
  token?: string;
}

/** A fake that checks each request against the next expectation, then answers with `reply`. */
function fakeSfu(steps: { expect: Expected; reply: () => Response }[]) {
  let i = 0;
  const fetchFn = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init);
    const step = steps[i++];
    if (!step) throw new Error(`unexpected request ${req.method} ${req.url}`);
    expect(req.method).toBe(step.expect.method);
    expect(req.url).toBe(step.expect.url);
    expect(req.headers.get("authorization")).toBe(`Bearer ${step.expect.token ?? SECRET}`);
    if (step.expect.body === undefined) {
      expect(await req.text()).toBe("");
    } else {
      expect(req.headers.get("content-type")).toBe("application/json");
      expect(await req.json()).toEqual(step.expect.body);
    }
    return step.reply();
  });
  return { fetchFn: fetchFn as unknown as typeof fetch, calls: () => i };
}

const client = (fetchFn: typeof fetch) => new SfuClient({ appId: APP, appSecret: SECRET, fetch: fetchFn });

describe("SfuClient", () => {
  it("sessions/new: POST with the offer, 201 with the session id and answer", async () => {
    const { fetchFn } = fakeSfu([
      {
        expect: { method: "POST", url: `${BASE}/sessions/new`, body: { sessionDescription: OFFER } },
        reply: () => Response.json({ sessionId: "s-1", sessionDescription: ANSWER }, { status: 201 }),
      },
      { expect: { method: "POST", url: `${BASE}/sessions/new` }, reply: () => Response.json({ sessionId: "s-2" }, { status: 201 }) },
    ]);
    const c = client(fetchFn);
    expect(await c.newSession(OFFER)).toEqual({ sessionId: "s-1", sessionDescription: ANSWER });
    expect(await c.newSession()).toEqual({ sessionId: "s-2" });
  });

  it("tracks/new: publishes local tracks with the offer and returns the answer", async () => {
    const tracks = [{ location: "local" as const, mid: "0", trackName: "audio-p1" }];
    const { fetchFn } = fakeSfu([
      {
        expect: { method: "POST", url: `${BASE}/sessions/s-1/tracks/new`, body: { sessionDescription: OFFER, tracks } },
        reply: () =>
          Response.json({
            requiresImmediateRenegotiation: false,
            sessionDescription: ANSWER,
            tracks: [{ location: "local", mid: "0", trackName: "audio-p1" }],
          }),
      },
    ]);
    const res = await client(fetchFn).newTracks("s-1", { sessionDescription: OFFER, tracks });
    expect(res.requiresImmediateRenegotiation).toBe(false);
    expect(res.sessionDescription).toEqual(ANSWER);
    expect(res.tracks).toEqual([{ location: "local", mid: "0", trackName: "audio-p1" }]);
  });

  it("tracks/new: pulling surfaces requiresImmediateRenegotiation and a per-track errorCode", async () => {
    const tracks = [
      { location: "remote" as const, sessionId: "s-pub", trackName: "audio-p1" },
      { location: "remote" as const, sessionId: "s-pub", trackName: "gone" },
    ];
    const { fetchFn } = fakeSfu([
      {
        expect: { method: "POST", url: `${BASE}/sessions/s-2/tracks/new`, body: { tracks } },
        reply: () =>
          Response.json({
            requiresImmediateRenegotiation: true,
            sessionDescription: { type: "offer", sdp: "v=0\r\no=- sfu-offer\r\n" },
            tracks: [
              { location: "remote", sessionId: "s-pub", trackName: "audio-p1", mid: "1" },
              { location: "remote", sessionId: "s-pub", trackName: "gone", errorCode: "not_found", errorDescription: "Track not found" },
            ],
          }),
      },
    ]);
    const res = await client(fetchFn).newTracks("s-2", { tracks });
    expect(res.requiresImmediateRenegotiation).toBe(true);
    expect(res.sessionDescription?.type).toBe("offer");
    expect(res.tracks[0]?.errorCode).toBeUndefined();
    expect(res.tracks[1]).toMatchObject({ trackName: "gone", errorCode: "not_found", errorDescription: "Track not found" });
  });

  it("renegotiate: PUT with the answer; tracks/close: PUT {tracks:[{mid}], force}; GET session", async () => {
    const { fetchFn, calls } = fakeSfu([
      {
        expect: { method: "PUT", url: `${BASE}/sessions/s-2/renegotiate`, body: { sessionDescription: ANSWER } },
        reply: () => Response.json({}),
      },
      {
        expect: { method: "PUT", url: `${BASE}/sessions/s-1/tracks/close`, body: { tracks: [{ mid: "0" }, { mid: "2" }], force: true } },
        reply: () => Response.json({ requiresImmediateRenegotiation: false, tracks: [{ mid: "0" }, { mid: "2", errorCode: "not_found" }] }),
      },
      {
        expect: {
          method: "PUT",
          url: `${BASE}/sessions/s-1/tracks/close`,
          body: { tracks: [{ mid: "1" }], force: false, sessionDescription: OFFER },
        },
        reply: () => Response.json({ tracks: [{ mid: "1" }], sessionDescription: ANSWER }),
      },
      {
        expect: { method: "GET", url: `${BASE}/sessions/s-1` },
        reply: () =>
          Response.json({ tracks: [{ location: "local", mid: "0", trackName: "audio-p1", status: "active" }], dataChannels: [] }),
      },
    ]);
    const c = client(fetchFn);
    await expect(c.renegotiate("s-2", ANSWER.sdp)).resolves.toBeUndefined();
    const closed = await c.closeTracks("s-1", { mids: ["0", "2"], force: true });
    expect(closed.tracks[1]).toEqual({ mid: "2", errorCode: "not_found" });
    const closed2 = await c.closeTracks("s-1", { mids: ["1"], force: false, sessionDescription: OFFER });
    expect(closed2.sessionDescription).toEqual(ANSWER);
    const state = await c.getSession("s-1");
    expect(state.tracks).toEqual([{ location: "local", mid: "0", trackName: "audio-p1", status: "active" }]);
    expect(calls()).toBe(4);
  });

  it("401 with {errorCode, errorDescription}: a permanent SfuError", async () => {
    const { fetchFn } = fakeSfu([
      {
        expect: { method: "POST", url: `${BASE}/sessions/new` },
        reply: () => Response.json({ errorCode: "unauthorized", errorDescription: "Invalid app secret" }, { status: 401 }),
      },
    ]);
    const err = await client(fetchFn)
      .newSession()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SfuError);
    expect(err).toMatchObject({ status: 401, code: "unauthorized", transient: false });
    expect((err as Error).message).toContain("Invalid app secret");
  });

  it("a top-level errorCode in a 200 is an error; 503 is transient", async () => {
    const { fetchFn } = fakeSfu([
      {
        expect: { method: "PUT", url: `${BASE}/sessions/s-1/renegotiate`, body: { sessionDescription: ANSWER } },
        reply: () => Response.json({ errorCode: "invalid_sdp", errorDescription: "bad answer" }),
      },
      { expect: { method: "GET", url: `${BASE}/sessions/s-1` }, reply: () => new Response("upstream down", { status: 503 }) },
    ]);
    const c = client(fetchFn);
    await expect(c.renegotiate("s-1", ANSWER.sdp)).rejects.toMatchObject({ status: 200, code: "invalid_sdp", transient: false });
    await expect(c.getSession("s-1")).rejects.toMatchObject({ status: 503, code: undefined, transient: true });
  });

  it("a malformed answer is an SfuError, not half-read data", async () => {
    const { fetchFn } = fakeSfu([
      { expect: { method: "POST", url: `${BASE}/sessions/new` }, reply: () => Response.json({ session: "s-1" }, { status: 201 }) },
      { expect: { method: "POST", url: `${BASE}/sessions/new` }, reply: () => new Response("<html>oops</html>", { status: 200 }) },
      {
        expect: { method: "POST", url: `${BASE}/sessions/s-1/tracks/new`, body: { tracks: [] } },
        reply: () => Response.json({ requiresImmediateRenegotiation: "yes", tracks: [] }),
      },
    ]);
    const c = client(fetchFn);
    const err = await c.newSession().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SfuError);
    expect(err).toMatchObject({ code: "invalid_response", transient: false });
    expect((err as Error).message).toContain("sessionId");
    await expect(c.newSession()).rejects.toMatchObject({ code: "invalid_response" });
    await expect(c.newTracks("s-1", { tracks: [] })).rejects.toMatchObject({ code: "invalid_response" });
  });

  it("network failure and timeout are transient with status 0; custom base URL", async () => {
    const failing = (async () => {
      throw new TypeError("Network connection lost.");
    }) as unknown as typeof fetch;
    await expect(new SfuClient({ appId: APP, appSecret: SECRET, fetch: failing }).newSession()).rejects.toMatchObject({
      status: 0,
      code: "network",
      transient: true,
    });
    const hanging = ((_i: RequestInfo | URL, init?: RequestInit) =>
      new Promise<Response>((_resolve, reject) =>
        init?.signal?.addEventListener("abort", () => reject(init.signal?.reason)),
      )) as typeof fetch;
    const err = await new SfuClient({ appId: APP, appSecret: SECRET, fetch: hanging, timeoutMs: 20 }).newSession().catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 0, code: "timeout", transient: true });

    const { fetchFn } = fakeSfu([
      { expect: { method: "GET", url: "http://sfu.test/v1/apps/app-123/sessions/a%2Fb" }, reply: () => Response.json({ tracks: [] }) },
    ]);
    const state = await new SfuClient({ appId: APP, appSecret: SECRET, baseUrl: "http://sfu.test/v1/", fetch: fetchFn }).getSession("a/b");
    expect(state).toEqual({ tracks: [], dataChannels: [] });
  });
});

describe("iceServers", () => {
  it("without a TURN key: Cloudflare STUN only, no request", async () => {
    const fetchFn = vi.fn();
    expect(await iceServers({ fetch: fetchFn as unknown as typeof fetch })).toEqual([{ urls: ["stun:stun.cloudflare.com:3478"] }]);
    expect(await iceServers({ turnKeyId: "k", fetch: fetchFn as unknown as typeof fetch })).toEqual(STUN_ONLY);
    expect(fetchFn).not.toHaveBeenCalled();
    expect(turnCredentials({})).toBeNull();
    expect(realtimeCredentials({ REALTIME_APP_ID: "a", REALTIME_APP_SECRET: "  " })).toBeNull();
  });

  it("with a TURN key: POST generate-ice-servers with the bearer token and {ttl}", async () => {
    const answer = {
      iceServers: [
        { urls: ["stun:stun.cloudflare.com:3478", "stun:stun.cloudflare.com:53"] },
        {
          urls: [
            "turn:turn.cloudflare.com:3478?transport=udp",
            "turn:turn.cloudflare.com:3478?transport=tcp",
            "turns:turn.cloudflare.com:443?transport=tcp",
          ],
          username: "u-123",
          credential: "c-456",
        },
      ],
    };
    const creds = turnCredentials({ TURN_KEY_ID: "key-1", TURN_KEY_API_TOKEN: "turn-token" });
    expect(creds).toEqual({ turnKeyId: "key-1", turnKeyApiToken: "turn-token" });
    const { fetchFn } = fakeSfu([
      {
        expect: {
          method: "POST",
          url: "https://rtc.live.cloudflare.com/v1/turn/keys/key-1/credentials/generate-ice-servers",
          token: "turn-token",
          body: { ttl: 3600 },
        },
        reply: () => Response.json(answer, { status: 201 }),
      },
      {
        expect: {
          method: "POST",
          url: "https://rtc.live.cloudflare.com/v1/turn/keys/key-1/credentials/generate-ice-servers",
          token: "turn-token",
          body: { ttl: 86400 },
        },
        reply: () => Response.json({ error: "bad token" }, { status: 401 }),
      },
    ]);
    expect(await iceServers({ ...creds, ttl: 3600, fetch: fetchFn })).toEqual(answer.iceServers);
    await expect(iceServers({ ...creds, fetch: fetchFn })).rejects.toMatchObject({ status: 401, transient: false });
  });
});
