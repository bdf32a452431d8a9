/**
 * What the page knows about the call and its own connection, shared by every part of the page,
 * and the test hooks (`window.__call`) that expose it to the browser tests.
 */
import { byId, errorMessage } from "./dom";
import type { CallStatus, ClientFrame, RosterParticipant, TranscriptLine } from "./protocol";
import type { SfuView, Transport, TransportStats } from "./media-types";

const app = byId("app", HTMLElement);
/** The call's id, validated by the server before it rendered the page. */
export const callId = app.dataset.callId ?? "";
/** `p2p` or `sfu`: how the server carries media (it has Realtime SFU credentials or not). */
export const mediaMode = app.dataset.media;

export type Phase = "idle" | "joining" | "joined" | "reconnecting" | "leaving" | "left" | "replaced" | "ended" | "disconnected" | "error";

export interface CallState {
  phase: Phase;
  /** Our participant id (read from the join token). */
  me: string | null;
  callStatus: CallStatus | null;
  participants: Map<string, RosterParticipant>;
  transcript: TranscriptLine[];
  muted: boolean;
  videoOn: boolean;
}

export const state: CallState = {
  phase: "idle",
  me: null,
  callStatus: null,
  participants: new Map(),
  transcript: [],
  muted: false,
  videoOn: false,
};

/** The page's connection: its media, its socket, its transport and the credentials they use. */
export const session: {
  audioCtx: AudioContext | null;
  localStream: MediaStream | null;
  transport: Transport | null;
  ws: WebSocket | null;
  token: string;
  iceServers: RTCIceServer[];
  /** Reconnection attempts since the socket last worked. */
  retries: number;
} = { audioCtx: null, localStream: null, transport: null, ws: null, token: "", iceServers: [], retries: 0 };

export interface PageEvent {
  name: string;
  detail: unknown;
  at: number;
}

/** One clip of the agent's voice, as the page decoded and scheduled it. */
export interface PlayedSpeech {
  text: string;
  content_type: string | undefined;
  duration: number;
  sample_rate: number;
  context_state: AudioContextState;
  ended: boolean;
  /** Cut short or never started: a participant talked over the agent (`agent_speech_stop`). */
  stopped?: boolean;
}

/** `window.__call`: what the browser tests read (state, connections, errors, events, stats). */
export interface CallHooks {
  state: CallState;
  pcs: Map<string, RTCPeerConnection>;
  errors: string[];
  events: PageEvent[];
  played: PlayedSpeech[];
  mediaMode: string | undefined;
  stats(): Promise<TransportStats>;
  /** SFU mode: the session, its published and pulled tracks and every negotiation with the proxy. */
  sfu?: SfuView;
  /** Live transcription: microphone frames sent on the socket so far. */
  liveAudio?: { frames: number; bytes: number };
}

export const hooks: CallHooks = {
  state,
  pcs: new Map(),
  errors: [],
  events: [],
  played: [],
  mediaMode,
  stats: () => (session.transport ? session.transport.stats() : Promise.resolve({})),
};

declare global {
  interface Window {
    __call: CallHooks;
  }
}

export function event(name: string, detail?: unknown): void {
  hooks.events.push({ name, detail: detail === undefined ? null : detail, at: Date.now() });
}

/** Shows an error (the last three) and keeps it for the tests. */
export function fail(err: unknown): void {
  hooks.errors.push(errorMessage(err));
  byId("errors", HTMLElement).textContent = hooks.errors.slice(-3).join("\n");
}

/** Sends a frame on the call's socket, if it is open (frames are not queued). */
export function send(frame: ClientFrame): void {
  const ws = session.ws;
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
}

/** A participant's display name (untrusted text: for `textContent` only); null is the agent. */
export function nameOf(id: string | null | undefined): string {
  if (id === null || id === undefined) return "Agent";
  const p = state.participants.get(id);
  return p ? p.display_name : id;
}
