/**
 * Signalling over hibernatable WebSockets. Each socket is tagged with its participant id and
 * carries `{participantId}` as its attachment; everything else (roster, status) is read from
 * SQLite, so nothing is lost when the object hibernates between frames. One socket per
 * participant: a new connection replaces the old one (closed with 4000 "replaced").
 */
import { ClientMessage, MAX_FRAME_CHARS, type SignalErrorCode } from "../../src/calls/messages";
import type { CallParticipant, MediaStream } from "../../src/calls/model";
import { listParticipants, readCallRow, readParticipant, markLeft, updateParticipant } from "./store";

export interface Attachment {
  participantId: string;
}

const MAX_STREAMS = 16;

export interface SignallingHooks {
  /** A participant turned live transcription of their voice off (true) or on (false). */
  transcriptionMuted?(participantId: string, muted: boolean): void;
  /** Extra fields of the `roster` frame a newcomer gets (e.g. whether the call transcribes audio). */
  rosterExtras?(participantId: string): Record<string, unknown>;
}

export class Signalling {
  readonly #ctx: DurableObjectState;
  readonly #hooks: SignallingHooks;

  constructor(ctx: DurableObjectState, hooks: SignallingHooks = {}) {
    this.#ctx = ctx;
    this.#hooks = hooks;
  }

  /** The open sockets, optionally of one participant. */
  sockets(participantId?: string): WebSocket[] {
    return this.#ctx.getWebSockets(participantId).filter((ws) => ws.readyState === WebSocket.OPEN);
  }

  isConnected(participantId: string): boolean {
    return this.sockets(participantId).length > 0;
  }

  send(ws: WebSocket, frame: Record<string, unknown>): void {
    this.sendText(ws, JSON.stringify(frame));
  }

  sendText(ws: WebSocket, text: string): void {
    try {
      ws.send(text);
    } catch {
      // The peer went away between the check and the send; its close event cleans up.
    }
  }

  broadcast(frame: Record<string, unknown>, except?: string): void {
    for (const ws of this.sockets()) {
      if (except !== undefined && participantOf(ws) === except) continue;
      this.send(ws, frame);
    }
  }

