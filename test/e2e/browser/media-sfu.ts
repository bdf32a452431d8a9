/**
 * A fake Cloudflare Realtime SFU for the SFU browser test that really relays media.
 *
 * The HTTP side is a Node server on 127.0.0.1 speaking the documented Connection API
 * (developers.cloudflare.com/realtime/sfu/https-api/): `POST /v1/apps/{appId}/sessions/new`,
 * `POST …/sessions/{id}/tracks/new`, `PUT …/renegotiate`, `PUT …/tracks/close`, `GET …/sessions/{id}`,
 * each checked for path, method, `Authorization: Bearer <app secret>`, `Content-Type` and body shape,
 * and answered with the documented response shapes. Anything off the contract is answered 400
 * `{errorCode, errorDescription}` and listed in `violations` (the test asserts it empty). So is a
 * mutation while the SFU still waits for the answer to its own offer (the API says to finish that
 * renegotiation first).
 *
 * The media side is a hidden page in the same headless Chromium (driven with `page.evaluate`) that
 * holds one RTCPeerConnection per SFU session:
 * - sessions/new (with an offer), tracks/new with local tracks: setRemoteDescription(the client's
 *   offer) + createAnswer; the request's `{mid, trackName}` names the received track;
 * - tracks/new with remote tracks: addTrack(the publisher session's received track) on the puller's
 *   connection + createOffer, answered with `requiresImmediateRenegotiation: true` and the new mids;
 * - renegotiate: setRemoteDescription(the client's answer);
 * - tracks/close: `force: false` + the client's offer (its transceivers stopped) → setRemoteDescription
 *   + createAnswer, like the API; `force: true` stops the transceivers without SDP.
 * Received audio is played into an `<audio>` element: Chromium only decodes (and so can forward) a
 * remote audio track that is being played out. Answers and offers wait for ICE gathering, so they
 * carry the relay's 127.0.0.1 host candidates (the real SFU is ICE-lite and does the same).
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser, Page } from "playwright-core";

export interface SeenSfuRequest {
  method: string;
  /** The path after `/v1/apps/{appId}` (query included). */
  path: string;
  status: number;
  /** `location:trackName` of the tracks in the body, SDP type if any, force. */
  summary: string;
}

export interface MediaSfu {
  /** REALTIME_API_BASE_URL for the Worker: `http://127.0.0.1:{port}/v1`. */
  readonly apiBaseUrl: string;
  readonly appId: string;
  readonly secret: string;
  readonly requests: SeenSfuRequest[];
  readonly violations: string[];
  /** The sessions as the fake's API side sees them. */
  sessions(): Record<string, { tracks: FakeTrack[] }>;
  /** The relay page's connections: state, selected pair ports, RTP counters per mid. */
  relayStats(): Promise<Record<string, any>>;
  relayLog(): Promise<string[]>;
  close(): Promise<void>;
}

interface FakeTrack {
  location: "local" | "remote";
  mid: string;
  trackName: string;
  sessionId?: string;
}

interface SessionState {
  tracks: FakeTrack[];
  /** The SFU sent an offer (a pull) and waits for PUT renegotiate. */
  awaitingAnswer: boolean;
}

type Json = Record<string, any>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const keysWithin = (v: Json, allowed: string[]) => Object.keys(v).every((k) => allowed.includes(k));
const isSdp = (v: unknown, type: "offer" | "answer") =>
  isObject(v) && keysWithin(v, ["type", "sdp"]) && v.type === type && typeof v.sdp === "string" && v.sdp.startsWith("v=0");

class Refusal extends Error {
  readonly status: number;
  readonly errorCode: string;
  /** A contract violation (listed), or an answer the real API would give too (not listed). */
  readonly violation: boolean;
  constructor(status: number, errorCode: string, message: string, violation = true) {
    super(message);
    this.status = status;
    this.errorCode = errorCode;
    this.violation = violation;
  }
}

