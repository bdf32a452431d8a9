/**
 * Joining and leaving. The "Join" click creates or resumes the AudioContext (browsers allow audio
 * from a gesture), checks the join token with `…/ice-servers` (its refusal is shown as is), asks
 * for the microphone (and the camera, optional) and opens the socket.
 */
import { fetchIceServers } from "./api";
import { event, fail, send, session, state } from "./call-state";
import { byId, setStatus } from "./dom";
import { getMedia } from "./local-media";
import { connect } from "./signalling";

/** The participant id in our own join token (the server verifies it; we only read it). */
function tokenSubject(jwt: string): string | null {
  try {
    const part = (jwt.split(".")[1] ?? "").replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(part + "=".repeat((4 - (part.length % 4)) % 4))) as { sub?: unknown };
    return typeof claims.sub === "string" && claims.sub ? claims.sub : null;
  } catch {
    return null;
  }
}

export function onJoinClick(): void {
  // Create or resume the AudioContext inside the click: that is what lets the agent's voice play.
  if (!session.audioCtx) session.audioCtx = new AudioContext();
  session.audioCtx.resume().catch(() => undefined);
  join().catch((err: unknown) => {
    fail(err);
    state.phase = "error";
    setStatus("Could not join.");
    byId("join", HTMLButtonElement).disabled = false;
  });
}

async function join(): Promise<void> {
  session.token = byId("token", HTMLInputElement).value.trim();
  if (!session.token) throw new Error("Paste a join token first (POST /api/v2/calls/{call_id}/participants returns one).");
  state.me = tokenSubject(session.token);
  if (!state.me) throw new Error("This does not look like a join token.");
  byId("join", HTMLButtonElement).disabled = true;
  state.phase = "joining";
  setStatus("Checking the join token...");
  session.iceServers = await fetchIceServers();
  if (!session.localStream) {
    const withVideo = byId("with-video", HTMLInputElement).checked;
    setStatus(`Asking for the microphone${withVideo ? " and camera..." : "..."}`);
    session.localStream = await getMedia(withVideo);
    byId("local-video", HTMLVideoElement).srcObject = session.localStream;
  }
  state.videoOn = session.localStream.getVideoTracks().some((t) => t.enabled);
  session.retries = 0;
  connect();
}

export function leave(): void {
  if (state.phase === "leaving") return;
  state.phase = "leaving";
  setStatus("Leaving...");
  // The SFU transport closes its tracks first: once we have left, the proxy refuses us.
  const closing = session.transport ? session.transport.leave() : Promise.resolve();
  const timeout = new Promise<void>((resolve) =>
    setTimeout(() => {
      event("leave_timeout");
      resolve();
    }, 5000),
  );
  void Promise.race([closing, timeout])
    .catch((err: unknown) => event("leave_cleanup_failed", String(err)))
    .then(() => {
      send({ type: "leave" });
      if (session.transport) {
        session.transport.close();
        session.transport = null;
      }
      session.localStream?.getTracks().forEach((t) => t.stop());
      session.localStream = null;
    });
}
