/**
 * A small typed client for the Cloudflare Realtime SFU "Connection API" and TURN credentials.
 *
 * Every call sends `Authorization: Bearer <appSecret>` to `{baseUrl}/apps/{appId}/…`:
 * - `POST sessions/new` → 201 `{sessionId, sessionDescription?}`
 * - `POST sessions/{sid}/tracks/new` `{sessionDescription?, tracks:[local|remote]}` →
 *   `{requiresImmediateRenegotiation, sessionDescription?, tracks:[{…, errorCode?, errorDescription?}]}`
 * - `PUT sessions/{sid}/renegotiate` `{sessionDescription:{type:"answer",sdp}}` → `{}`
 * - `PUT sessions/{sid}/tracks/close` `{tracks:[{mid}], force, sessionDescription?}` → `{tracks, sessionDescription?}`
 * - `GET sessions/{sid}` → `{tracks:[{location, mid, trackName, sessionId?, status}], dataChannels?}`
 * - `POST adapters/websocket/new` `{tracks:[{location:"remote", sessionId, trackName, endpoint, outputCodec:"pcm"}]}`
 *   (1–4 tracks) → `{tracks:[{adapterId, sessionId, trackName, endpoint, errorCode?, errorDescription?}]}`: the SFU
 *   then dials `endpoint` and streams the track as protobuf packets of 48 kHz stereo PCM (WebSocket adapter, beta)
 * - `POST adapters/websocket/close` `{tracks:[{adapterId}]}` → `{tracks:[{adapterId, errorCode?}]}` (idempotent)
 *
 * Errors come back as `{errorCode, errorDescription}` (with a non-2xx status, or at the top level of
 * a 2xx answer). Every answer is checked with zod: a body that is not the documented shape is an
 * {@link SfuError} too, never passed on half-read.
 * @see https://developers.cloudflare.com/realtime/sfu/https-api/
 * @see https://developers.cloudflare.com/realtime/sfu/media-transport-adapters/websocket-adapter/
 * @see https://developers.cloudflare.com/realtime/turn/generate-credentials/
 */
import { z } from "zod";

export const SFU_DEFAULT_BASE_URL = "https://rtc.live.cloudflare.com/v1";
export const SFU_DEFAULT_TIMEOUT_MS = 10_000;
/** Used when no TURN key is configured. */
export const STUN_ONLY: IceServer[] = [{ urls: ["stun:stun.cloudflare.com:3478"] }];

/**
 * A failed SFU or TURN call. `status` is the upstream HTTP status, or 0 when no answer came
 * (network failure, timeout). `code` is the SFU's `errorCode` when it sent one, else one of ours:
 * `invalid_response` (2xx with a body that is not the documented shape), `network`, `timeout`.
 * `transient`: worth another try (429, 5xx, no answer).
 */
