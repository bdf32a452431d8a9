/**
 * A fake Cloudflare Realtime SFU at the fetch boundary (developers.cloudflare.com/realtime/sfu/https-api/).
 * It checks every request against the documented contract — host and path
 * `/v1/apps/{appId}/sessions/…`, method, `Authorization: Bearer <app secret>`, JSON body shape —
 * and answers like the API (201 sessions/new, per-track errorCode in a 200, requiresImmediateRenegotiation
 * when pulling). A request that breaks the contract is answered 400 and listed in `violations`,
 * which a test asserts empty. Tracks named `bad-…` are refused per track (`errorCode`).
 * WebSocket adapters (`adapters/websocket/new` and `/close`): a track must be published in a known
 * session, `outputCodec` "pcm", `endpoint` a ws(s) URL; the fake keeps them in `adapters` (the test
 * plays the SFU dialing the endpoint) and closing is idempotent.
 */
import { vi } from "vitest";

export const SFU_APP_ID = "app-test-0001";
export const SFU_SECRET = "sfu-secret-for-tests";
export const SFU_ENV = { REALTIME_APP_ID: SFU_APP_ID, REALTIME_APP_SECRET: SFU_SECRET };
export const SFU_DEFAULT_API = "https://rtc.live.cloudflare.com/v1";

interface FakeTrack {
  location: "local" | "remote";
  mid: string;
  trackName: string;
  sessionId?: string;
}

export interface SeenRequest {
  method: string;
  /** The path after `/v1/apps/{appId}`. */
  path: string;
  body: unknown;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const isSdp = (v: unknown, type?: "offer" | "answer") =>
  isObject(v) &&
  (type ? v.type === type : v.type === "offer" || v.type === "answer") &&
  typeof v.sdp === "string" &&
  v.sdp.length > 0 &&
  Object.keys(v).length === 2;
const keysWithin = (v: Json, allowed: string[]) => Object.keys(v).every((k) => allowed.includes(k));

export class FakeSfu {
  readonly requests: SeenRequest[] = [];
  readonly violations: string[] = [];
  readonly sessions = new Map<string, FakeTrack[]>();
  readonly adapters = new Map<string, { sessionId: string; trackName: string; endpoint: string; closed: boolean }>();
  #nextAdapter = 1;
  /** The next request is refused with this status and `{errorCode, errorDescription}`. */
  refuseNext: { status: number; errorCode: string; errorDescription: string } | null = null;
  #nextSession = 1;
  #nextMid = 100;
  readonly #base: string;

  /** `apiBaseUrl`: where the Worker must send requests (REALTIME_API_BASE_URL), default the Cloudflare API. */
  constructor(options: { apiBaseUrl?: string } = {}) {
    this.#base = `${options.apiBaseUrl ?? SFU_DEFAULT_API}/apps/${SFU_APP_ID}`;
  }

  /** Installs the fake as globalThis.fetch (restored by vi.restoreAllMocks). Other hosts are refused. */
  install(): this {
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => this.handle(new Request(input, init)));
    return this;
  }

  /** Requests of one kind, e.g. `count("POST", /tracks\/new$/)`. */
  count(method?: string, path?: RegExp): number {
    return this.requests.filter((r) => (!method || r.method === method) && (!path || path.test(r.path))).length;
  }