/** The relay page's script (plain JS, runs in Chromium). */
const RELAY_JS = String.raw`
const sessions = new Map();
const log = [];
function session(sid) {
  const s = sessions.get(sid);
  if (!s) throw new Error('relay has no session ' + sid);
  return s;
}
function gathered(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise(function (resolve) {
    const timer = setTimeout(function () { log.push('ice gathering still ' + pc.iceGatheringState + ' after 3 s'); resolve(); }, 3000);
    pc.addEventListener('icegatheringstatechange', function () {
      if (pc.iceGatheringState === 'complete') { clearTimeout(timer); resolve(); }
    });
  });
}
function playOut(s, mid, track) {
  if (track.kind !== 'audio' || s.players.has(mid)) return;
  const a = document.createElement('audio');
  a.srcObject = new MediaStream([track]);
  document.body.append(a);
  a.play().catch(function (e) { log.push('play refused: ' + e); });
  s.players.set(mid, a);
}
window.relay = {
  newSession: function (sid) {
    const pc = new RTCPeerConnection({ iceServers: [], bundlePolicy: 'max-bundle' });
    const s = { pc: pc, names: new Map(), published: new Map(), players: new Map() };
    pc.ontrack = function (ev) {
      const mid = ev.transceiver.mid;
      playOut(s, mid, ev.track);
      const name = s.names.get(mid);
      if (name) s.published.set(name, ev.track);
    };
    pc.onconnectionstatechange = function () { log.push(sid + ' ' + pc.connectionState); };
    sessions.set(sid, s);
  },
  answerOffer: async function (sid, sdp, tracks) {
    const s = session(sid);
    tracks.forEach(function (t) { s.names.set(t.mid, t.trackName); });
    await s.pc.setRemoteDescription({ type: 'offer', sdp: sdp });
    const results = tracks.map(function (t) {
      const tr = s.pc.getTransceivers().find(function (x) { return x.mid === t.mid; });
      if (!tr) return { mid: t.mid, trackName: t.trackName, error: 'the offer has no m-section with mid ' + t.mid };
      s.published.set(t.trackName, tr.receiver.track);
      playOut(s, t.mid, tr.receiver.track);
      return { mid: t.mid, trackName: t.trackName };
    });
    await s.pc.setLocalDescription(await s.pc.createAnswer());
    await gathered(s.pc);
    return { sdp: s.pc.localDescription.sdp, results: results };
  },
  pull: async function (sid, wanted) {
    const s = session(sid);
    const added = wanted.map(function (w) {
      const from = sessions.get(w.sessionId);
      const track = from && from.published.get(w.trackName);
      if (!track || track.readyState !== 'live') return { w: w, error: 'not_found' };
      return { w: w, tr: s.pc.addTransceiver(track, { direction: 'sendonly', streams: [new MediaStream([track])] }) };
    });
    if (!added.some(function (a) { return a.tr; })) return { sdp: null, results: added.map(function (a) { return Object.assign({}, a.w, { error: a.error }); }) };
    await s.pc.setLocalDescription(await s.pc.createOffer());
    await gathered(s.pc);
    return {
      sdp: s.pc.localDescription.sdp,
      results: added.map(function (a) { return a.tr ? Object.assign({}, a.w, { mid: a.tr.mid }) : Object.assign({}, a.w, { error: a.error }); }),
    };
  },
  renegotiate: async function (sid, sdp) {
    await session(sid).pc.setRemoteDescription({ type: 'answer', sdp: sdp });
  },
  close: async function (sid, mids, offerSdp) {
    const s = session(sid);
    s.names.forEach(function (name, mid) { if (mids.includes(mid)) s.published.delete(name); });
    if (offerSdp) {
      await s.pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
      await s.pc.setLocalDescription(await s.pc.createAnswer());
      return s.pc.localDescription.sdp;
    }
    s.pc.getTransceivers().forEach(function (t) { if (mids.includes(t.mid) && !t.stopped) t.stop(); });
    return null;
  },
  stats: async function () {
    const out = {};
    for (const [sid, s] of sessions) {
      const byId = new Map();
      (await s.pc.getStats()).forEach(function (r) { byId.set(r.id, r); });
      const o = { connectionState: s.pc.connectionState, signalingState: s.pc.signalingState, pair: null, inbound: [], outbound: [] };
      byId.forEach(function (r) {
        if (r.type === 'inbound-rtp') o.inbound.push({ mid: r.mid, kind: r.kind, packetsReceived: r.packetsReceived });
        if (r.type === 'outbound-rtp') o.outbound.push({ mid: r.mid, kind: r.kind, packetsSent: r.packetsSent });
        if (r.type === 'transport' && r.selectedCandidatePairId) {
          const pair = byId.get(r.selectedCandidatePairId);
          const l = pair && byId.get(pair.localCandidateId);
          const rem = pair && byId.get(pair.remoteCandidateId);
          if (pair) o.pair = { local: l && l.address, localPort: l && l.port, remote: rem && rem.address, remotePort: rem && rem.port };
        }
      });
      out[sid] = o;
    }
    return out;
  },
  log: log,
};
`;