export class SfuError extends Error {
  readonly status: number;
  readonly code?: string;
  readonly transient: boolean;
  constructor(message: string, options: { status: number; code?: string; transient: boolean; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.name = "SfuError";
    this.status = options.status;
    this.code = options.code;
    this.transient = options.transient;
  }
}

// ---- shapes ---------------------------------------------------------------------------------

export const sessionDescriptionSchema = z.object({ type: z.enum(["offer", "answer"]), sdp: z.string() });
export type SessionDescription = z.infer<typeof sessionDescriptionSchema>;

/** Publish one of the caller's own transceivers. */
export interface LocalTrackRequest {
  location: "local";
  mid: string;
  trackName: string;
}
/** Pull a track another session published. */
export interface RemoteTrackRequest {
  location: "remote";
  sessionId: string;
  trackName: string;
  mid?: string;
  simulcast?: { preferredRid?: string; priorityOrdering?: string; ridNotAvailable?: string };
}
export type TrackRequest = LocalTrackRequest | RemoteTrackRequest;

const errorFields = { errorCode: z.string().optional(), errorDescription: z.string().optional() };

export const trackResultSchema = z.looseObject({
  location: z.enum(["local", "remote"]).optional(),
  mid: z.string().optional(),
  trackName: z.string().optional(),
  sessionId: z.string().optional(),
  ...errorFields,
});
export type TrackResult = z.infer<typeof trackResultSchema>;

export const newSessionResponseSchema = z.looseObject({
  sessionId: z.string().min(1),
  sessionDescription: sessionDescriptionSchema.optional(),
});
export type NewSessionResponse = z.infer<typeof newSessionResponseSchema>;

export const tracksResponseSchema = z.looseObject({
  requiresImmediateRenegotiation: z.boolean().default(false),
  sessionDescription: sessionDescriptionSchema.optional(),
  tracks: z.array(trackResultSchema).default([]),
});
export type TracksResponse = z.infer<typeof tracksResponseSchema>;

export const renegotiateResponseSchema = z.looseObject({});

export const closeTracksResponseSchema = z.looseObject({
  requiresImmediateRenegotiation: z.boolean().default(false),
  sessionDescription: sessionDescriptionSchema.optional(),
  tracks: z.array(trackResultSchema).default([]),
});
export type CloseTracksResponse = z.infer<typeof closeTracksResponseSchema>;

export const sessionStateSchema = z.looseObject({
  tracks: z
    .array(
      z.looseObject({
        location: z.enum(["local", "remote"]).optional(),
        mid: z.string().optional(),
        trackName: z.string().optional(),
        sessionId: z.string().optional(),
        status: z.enum(["active", "inactive", "waiting"]).or(z.string()).optional(),
      }),
    )
    .default([]),
  dataChannels: z.array(z.looseObject({})).default([]),
});
export type SessionState = z.infer<typeof sessionStateSchema>;

/** Stream a published track to a WebSocket endpoint the SFU dials (`outputCodec: "pcm"`: 48 kHz stereo s16le). */
export interface WebSocketAdapterRequest {
  location: "remote";
  /** The publisher's session and track name. */
  sessionId: string;
  trackName: string;
  /** `wss://…` (or `ws://` locally): the SFU cannot send headers, so any credential goes in the URL. */
  endpoint: string;
  outputCodec: "pcm";
}

/** At most this many tracks per adapter request (the SFU's limit). */
export const MAX_ADAPTER_TRACKS = 4;

export const adapterResultSchema = z.looseObject({
  adapterId: z.string().optional(),
  sessionId: z.string().optional(),
  trackName: z.string().optional(),
  endpoint: z.string().optional(),
  ...errorFields,
});
export const adaptersResponseSchema = z.looseObject({ tracks: z.array(adapterResultSchema).default([]) });
export type AdaptersResponse = z.infer<typeof adaptersResponseSchema>;

export interface IceServer {
  urls: string[] | string;
  username?: string;
  credential?: string;
}
const iceServersResponseSchema = z.object({
  iceServers: z
    .array(
      z.object({
        urls: z.union([z.string(), z.array(z.string()).min(1)]),
        username: z.string().optional(),
        credential: z.string().optional(),
      }),
    )
    .min(1),
});

// ---- transport ------------------------------------------------------------------------------

interface CallOptions {
  fetch?: typeof fetch;
  timeoutMs?: number;
}

const sfuErrorBody = z.looseObject(errorFields);

/** One JSON call: deadline, bearer token, error mapping and zod validation of the answer. */
async function callJson<S extends z.ZodType>(
  what: string,
  url: string,
  init: { method: string; token: string; body?: unknown },
  schema: S,
  options: CallOptions,
): Promise<z.output<S>> {
  const timeoutMs = options.timeoutMs ?? SFU_DEFAULT_TIMEOUT_MS;
  const doFetch = options.fetch ?? globalThis.fetch;
  const headers: Record<string, string> = { Authorization: `Bearer ${init.token}` };
  if (init.body !== undefined) headers["Content-Type"] = "application/json";
  let res: Response;
  try {
    res = await doFetch(url, {
      method: init.method,
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const timedOut = err instanceof Error && err.name === "TimeoutError";
    const message = timedOut ? `no answer within ${timeoutMs} ms` : `request failed: ${err instanceof Error ? err.message : String(err)}`;
    throw new SfuError(`${what}: ${message}`, { status: 0, code: timedOut ? "timeout" : "network", transient: true, cause: err });
  }
  const text = await res.text().catch(() => "");
  let json: unknown;
  try {
    json = text === "" ? {} : JSON.parse(text);
  } catch {
    json = undefined;
  }
  const errorBody = sfuErrorBody.safeParse(json);
  const errorCode = errorBody.success ? errorBody.data.errorCode : undefined;
  const errorDescription = errorBody.success ? errorBody.data.errorDescription : undefined;
  if (!res.ok) {
    const detail = errorDescription ?? errorCode ?? (text.slice(0, 200) || "no error body");
    throw new SfuError(`${what}: HTTP ${res.status}: ${detail}`, {
      status: res.status,
      code: errorCode,
      transient: res.status === 429 || res.status >= 500,
    });
  }
  // A 2xx can still carry a top-level error (the SFU reports some failures that way).
  if (errorCode) {
    throw new SfuError(`${what}: ${errorDescription ?? errorCode}`, { status: res.status, code: errorCode, transient: false });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at ${issue.path.join(".")}` : "";
    throw new SfuError(`${what}: unexpected answer${where}: ${issue?.message ?? "not JSON"}`, {
      status: res.status,
      code: "invalid_response",
      transient: false,
    });
  }
  return parsed.data;
}

// ---- the client -----------------------------------------------------------------------------

export interface SfuClientOptions extends CallOptions {
  appId: string;
  appSecret: string;
  /** Default {@link SFU_DEFAULT_BASE_URL}. */
  baseUrl?: string;
}

export interface NewTracksRequest {
  sessionDescription?: SessionDescription;
  tracks: TrackRequest[];
}

export interface CloseTracksRequest {
  mids: string[];
  /** true: close without renegotiation (no SDP); false: send the endpoint's new offer too. */
  force: boolean;
  sessionDescription?: SessionDescription;
}

export class SfuClient {
  readonly #options: SfuClientOptions;
  readonly #appBase: string;

  constructor(options: SfuClientOptions) {
    this.#options = options;
    const base = (options.baseUrl || SFU_DEFAULT_BASE_URL).replace(/\/+$/, "");
    this.#appBase = `${base}/apps/${encodeURIComponent(options.appId)}`;
  }

  #session(sessionId: string, rest = ""): string {
    return `${this.#appBase}/sessions/${encodeURIComponent(sessionId)}${rest}`;
  }

  #call<S extends z.ZodType>(what: string, method: string, url: string, schema: S, body?: unknown): Promise<z.output<S>> {
    return callJson(what, url, { method, token: this.#options.appSecret, body }, schema, this.#options);
  }

  /** A new SFU session (one RTCPeerConnection); with an offer, the answer comes back too. */
  newSession(sdp?: SessionDescription): Promise<NewSessionResponse> {
    const body = sdp ? { sessionDescription: sdp } : undefined;
    return this.#call("sessions/new", "POST", `${this.#appBase}/sessions/new`, newSessionResponseSchema, body);
  }

  /**
   * Publish local tracks (with the endpoint's offer) or pull remote ones. Per-track failures come
   * back as `tracks[i].errorCode`/`errorDescription` in a 2xx: the caller decides what to do.
   * With `requiresImmediateRenegotiation`, `sessionDescription` is the SFU's offer: answer it with
   * {@link renegotiate}.
   */
  newTracks(sessionId: string, request: NewTracksRequest): Promise<TracksResponse> {
    const body: Record<string, unknown> = { tracks: request.tracks };
    if (request.sessionDescription) body.sessionDescription = request.sessionDescription;
    return this.#call("tracks/new", "POST", this.#session(sessionId, "/tracks/new"), tracksResponseSchema, body);
  }

  /** Send the endpoint's answer to an SFU offer. */
  async renegotiate(sessionId: string, answerSdp: string): Promise<void> {
    const body = { sessionDescription: { type: "answer", sdp: answerSdp } };
    await this.#call("renegotiate", "PUT", this.#session(sessionId, "/renegotiate"), renegotiateResponseSchema, body);
  }

  /** Close transceivers by mid. */
  closeTracks(sessionId: string, request: CloseTracksRequest): Promise<CloseTracksResponse> {
    const body: Record<string, unknown> = { tracks: request.mids.map((mid) => ({ mid })), force: request.force };
    if (request.sessionDescription) body.sessionDescription = request.sessionDescription;
    return this.#call("tracks/close", "PUT", this.#session(sessionId, "/tracks/close"), closeTracksResponseSchema, body);
  }

  /** The session's tracks and data channels as the SFU sees them. */
  getSession(sessionId: string): Promise<SessionState> {
    return this.#call("get session", "GET", this.#session(sessionId), sessionStateSchema);
  }

  /**
   * WebSocket adapters: the SFU streams each track to its `endpoint`. Per-track failures come back
   * as `tracks[i].errorCode` in a 2xx, as for tracks/new.
   */
  newWebSocketAdapters(tracks: WebSocketAdapterRequest[]): Promise<AdaptersResponse> {
    if (tracks.length === 0 || tracks.length > MAX_ADAPTER_TRACKS)
      throw new RangeError(`adapters/websocket/new takes 1 to ${MAX_ADAPTER_TRACKS} tracks; got ${tracks.length}`);
    return this.#call("adapters/websocket/new", "POST", `${this.#appBase}/adapters/websocket/new`, adaptersResponseSchema, { tracks });
  }

  /** Stops adapters (idempotent: an adapter already closed is not an error). */
  closeWebSocketAdapters(adapterIds: string[]): Promise<AdaptersResponse> {
    const body = { tracks: adapterIds.map((adapterId) => ({ adapterId })) };
    return this.#call("adapters/websocket/close", "POST", `${this.#appBase}/adapters/websocket/close`, adaptersResponseSchema, body);
  }
}

// ---- ICE servers ----------------------------------------------------------------------------

export interface IceServersConfig extends CallOptions {
  turnKeyId?: string;
  turnKeyApiToken?: string;
  /** Credential lifetime in seconds, default 86400. */
  ttl?: number;
  baseUrl?: string;
}

/**
 * ICE servers for the browser: short-lived TURN credentials when a TURN key is configured
 * (`POST {base}/turn/keys/{id}/credentials/generate-ice-servers`, body `{ttl}`), else Cloudflare's
 * public STUN server only. A configured key that fails is an {@link SfuError}, not a silent
 * downgrade to STUN.
 */
export async function iceServers(config: IceServersConfig): Promise<IceServer[]> {
  if (!config.turnKeyId || !config.turnKeyApiToken) return STUN_ONLY.map((s) => ({ ...s }));
  const base = (config.baseUrl || SFU_DEFAULT_BASE_URL).replace(/\/+$/, "");
  const url = `${base}/turn/keys/${encodeURIComponent(config.turnKeyId)}/credentials/generate-ice-servers`;
  const body = { ttl: config.ttl ?? 86_400 };
  const answer = await callJson(
    "turn credentials",
    url,
    { method: "POST", token: config.turnKeyApiToken, body },
    iceServersResponseSchema,
    config,
  );
  return answer.iceServers;
}
