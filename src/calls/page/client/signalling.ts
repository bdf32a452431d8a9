/**
 * The call's socket (`…/ws?token=`): frames handled strictly in order, a ping that keeps it
 * open, and what a close means (replaced, left, removed, call over, or a drop worth reconnecting).
 */
import { callId, event, fail, mediaMode, session, state } from "./call-state";
import { byId, setStatus } from "./dom";
import { handle } from "./frames";
import type { ServerFrame } from "./protocol";
import { renderParticipants } from "./roster-view";
import { createTransport } from "./transport";

const PING_MS = 25000;
/** Waits before each reconnection attempt after a dropped socket; then the user decides. */
const RETRY_MS = [500, 1000, 2000, 4000, 8000, 15000];

let pingTimer: ReturnType<typeof setInterval> | undefined;
/** Frames are handled one after the other: negotiation depends on their order. */
let inbox: Promise<void> = Promise.resolve();

/** Opens the socket with a fresh transport (a reconnection starts the media over too). */
export function connect(): void {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  if (state.phase !== "reconnecting") setStatus("Connecting...");
  if (session.transport) session.transport.close();
  session.transport = createTransport(mediaMode, session.iceServers);
  const socket = new WebSocket(`${proto}//${location.host}/api/v2/calls/${callId}/ws?token=${encodeURIComponent(session.token)}`);
  session.ws = socket;
  socket.onopen = () => {
    event("ws_open");
    clearInterval(pingTimer);
    pingTimer = setInterval(() => {
      if (socket.readyState === WebSocket.OPEN) socket.send("ping");
    }, PING_MS);
  };
  socket.onmessage = (ev: MessageEvent<string>) => {
    if (ev.data === "pong") return;
    let msg: ServerFrame;
    try {
      msg = JSON.parse(ev.data) as ServerFrame;
    } catch {
      return fail(new Error("The server sent a frame that is not JSON."));
    }
    inbox = inbox.then(() => handle(msg)).catch(fail);
  };
  socket.onclose = (ev) => {
    if (session.ws !== socket) return;
    clearInterval(pingTimer);
    event("ws_close", { code: ev.code, reason: ev.reason });
    if (session.transport) {
      session.transport.close();
      session.transport = null;
    }
    byId("controls", HTMLElement).hidden = true;
    const delay = RETRY_MS[session.retries];
    if (ev.code === 4000) {
      state.phase = "replaced";
      setStatus("You joined from another tab; this one is disconnected.");
    } else if (ev.reason === "left the call") {
      state.phase = "left";
      setStatus("You left the call.");
    } else if (ev.reason === "removed from the call") {
      state.phase = "left";
      setStatus("You were removed from the call.");
    } else if (/^call (ended|failed)$/.test(ev.reason)) {
      state.phase = "ended";
      setStatus(`The call has ${ev.reason.slice(5)}.`);
    } else if ((state.phase === "joined" || state.phase === "reconnecting") && delay !== undefined) {
      // A dropped socket (network, or the Worker was redeployed): the call's object still has us.
      state.phase = "reconnecting";
      session.retries++;
      setStatus(`Connection lost (${ev.code}); reconnecting in ${delay / 1000} s...`);
      setTimeout(() => {
        if (state.phase === "reconnecting") connect();
      }, delay);
    } else {
      state.phase = "disconnected";
      setStatus(
        state.callStatus
          ? `Disconnected (${ev.code}). Press Join to reconnect.`
          : "The server refused the connection (the call may have ended, or you left it).",
      );
      byId("join-panel", HTMLElement).hidden = false;
      byId("join", HTMLButtonElement).disabled = false;
    }
    renderParticipants();
  };
}
