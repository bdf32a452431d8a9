/** The participants list and the mute/camera buttons, redrawn from the call state. */
import { byId, el } from "./dom";
import { session, state } from "./call-state";
import { renameTiles } from "./media-tiles";

export function renderControls(): void {
  const mute = byId("mute", HTMLButtonElement);
  mute.textContent = state.muted ? "Unmute" : "Mute";
  mute.setAttribute("aria-pressed", String(state.muted));
  const cam = byId("camera", HTMLButtonElement);
  const stream = session.localStream;
  const hasVideo = !!stream && stream.getVideoTracks().length > 0;
  cam.disabled = !hasVideo;
  cam.textContent = !hasVideo ? "No camera" : state.videoOn ? "Camera off" : "Camera on";
  cam.setAttribute("aria-pressed", String(hasVideo && !state.videoOn));
}

/** Everyone still in the call, with tags (you, agent, mic, video, not connected). */
export function renderParticipants(): void {
  const items: HTMLLIElement[] = [];
  state.participants.forEach((p) => {
    if (p.left_at) return;
    const li = el("li");
    li.dataset.participantId = p.participant_id;
    li.append(el("span", "name", p.display_name));
    if (p.participant_id === state.me) li.append(el("span", "tag", "you"));
    if (p.is_agent) {
      // The agent speaks through the server (agent_speech), not over its own media connection.
      li.append(el("span", "tag", "agent"));
    } else {
      li.append(el("span", "tag", p.is_muted ? "muted" : "mic on"));
      li.append(el("span", "tag", p.is_video_enabled ? "video on" : "video off"));
      if (!p.connected) {
        li.classList.add("off");
        li.append(el("span", "tag", "not connected"));
      }
    }
    items.push(li);
  });
  byId("participants", HTMLElement).replaceChildren(...items);
  renameTiles();
}