  #violate(message: string): Response {
    this.violations.push(message);
    return Response.json({ errorCode: "fake_contract_violation", errorDescription: message }, { status: 400 });
  }

  async handle(req: Request): Promise<Response> {
    if (!req.url.startsWith(`${this.#base}/`)) return this.#violate(`unexpected URL ${req.url}`);
    const path = req.url.slice(this.#base.length);
    const text = await req.text();
    let body: unknown;
    try {
      body = text === "" ? undefined : JSON.parse(text);
    } catch {
      return this.#violate(`${path}: body is not JSON`);
    }
    this.requests.push({ method: req.method, path, body });
    if (req.headers.get("authorization") !== `Bearer ${SFU_SECRET}`)
      return this.#violate(`${path}: Authorization is not "Bearer <app secret>"`);
    if (body !== undefined && req.headers.get("content-type") !== "application/json")
      return this.#violate(`${path}: JSON body without Content-Type: application/json`);
    if (this.refuseNext) {
      const { status, ...error } = this.refuseNext;
      this.refuseNext = null;
      return Response.json(error, { status });
    }
    if (path === "/sessions/new") return this.#newSession(req.method, body);
    if (path === "/adapters/websocket/new") return this.#newAdapters(req.method, body);
    if (path === "/adapters/websocket/close") return this.#closeAdapters(req.method, body);
    const m = /^\/sessions\/([^/]+)(\/tracks\/new|\/renegotiate|\/tracks\/close)?$/.exec(path);
    if (!m) return this.#violate(`unknown path ${path}`);
    const sessionId = decodeURIComponent(m[1]!);
    const tracks = this.sessions.get(sessionId);
    if (!tracks)
      return Response.json({ errorCode: "session_not_found", errorDescription: `Session ${sessionId} not found` }, { status: 404 });
    switch (m[2]) {
      case "/tracks/new":
        return this.#newTracks(req.method, sessionId, tracks, body);
      case "/renegotiate":
        if (req.method !== "PUT") return this.#violate(`renegotiate with ${req.method}`);
        if (!isObject(body) || !keysWithin(body, ["sessionDescription"]) || !isSdp(body.sessionDescription, "answer"))
          return this.#violate("renegotiate: body is not {sessionDescription: answer}");
        return Response.json({});
      case "/tracks/close":
        return this.#closeTracks(req.method, tracks, body);
      default:
        if (req.method !== "GET" || body !== undefined) return this.#violate(`session state with ${req.method} and a body`);
        return Response.json({ tracks: tracks.map((t) => ({ ...t, status: "active" })), dataChannels: [] });
    }
  }

  #newAdapters(method: string, body: unknown): Response {
    if (method !== "POST") return this.#violate(`adapters/websocket/new with ${method}`);
    if (!isObject(body) || !keysWithin(body, ["tracks"]) || !Array.isArray(body.tracks) || body.tracks.length < 1 || body.tracks.length > 4)
      return this.#violate("adapters/websocket/new: body is not {tracks: [1..4 tracks]}");
    const results: Json[] = [];
    for (const t of body.tracks as unknown[]) {
      if (
        !isObject(t) ||
        !keysWithin(t, ["location", "sessionId", "trackName", "endpoint", "outputCodec"]) ||
        t.location !== "remote" ||
        typeof t.sessionId !== "string" ||
        typeof t.trackName !== "string" ||
        t.outputCodec !== "pcm" ||
        typeof t.endpoint !== "string" ||
        !/^wss?:\/\/[^/]+\//.test(t.endpoint)
      )
        return this.#violate(`adapters/websocket/new: malformed track ${JSON.stringify(t)}`);
      const published = this.sessions.get(t.sessionId)?.some((p) => p.location === "local" && p.trackName === t.trackName);
      if (!published) {
        results.push({ sessionId: t.sessionId, trackName: t.trackName, errorCode: "not_found", errorDescription: "Track not found" });
        continue;
      }
      const adapterId = `adapter-${this.#nextAdapter++}`;
      this.adapters.set(adapterId, { sessionId: t.sessionId, trackName: t.trackName, endpoint: t.endpoint, closed: false });
      results.push({ adapterId, sessionId: t.sessionId, trackName: t.trackName, endpoint: t.endpoint });
    }
    return Response.json({ tracks: results });
  }

  #closeAdapters(method: string, body: unknown): Response {
    if (method !== "POST") return this.#violate(`adapters/websocket/close with ${method}`);
    if (!isObject(body) || !keysWithin(body, ["tracks"]) || !Array.isArray(body.tracks) || body.tracks.length === 0)
      return this.#violate("adapters/websocket/close: body is not {tracks: [{adapterId}]}");
    const results: Json[] = [];
    for (const t of body.tracks as unknown[]) {
      if (!isObject(t) || !keysWithin(t, ["adapterId"]) || typeof t.adapterId !== "string")
        return this.#violate(`adapters/websocket/close: malformed ${JSON.stringify(t)}`);
      const adapter = this.adapters.get(t.adapterId);
      if (adapter) adapter.closed = true;
      results.push({ adapterId: t.adapterId });
    }
    return Response.json({ tracks: results });
  }

  #newSession(method: string, body: unknown): Response {
    if (method !== "POST") return this.#violate(`sessions/new with ${method}`);
    if (body !== undefined && (!isObject(body) || !keysWithin(body, ["sessionDescription"]) || !isSdp(body.sessionDescription, "offer"))) {
      return this.#violate("sessions/new: body is not {sessionDescription: offer}");
    }
    const sessionId = `sfu-session-${this.#nextSession++}`;
    this.sessions.set(sessionId, []);
    const answer = body === undefined ? {} : { sessionDescription: { type: "answer", sdp: `v=0\r\no=- answer-for-${sessionId}\r\n` } };
    return Response.json({ sessionId, ...answer }, { status: 201 });
  }

  #newTracks(method: string, sessionId: string, tracks: FakeTrack[], body: unknown): Response {
    if (method !== "POST") return this.#violate(`tracks/new with ${method}`);
    if (!isObject(body) || !keysWithin(body, ["sessionDescription", "tracks"]) || !Array.isArray(body.tracks) || body.tracks.length === 0) {
      return this.#violate("tracks/new: body is not {sessionDescription?, tracks: [...]}");
    }
    const results: Json[] = [];
    let pulled = false;
    for (const t of body.tracks as unknown[]) {
      if (!isObject(t) || typeof t.trackName !== "string") return this.#violate(`tracks/new: malformed track ${JSON.stringify(t)}`);
      if (t.location === "local") {
        if (!keysWithin(t, ["location", "mid", "trackName"]) || typeof t.mid !== "string")
          return this.#violate(`tracks/new: local track with other fields ${JSON.stringify(t)}`);
        if (!isSdp(body.sessionDescription, "offer")) return this.#violate("tracks/new: local tracks without the endpoint's offer");
        if (t.trackName.startsWith("bad-")) {
          results.push({
            location: "local",
            mid: t.mid,
            trackName: t.trackName,
            errorCode: "invalid_track",
            errorDescription: "Track refused by the fake",
          });
          continue;
        }
        tracks.push({ location: "local", mid: t.mid, trackName: t.trackName });
        results.push({ location: "local", mid: t.mid, trackName: t.trackName });
      } else if (t.location === "remote") {
        if (!keysWithin(t, ["location", "sessionId", "trackName", "mid", "simulcast"]) || typeof t.sessionId !== "string")
          return this.#violate(`tracks/new: malformed remote track ${JSON.stringify(t)}`);
        const published = this.sessions.get(t.sessionId)?.some((p) => p.location === "local" && p.trackName === t.trackName);
        if (!published) {
          results.push({
            location: "remote",
            sessionId: t.sessionId,
            trackName: t.trackName,
            errorCode: "not_found",
            errorDescription: "Track not found",
          });
          continue;
        }
        const mid = typeof t.mid === "string" ? t.mid : String(this.#nextMid++);
        tracks.push({ location: "remote", mid, trackName: t.trackName, sessionId: t.sessionId });
        results.push({ location: "remote", sessionId: t.sessionId, trackName: t.trackName, mid });
        pulled = true;
      } else return this.#violate(`tracks/new: location ${String(t.location)}`);
    }
    const sessionDescription = pulled
      ? { type: "offer", sdp: `v=0\r\no=- sfu-offer-${sessionId}\r\n` }
      : body.sessionDescription
        ? { type: "answer", sdp: `v=0\r\no=- sfu-answer-${sessionId}\r\n` }
        : undefined;
    return Response.json({
      requiresImmediateRenegotiation: pulled,
      ...(sessionDescription ? { sessionDescription } : {}),
      tracks: results,
    });
  }

  #closeTracks(method: string, tracks: FakeTrack[], body: unknown): Response {
    if (method !== "PUT") return this.#violate(`tracks/close with ${method}`);
    if (
      !isObject(body) ||
      !keysWithin(body, ["tracks", "force", "sessionDescription"]) ||
      typeof body.force !== "boolean" ||
      !Array.isArray(body.tracks)
    ) {
      return this.#violate("tracks/close: body is not {tracks: [{mid}], force}");
    }
    if (!body.force && !isSdp(body.sessionDescription, "offer")) return this.#violate("tracks/close: force false without an offer");
    const results: Json[] = [];
    for (const t of body.tracks as unknown[]) {
      if (!isObject(t) || !keysWithin(t, ["mid"]) || typeof t.mid !== "string")
        return this.#violate(`tracks/close: malformed ${JSON.stringify(t)}`);
      const i = tracks.findIndex((x) => x.mid === t.mid);
      if (i < 0) results.push({ mid: t.mid, errorCode: "not_found", errorDescription: "No such mid" });
      else {
        tracks.splice(i, 1);
        results.push({ mid: t.mid });
      }
    }
    return Response.json({ requiresImmediateRenegotiation: false, tracks: results });
  }
}