  roster(): (CallParticipant & { connected: boolean })[] {
    return listParticipants(this.#ctx.storage.sql).map((p) => ({ ...p, connected: this.isConnected(p.participant_id) }));
  }

  /** Accepts an upgrade for a participant already checked by the caller. */
  accept(participantId: string): Response {
    for (const old of this.sockets(participantId)) close(old, 4000, "replaced by a new connection");
    const pair = new WebSocketPair();
    const server = pair[1];
    this.#ctx.acceptWebSocket(server, [participantId]);
    server.serializeAttachment({ participantId } satisfies Attachment);
    const row = readCallRow(this.#ctx.storage.sql)!;
    this.send(server, {
      type: "roster",
      call_id: row.call_id,
      status: row.status,
      participants: this.roster(),
      ...this.#hooks.rosterExtras?.(participantId),
    });
    const me = readParticipant(this.#ctx.storage.sql, participantId)!;
    this.broadcast({ type: "joined", participant: { ...me, connected: true } }, participantId);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  error(ws: WebSocket, code: SignalErrorCode, message: string, ref?: string): void {
    this.send(ws, { type: "error", code, message, ...(ref ? { ref } : {}) });
  }

  /** Marks the participant as gone, closes its socket and tells the others. */
  leave(participantId: string, reason: "left" | "removed", nowMs: number): void {
    markLeft(this.#ctx.storage.sql, participantId, nowMs);
    for (const ws of this.sockets(participantId)) close(ws, 1000, reason === "left" ? "left the call" : "removed from the call");
    this.broadcast({ type: "left", participant_id: participantId, reason });
  }

  participantUpdated(participant: CallParticipant): void {
    this.broadcast({
      type: "participant_updated",
      participant: { ...participant, connected: this.isConnected(participant.participant_id) },
    });
  }

  message(ws: WebSocket, data: string | ArrayBuffer, nowMs: number): void {
    const self = participantOf(ws);
    if (self === undefined) return close(ws, 1011, "socket without a participant");
    if (typeof data !== "string") return this.error(ws, "invalid_message", "Frames are JSON text; binary frames are not accepted.");
    if (data.length > MAX_FRAME_CHARS) return this.error(ws, "too_large", `Frames are at most ${MAX_FRAME_CHARS} characters.`);
    let raw: unknown;
    try {
      raw = JSON.parse(data);
    } catch {
      return this.error(ws, "invalid_json", "The frame is not valid JSON.");
    }
    const claimed = typeof raw === "object" && raw !== null ? (raw as Record<string, unknown>).from : undefined;
    const type = typeof raw === "object" && raw !== null ? String((raw as Record<string, unknown>).type) : undefined;
    if (claimed !== undefined && claimed !== self)
      return this.error(ws, "impersonation", `You are ${self}; you cannot send as another participant.`, type);
    const parsed = ClientMessage.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return this.error(ws, "invalid_message", `${issue?.path.join(".") || "(root)"}: ${issue?.message}`, type);
    }
    const msg = parsed.data;
    if (msg.type === "offer" || msg.type === "answer" || msg.type === "ice") {
      // The hot path reads no storage: a socket stays open only while its participant is in the
      // call (leaving, removal and the end of the call close it), and only such sockets are peers.
      const peers = msg.to === self ? [] : this.sockets(msg.to);
      if (peers.length === 0) return this.error(ws, "peer_unavailable", `Participant '${msg.to}' is not connected to this call.`, msg.type);
      const frame = JSON.stringify({ ...msg, from: self });
      for (const peer of peers) this.sendText(peer, frame);
      return;
    }
    const sql = this.#ctx.storage.sql;
    const me = readParticipant(sql, self);
    if (!me || me.left_at !== null) {
      this.error(ws, "not_in_call", "You are no longer in this call.");
      return close(ws, 1000, "not in the call");
    }
    if ((msg.type === "track_published" || msg.type === "track_closed") && me.sfu_session_id !== null) {
      // In SFU mode the proxy records tracks from what the SFU accepted; a frame must not contradict it.
      return this.error(
        ws,
        "invalid_message",
        "This participant uses the SFU: its tracks are recorded by the SFU routes, not by frames.",
        msg.type,
      );
    }
    switch (msg.type) {
      case "mute":
        updateParticipant(sql, self, { is_muted: msg.muted });
        return this.participantUpdated(readParticipant(sql, self)!);
      case "video":
        updateParticipant(sql, self, { is_video_enabled: msg.enabled });
        return this.participantUpdated(readParticipant(sql, self)!);
      case "track_published": {
        const streams: MediaStream[] = [...me.media_streams.filter((s) => s.stream_id !== msg.stream.stream_id), msg.stream];
        if (streams.length > MAX_STREAMS)
          return this.error(ws, "invalid_message", `At most ${MAX_STREAMS} streams per participant.`, msg.type);
        updateParticipant(sql, self, { media_streams: streams });
        return this.participantUpdated(readParticipant(sql, self)!);
      }
      case "track_closed":
        updateParticipant(sql, self, { media_streams: me.media_streams.filter((s) => s.stream_id !== msg.stream_id) });
        return this.participantUpdated(readParticipant(sql, self)!);
      case "transcription":
        updateParticipant(sql, self, { transcription_muted: msg.muted });
        this.#hooks.transcriptionMuted?.(self, msg.muted);
        return this.participantUpdated(readParticipant(sql, self)!);
      case "leave":
        return this.leave(self, "left", nowMs);
    }
  }

  /** A socket closed by its peer: echo a legal code, and tell the others it dropped. */
  closed(ws: WebSocket, code: number, reason: string): void {
    // 1005 (no status) and 1006 (abnormal) must never be sent back; see the platform notes.
    close(ws, code === 1000 || (code >= 3000 && code <= 4999) ? code : 1000, reason);
    const self = participantOf(ws);
    if (self === undefined || this.isConnected(self)) return;
    const me = readParticipant(this.#ctx.storage.sql, self);
    if (me && me.left_at === null) this.broadcast({ type: "left", participant_id: self, reason: "disconnected" });
  }

  closeAll(code: number, reason: string): void {
    for (const ws of this.sockets()) close(ws, code, reason);
  }
}

export function participantOf(ws: WebSocket): string | undefined {
  const a = ws.deserializeAttachment() as Attachment | null;
  return a?.participantId;
}

function close(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code, reason);
  } catch {
    // Already closing or closed.
  }
}
