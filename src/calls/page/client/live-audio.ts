/**
 * Live transcription from this page: the microphone, tapped by an AudioWorklet
 * (./audio-worklet.ts → `/assets/call-audio-worklet.js`) as 16 kHz mono s16 frames of 40 ms, goes
 * on the call's own socket as binary messages. Audio leaves the page only while all of these hold:
 * the server said live transcription is available (the roster's `live_transcription`) or that the
 * call is recorded (the roster's `recording`, shown by ./recording-indicator.ts first), we are in
 * the call, our microphone is not muted, and we did not turn transcription of ourselves off (the
 * "Stop transcribing me" button sends `transcription` {muted}; the server also ignores our audio then).
 */
import { event, send, session, state } from "./call-state";
import { byId } from "./dom";
import type { LiveTranscriptionInfo } from "./protocol";

export const WORKLET_PATH = "/assets/call-audio-worklet.js";

let info: LiveTranscriptionInfo | null = null;
/** Whether the call is recorded: the server stores our microphone, so it goes there even without transcription. */
let recorded = false;
/** Whether we turned transcription of ourselves off (the server's roster is the truth). */
let selfMuted = false;
let tap: { node: AudioWorkletNode; source: MediaStreamAudioSourceNode; sink: GainNode; track: MediaStreamTrack } | null = null;
let starting: Promise<void> | null = null;
/** Frames sent so far (test hook). */
export const sent = { frames: 0, bytes: 0 };

function sending(): boolean {
  return (info?.available === true || recorded) && !selfMuted && !state.muted && state.phase === "joined";
}

/** What the roster says about recording (after the page showed it): the microphone is tapped for it too. */
export function applyRecording(on: boolean): void {
  recorded = on;
  if (on) void startTap();
}

/** What the roster says on every (re)connection: available or not, and why. */
export function applyLiveTranscription(next: LiveTranscriptionInfo | undefined): void {
  info = next ?? { available: false, reason: "The server did not say whether it transcribes calls." };
  event("live_transcription", info);
  const line = byId("live-transcription", HTMLElement);
  line.hidden = info.available;
  line.textContent = info.available ? "" : `Live transcription unavailable: ${info.reason ?? "no speech-to-text provider"}.`;
  renderTranscriptionButton();
  if (info.available) void startTap();
}

/** Our own `transcription_muted`, as the server has it. */
export function syncTranscriptionMute(muted: boolean): void {
  selfMuted = muted;
  renderTranscriptionButton();
}

export function toggleTranscription(): void {
  selfMuted = !selfMuted;
  send({ type: "transcription", muted: selfMuted });
  renderTranscriptionButton();
}

function renderTranscriptionButton(): void {
  const button = byId("transcription", HTMLButtonElement);
  button.disabled = info?.available !== true;
  button.textContent = selfMuted ? "Transcribe me" : "Stop transcribing me";
  button.setAttribute("aria-pressed", String(selfMuted));
}

/** Taps the microphone once (kept across reconnections; a new microphone track is tapped anew). */
function startTap(): Promise<void> {
  const track = session.localStream?.getAudioTracks()[0];
  const ctx = session.audioCtx;
  if (!track || !ctx) {
    event("live_audio_unavailable", track ? "no audio context" : "no microphone");
    return Promise.resolve();
  }
  if (tap && tap.track === track) return Promise.resolve();
  starting ??= (async () => {
    try {
      await ctx.audioWorklet.addModule(WORKLET_PATH);
      stopTap();
      const source = ctx.createMediaStreamSource(new MediaStream([track]));
      const node = new AudioWorkletNode(ctx, "mic-tap", { numberOfInputs: 1, numberOfOutputs: 1, channelCount: 1 });
      // A silent path to the destination keeps the graph pulling the worklet.
      const sink = ctx.createGain();
      sink.gain.value = 0;
      source.connect(node).connect(sink).connect(ctx.destination);
      node.port.onmessage = (e: MessageEvent<ArrayBuffer>) => {
        const ws = session.ws;
        if (!sending() || !ws || ws.readyState !== WebSocket.OPEN) return;
        ws.send(e.data);
        sent.frames += 1;
        sent.bytes += e.data.byteLength;
      };
      tap = { node, source, sink, track };
      event("live_audio_started", ctx.sampleRate);
    } catch (err) {
      event("live_audio_unavailable", String(err));
    } finally {
      starting = null;
    }
  })();
  return starting;
}

function stopTap(): void {
  if (!tap) return;
  tap.node.port.onmessage = null;
  tap.source.disconnect();
  tap.node.disconnect();
  tap.sink.disconnect();
  tap = null;
}
