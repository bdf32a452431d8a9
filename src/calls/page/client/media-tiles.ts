/** The remote participants' tiles in #media: their video, their sound and their name. */
import { byId, el, notice, tileOf } from "./dom";
import { event, nameOf } from "./call-state";

/** Plays a remote track in the participant's tile (made on its first track). */
export function attachRemote(id: string, track: MediaStreamTrack, stream: MediaStream | null | undefined): void {
  let tile = tileOf(id);
  if (!tile) {
    tile = el("figure", "tile");
    tile.dataset.peer = id;
    const video = el("video");
    video.autoplay = true;
    video.playsInline = true;
    video.muted = true; // the sound plays through the audio element
    tile.append(video, el("audio"), el("figcaption", null, nameOf(id)));
    byId("media", HTMLElement).append(tile);
  }
  if (track.kind === "audio") {
    // Chromium only plays out (and meters) a remote track attached to a playing element.
    const audio = tile.querySelector("audio");
    if (audio) {
      audio.srcObject = new MediaStream([track]);
      audio.play().catch((err: unknown) => {
        event("audio_play_refused", String(err));
        notice("Your browser blocked the sound; click anywhere on the page to hear the call.");
      });
    }
  } else {
    const video = tile.querySelector("video");
    if (video) video.srcObject = stream || new MediaStream([track]);
  }
  event("remote_track", { peer: id, kind: track.kind });
}

export function removeTile(peer: string): void {
  tileOf(peer)?.remove();
}

export function removeAllTiles(): void {
  document.querySelectorAll(".tile[data-peer]").forEach((tile) => tile.remove());
}

/** Names change (or arrive with the roster): every tile shows the current one. */
export function renameTiles(): void {
  document.querySelectorAll<HTMLElement>(".tile[data-peer]").forEach((tile) => {
    const caption = tile.querySelector("figcaption");
    if (caption) caption.textContent = nameOf(tile.dataset.peer);
  });
}
