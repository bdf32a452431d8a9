/** Call helpers over the real Worker: create a call, add participants, open signalling sockets. */
import { exports } from "cloudflare:workers";
import { call, json } from "./api";
import type { CallParticipant, CallSession } from "../../src/calls/model";

export type Frame = { type: string } & Record<string, unknown>;

export async function createCall(body: Record<string, unknown> = {}): Promise<CallSession> {
  const res = await call("/api/v2/calls", { body: { agent_id: "agent-calls", ...body } });
  if (res.status !== 201) throw new Error(`create call: expected 201, got ${res.status}: ${await res.text()}`);
  return json<CallSession>(res);
}

export async function addParticipant(callId: string, displayName: string, extra: Record<string, unknown> = {}) {
  const res = await call(`/api/v2/calls/${callId}/participants`, {
    body: { user_id: `user-${displayName}`, display_name: displayName, ...extra },
  });
  if (res.status !== 201) throw new Error(`add participant: expected 201, got ${res.status}: ${await res.text()}`);
  return json<{ participant: CallParticipant; join_token: string; join_token_expires_at: string; join_url: string; ws_url: string }>(res);
}

/** Opens the signalling socket; returns the Worker's response (status != 101 means refused). */
export function upgrade(
  callId: string,
  token: string | null,
  headers: Record<string, string> = { Upgrade: "websocket" },
): Promise<Response> {
  const query = token === null ? "" : `?token=${encodeURIComponent(token)}`;
  return exports.default.fetch(`http://local.test/api/v2/calls/${callId}/ws${query}`, { headers });
}

/** A signalling client: frames arrive in an inbox, read in order with `next()`. */
export class Peer {
  readonly inbox: Frame[] = [];
  closed: { code: number; reason: string } | null = null;
  #wake: (() => void) | null = null;

  constructor(readonly ws: WebSocket) {
    ws.accept();
    ws.addEventListener("message", (e) => {
      this.inbox.push(JSON.parse(String(e.data)) as Frame);
      this.#wake?.();
    });
    ws.addEventListener("close", (e) => {
      this.closed = { code: e.code, reason: e.reason };
      this.#wake?.();
    });
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** The next frame (of `type`, skipping others when given); fails after `timeout` ms. */
  async next(type?: string, timeout = 10_000): Promise<Frame> {
    const deadline = Date.now() + timeout;
    for (;;) {
      const i = type === undefined ? (this.inbox.length ? 0 : -1) : this.inbox.findIndex((f) => f.type === type);
      if (i >= 0) return this.inbox.splice(i, 1)[0]!;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${type ?? "frame"} within ${timeout} ms; inbox: ${JSON.stringify(this.inbox)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => (clearTimeout(timer), resolve());
      });
    }
  }

  /** Resolves when the server closed the socket. */
  async waitClosed(timeout = 10_000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + timeout;
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    if (!this.closed) throw new Error("socket not closed");
    return this.closed;
  }
}

export async function join(callId: string, token: string): Promise<Peer> {
  const res = await upgrade(callId, token);
  if (res.status !== 101 || !res.webSocket) throw new Error(`upgrade: expected 101, got ${res.status}: ${await res.text()}`);
  return new Peer(res.webSocket);
}
