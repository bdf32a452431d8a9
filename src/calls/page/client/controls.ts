/** Mute and camera: the local tracks, what the server is told, and the buttons. */
import { send, session, state } from "./call-state";
import { renderControls } from "./roster-view";

export function applyMute(muted: boolean): void {
  state.muted = muted;
  session.localStream?.getAudioTracks().forEach((t) => (t.enabled = !muted));
  renderControls();
}

export function toggleMute(): void {
  applyMute(!state.muted);
  send({ type: "mute", muted: state.muted });
}

export function toggleCamera(): void {
  const tracks = session.localStream ? session.localStream.getVideoTracks() : [];
  if (tracks.length === 0) return;
  state.videoOn = !state.videoOn;
  tracks.forEach((t) => (t.enabled = state.videoOn));
  send({ type: "video", enabled: state.videoOn });
  renderControls();
}

/** The server is the truth for "muted" (PATCH …/participants can mute us); video follows our camera. */
export function syncOwnState(): void {
  const mine = state.me === null ? undefined : state.participants.get(state.me);
  if (!mine) return;
  if (mine.is_muted !== state.muted) applyMute(mine.is_muted);
  if (mine.is_video_enabled !== state.videoOn) send({ type: "video", enabled: state.videoOn });
  renderControls();
}
