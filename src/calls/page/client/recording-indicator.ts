/**
 * The recording indicator: the roster every socket gets on connecting says whether the call is
 * recorded, and the server records a participant's audio only after that roster went to them, so
 * the page shows this before anything of its user is stored.
 */
import { byId } from "./dom";
import { event } from "./call-state";
import { applyRecording } from "./live-audio";

export function showRecording(recording: boolean): void {
  const indicator = byId("recording", HTMLElement);
  if (indicator.hidden === recording) {
    indicator.hidden = !recording;
    event("recording", recording);
  }
  applyRecording(recording);
}