const RELAY_HTML = `<!DOCTYPE html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>fake SFU relay</title></head><body><script>${RELAY_JS}</script></body></html>`;

export async function startMediaSfu(browser: Browser, options: { appId?: string; secret?: string } = {}): Promise<MediaSfu> {
  const appId = options.appId ?? `app-${randomBytes(8).toString("hex")}`;
  const secret = options.secret ?? randomBytes(24).toString("base64url");
  const requests: SeenSfuRequest[] = [];
  const violations: string[] = [];
  const sessions = new Map<string, SessionState>();
  let page: Page | undefined;
  // One operation at a time: the relay page's connections are shared state.
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(job: () => Promise<T>): Promise<T> => {
    const run = chain.then(job);
    chain = run.catch(() => undefined);
    return run;
  };
  const relay = <T>(op: string, ...args: unknown[]): Promise<T> =>
    page!.evaluate(([o, a]) => (globalThis as any).relay[o as string](...(a as unknown[])), [op, args] as const) as Promise<T>;

  const refuse = (status: number, code: string, message: string): never => {
    throw new Refusal(status, code, message);
  };
  const session = (sid: string): SessionState => {
    const s = sessions.get(sid);
    if (!s) throw new Refusal(404, "session_not_found", `Session ${sid} not found`, false);
    return s;
  };
  const notAwaiting = (s: SessionState, what: string) => {
    if (s.awaitingAnswer) refuse(400, "renegotiation_pending", `${what} before answering the SFU's offer (PUT renegotiate first)`);
  };

  async function newSession(body: unknown): Promise<[number, Json]> {
    if (body !== undefined && (!isObject(body) || !keysWithin(body, ["sessionDescription"]) || !isSdp(body.sessionDescription, "offer"))) {
      refuse(400, "invalid_request", "sessions/new: the body must be empty or {sessionDescription: offer}");
    }
    const sessionId = randomBytes(16).toString("hex");
    sessions.set(sessionId, { tracks: [], awaitingAnswer: false });
    await relay("newSession", sessionId);
    if (body === undefined) return [201, { sessionId }];
    const answer = await relay<{ sdp: string }>("answerOffer", sessionId, (body as Json).sessionDescription.sdp, []);
    return [201, { sessionId, sessionDescription: { type: "answer", sdp: answer.sdp } }];
  }

  async function newTracks(sid: string, body: unknown): Promise<[number, Json]> {
    const s = session(sid);
    if (!isObject(body) || !keysWithin(body, ["sessionDescription", "tracks"]) || !Array.isArray(body.tracks) || body.tracks.length === 0) {
      refuse(400, "invalid_request", "tracks/new: the body is not {sessionDescription?, tracks: [...]}");
    }
    const b = body as Json;
    notAwaiting(s, "tracks/new");
    const local: FakeTrack[] = [];
    const remote: Json[] = [];
    for (const t of b.tracks as unknown[]) {
      if (!isObject(t) || typeof t.trackName !== "string" || t.trackName === "")
        refuse(400, "invalid_request", `tracks/new: malformed track ${JSON.stringify(t)}`);
      const track = t as Json;
      if (track.location === "local") {
        if (!keysWithin(track, ["location", "mid", "trackName"]) || typeof track.mid !== "string")
          refuse(400, "invalid_request", `tracks/new: local track with other fields ${JSON.stringify(t)}`);
        local.push({ location: "local", mid: track.mid, trackName: track.trackName });
      } else if (track.location === "remote") {
        if (!keysWithin(track, ["location", "sessionId", "trackName", "mid", "simulcast"]) || typeof track.sessionId !== "string") {
          refuse(400, "invalid_request", `tracks/new: malformed remote track ${JSON.stringify(t)}`);
        }
        if (track.mid !== undefined)
          refuse(400, "unsupported_by_fake", "tracks/new: reusing a transceiver (remote track with mid) is not supported by this fake");
        remote.push(track);
      } else refuse(400, "invalid_request", `tracks/new: location ${String(track.location)}`);
    }
    if (local.length > 0 && remote.length > 0)
      refuse(400, "unsupported_by_fake", "tracks/new: publishing and pulling in one request is not supported by this fake");
    if (local.length > 0) {
      if (!isSdp(b.sessionDescription, "offer")) refuse(400, "invalid_request", "tracks/new: local tracks without the endpoint's offer");
      if (local.some((t) => s.tracks.some((x) => x.trackName === t.trackName && x.location === "local")))
        refuse(400, "invalid_request", "tracks/new: trackName already published in this session");
      const answer = await relay<{ sdp: string; results: { mid: string; trackName: string; error?: string }[] }>(
        "answerOffer",
        sid,
        b.sessionDescription.sdp,
        local,
      );
      const tracks = answer.results.map((r) => {
        if (r.error) return { location: "local", mid: r.mid, trackName: r.trackName, errorCode: "invalid_mid", errorDescription: r.error };
        s.tracks.push({ location: "local", mid: r.mid, trackName: r.trackName });
        return { location: "local", mid: r.mid, trackName: r.trackName };
      });
      return [200, { requiresImmediateRenegotiation: false, sessionDescription: { type: "answer", sdp: answer.sdp }, tracks }];
    }
    if (b.sessionDescription !== undefined)
      refuse(400, "unsupported_by_fake", "tracks/new: pulling with an endpoint offer is not supported by this fake");
    const pulled = await relay<{ sdp: string | null; results: { sessionId: string; trackName: string; mid?: string; error?: string }[] }>(
      "pull",
      sid,
      remote.map((t) => ({ sessionId: t.sessionId, trackName: t.trackName })),
    );
    const tracks = pulled.results.map((r) => {
      const published = sessions.get(r.sessionId)?.tracks.some((t) => t.location === "local" && t.trackName === r.trackName);
      if (r.error || !r.mid || !published)
        return {
          location: "remote",
          sessionId: r.sessionId,
          trackName: r.trackName,
          errorCode: "not_found",
          errorDescription: "Track not found",
        };
      s.tracks.push({ location: "remote", mid: r.mid, trackName: r.trackName, sessionId: r.sessionId });
      return { location: "remote", sessionId: r.sessionId, trackName: r.trackName, mid: r.mid };
    });
    if (pulled.sdp === null) return [200, { requiresImmediateRenegotiation: false, tracks }];
    s.awaitingAnswer = true;
    return [200, { requiresImmediateRenegotiation: true, sessionDescription: { type: "offer", sdp: pulled.sdp }, tracks }];
  }

  async function renegotiate(sid: string, body: unknown): Promise<[number, Json]> {
    const s = session(sid);
    if (!isObject(body) || !keysWithin(body, ["sessionDescription"]) || !isSdp(body.sessionDescription, "answer"))
      refuse(400, "invalid_request", "renegotiate: the body is not {sessionDescription: answer}");
    if (!s.awaitingAnswer) refuse(400, "invalid_request", "renegotiate: the SFU has no offer waiting for an answer");
    await relay("renegotiate", sid, (body as Json).sessionDescription.sdp);
    s.awaitingAnswer = false;
    return [200, {}];
  }

  async function closeTracks(sid: string, body: unknown): Promise<[number, Json]> {
    const s = session(sid);
    if (
      !isObject(body) ||
      !keysWithin(body, ["tracks", "force", "sessionDescription"]) ||
      !Array.isArray(body.tracks) ||
      body.tracks.length === 0 ||
      typeof body.force !== "boolean"
    ) {
      refuse(400, "invalid_request", "tracks/close: the body is not {tracks: [{mid}], force, sessionDescription?}");
    }
    const b = body as Json;
    notAwaiting(s, "tracks/close");
    for (const t of b.tracks as unknown[])
      if (!isObject(t) || !keysWithin(t, ["mid"]) || typeof t.mid !== "string")
        refuse(400, "invalid_request", `tracks/close: malformed ${JSON.stringify(t)}`);
    if (!b.force && !isSdp(b.sessionDescription, "offer"))
      refuse(400, "invalid_request", "tracks/close: force false without the endpoint's offer");
    if (b.force && b.sessionDescription !== undefined)
      refuse(400, "invalid_request", "tracks/close: force true with a session description");
    const mids = (b.tracks as { mid: string }[]).map((t) => t.mid);
    const known = mids.filter((mid) => s.tracks.some((t) => t.mid === mid));
    const sdp = await relay<string | null>("close", sid, known, b.force ? null : b.sessionDescription.sdp);
    s.tracks = s.tracks.filter((t) => !known.includes(t.mid));
    const tracks = mids.map((mid) => (known.includes(mid) ? { mid } : { mid, errorCode: "not_found", errorDescription: "No such mid" }));
    return [200, { requiresImmediateRenegotiation: false, ...(sdp ? { sessionDescription: { type: "answer", sdp } } : {}), tracks }];
  }

  async function route(method: string, path: string, body: unknown): Promise<[number, Json]> {
    const [pathname] = path.split("?");
    if (pathname === "/sessions/new") {
      if (method !== "POST") refuse(405, "invalid_request", `sessions/new with ${method}`);
      return newSession(body);
    }
    const m = /^\/sessions\/([^/]+)(\/tracks\/new|\/renegotiate|\/tracks\/close)?$/.exec(pathname!);
    if (!m) return refuse(404, "invalid_request", `unknown path ${path}`);
    const sid = decodeURIComponent(m[1]!);
    const expected: Record<string, string> = { "/tracks/new": "POST", "/renegotiate": "PUT", "/tracks/close": "PUT", "": "GET" };
    if (method !== expected[m[2] ?? ""]) refuse(405, "invalid_request", `${m[2] ?? "session state"} with ${method}`);
    switch (m[2]) {
      case "/tracks/new":
        return newTracks(sid, body);
      case "/renegotiate":
        return renegotiate(sid, body);
      case "/tracks/close":
        return closeTracks(sid, body);
      default:
        if (body !== undefined) refuse(400, "invalid_request", "GET session with a body");
        return [200, { tracks: session(sid).tracks.map((t) => ({ ...t, status: "active" })), dataChannels: [] }];
    }
  }

  function summary(body: unknown): string {
    if (!isObject(body)) return "";
    const parts: string[] = [];
    if (isObject(body.sessionDescription)) parts.push(`sdp:${body.sessionDescription.type}`);
    if (Array.isArray(body.tracks))
      parts.push(...body.tracks.map((t: Json) => (t.location ? `${t.location}:${t.trackName}` : `mid:${t.mid}`)));
    if (typeof body.force === "boolean") parts.push(`force:${body.force}`);
    return parts.join(" ");
  }

  async function handle(req: IncomingMessage, res: ServerResponse, text: string): Promise<void> {
    const send = (status: number, payload: Json, path: string, body: unknown) => {
      requests.push({ method: req.method ?? "", path, status, summary: summary(body) });
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(payload));
    };
    const url = req.url ?? "/";
    if (req.method === "GET" && url === "/relay") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(RELAY_HTML);
      return;
    }
    const prefix = `/v1/apps/${appId}`;
    let body: unknown;
    try {
      if (!url.startsWith(`${prefix}/`)) throw new Refusal(404, "app_not_found", `unexpected URL ${url} (expected ${prefix}/…)`);
      const path = url.slice(prefix.length);
      if (req.headers.authorization !== `Bearer ${secret}`)
        throw new Refusal(401, "unauthorized", `${path}: Authorization is not "Bearer <app secret>"`);
      try {
        body = text === "" ? undefined : JSON.parse(text);
      } catch {
        throw new Refusal(400, "invalid_json", `${path}: the body is not JSON`);
      }
      if (body !== undefined && !req.headers["content-type"]?.startsWith("application/json"))
        throw new Refusal(400, "invalid_request", `${path}: a JSON body without Content-Type: application/json`);
      const [status, payload] = await serial(async () => {
        try {
          return await route(req.method ?? "", path, body);
        } catch (err) {
          if (err instanceof Refusal) throw err;
          // The relay page could not apply an SDP: the client's description broke the negotiation.
          throw new Refusal(400, "invalid_sdp", `${req.method} ${path}: ${String((err as Error).message ?? err).split("\n")[0]}`);
        }
      });
      send(status, payload, path, body);
    } catch (err) {
      const refusal = err instanceof Refusal ? err : new Refusal(500, "internal", String(err));
      if (refusal.violation) violations.push(refusal.message);
      send(refusal.status, { errorCode: refusal.errorCode, errorDescription: refusal.message }, url.slice(prefix.length), body);
    }
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => void handle(req, res, Buffer.concat(chunks).toString("utf8")));
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;

  const context = await browser.newContext();
  page = await context.newPage();
  page.on("pageerror", (err) => violations.push(`relay page error: ${String(err)}`));
  await page.goto(`${origin}/relay`);

  return {
    apiBaseUrl: `${origin}/v1`,
    appId,
    secret,
    requests,
    violations,
    sessions: () => Object.fromEntries([...sessions].map(([sid, s]) => [sid, { tracks: s.tracks.map((t) => ({ ...t })) }])),
    relayStats: () => relay("stats"),
    relayLog: () => page!.evaluate(() => (globalThis as any).relay.log.slice()),
    close: async () => {
      await context.close().catch(() => undefined);
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}
