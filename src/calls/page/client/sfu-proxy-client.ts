/**
 * The Worker's SFU proxy (`/api/v2/calls/{id}/sfu/sessions…`), called with the join token as
 * Bearer. It passes the Realtime SFU Connection API's JSON through; a refusal is a problem whose
 * `detail` (or `title`) becomes the error's message.
 */
import { session } from "./call-state";
import type { Negotiation } from "./media-types";

/** One track in the SFU's answer. */
export interface SfuTrackAnswer {
  mid?: string;
  sessionId?: string;
  trackName?: string;
  errorCode?: string;
  errorDescription?: string;
}

export interface SfuAnswer {
  sessionId?: string;
  sessionDescription?: RTCSessionDescriptionInit;
  requiresImmediateRenegotiation?: boolean;
  tracks?: SfuTrackAnswer[];
  detail?: string;
  title?: string;
}

/** One call to the proxy as the tests see it (the session id in the path is masked). */
export class ProxyError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** `api(method, path, body)`: path is relative to …/sfu/sessions; every call is recorded in `log`. */
export function sfuProxyClient(callId: string, log: Negotiation[]) {
  const base = `/api/v2/calls/${callId}/sfu/sessions`;
  return async function api(method: "POST" | "PUT", path: string, body: unknown): Promise<SfuAnswer | null> {
    const res = await fetch(base + path, {
      method,
      headers: { Authorization: `Bearer ${session.token}`, "Content-Type": "application/json" },
      body: JSON.stringify(body),
      cache: "no-store",
    });
    const text = await res.text();
    let json: SfuAnswer | null = null;
    try {
      json = text ? (JSON.parse(text) as SfuAnswer) : null;
    } catch {
      /* not JSON */
    }
    log.push({ method, path: path.replace(/^\/[^/]+/, "/{session}"), status: res.status });
    if (!res.ok) throw new ProxyError((json && (json.detail || json.title)) || `HTTP ${res.status}`, res.status);
    return json;
  };
}
