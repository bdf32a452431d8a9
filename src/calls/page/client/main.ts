/**
 * The call page's script (bundled by scripts/build-client.mjs into the static asset
 * `/assets/call-page.js`, an ES module; no framework, no CDN). The server's HTML
 * (src/calls/page/page-html.ts) carries the call id and the media mode; this wires its buttons.
 *
 * Untrusted text (names, transcript, agent speech) only ever goes through `textContent`.
 * Test hooks: `window.__call` = {state, pcs, errors, events, played, stats(), sfu (SFU mode)}.
 */
import { hooks } from "./call-state";
import { toggleCamera, toggleMute } from "./controls";
import { byId } from "./dom";
import { leave, onJoinClick } from "./join";
import { sent, toggleTranscription } from "./live-audio";

window.__call = hooks;
hooks.liveAudio = sent;

byId("token", HTMLInputElement).value = new URLSearchParams(location.search).get("token") || "";
byId("join", HTMLButtonElement).addEventListener("click", onJoinClick);
byId("mute", HTMLButtonElement).addEventListener("click", toggleMute);
byId("camera", HTMLButtonElement).addEventListener("click", toggleCamera);
byId("leave", HTMLButtonElement).addEventListener("click", leave);
byId("transcription", HTMLButtonElement).addEventListener("click", toggleTranscription);
