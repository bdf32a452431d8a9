/** What the page does with each frame from the server (the protocol: src/calls/messages.ts). */
import { playSpeech, speechGeneration, stopSpeech } from "./agent-voice";
import { event, fail, session, state } from "./call-state";
import { applyMute, syncOwnState } from "./controls";
import { byId, setStatus } from "./dom";
import { applyLiveTranscription, syncTranscriptionMute } from "./live-audio";
import type { ServerFrame } from "./protocol";
import { showRecording } from "./recording-indicator";
import { renderParticipants } from "./roster-view";
import { addLine, clearTranscript, loadTranscript } from "./transcript-view";

/** The agent's clips play one after the other, in the order they arrived. */
let speech: Promise<void> = Promise.resolve();

export async function handle(msg: ServerFrame): Promise<void> {
  const transport = session.transport;
  switch (msg.type) {
    case "roster": {
      showRecording(msg.recording === true);
      state.callStatus = msg.status;
      state.participants = new Map(msg.participants.map((p) => [p.participant_id, p]));
      if (state.phase === "reconnecting") event("reconnected", session.retries);
      state.phase = "joined";
      session.retries = 0;
      byId("controls", HTMLElement).hidden = false;
      byId("join-panel", HTMLElement).hidden = true;
      setStatus(`In the call (${msg.status}).`);
      syncOwnState();
      syncTranscriptionMute(state.participants.get(state.me ?? "")?.transcription_muted === true);
      applyLiveTranscription(msg.live_transcription);
      if (transport) {
        for (const p of msg.participants)
          if (p.participant_id !== state.me && p.connected && p.left_at === null) transport.addPeer(p.participant_id);
      }
      renderParticipants();
      void loadTranscript();
      return;
    }
    case "joined":
      state.participants.set(msg.participant.participant_id, msg.participant);
      if (transport && msg.participant.participant_id !== state.me) transport.addPeer(msg.participant.participant_id);
      return renderParticipants();
    case "left": {
      const p = state.participants.get(msg.participant_id);
      if (p) {
        p.connected = false;
        if (msg.reason !== "disconnected") p.left_at = new Date().toISOString();
      }
      if (transport) transport.removePeer(msg.participant_id);
      return renderParticipants();
    }
    case "participant_updated":
      state.participants.set(msg.participant.participant_id, msg.participant);
      if (msg.participant.participant_id === state.me && msg.participant.is_muted !== state.muted) applyMute(msg.participant.is_muted);
      if (msg.participant.participant_id === state.me) syncTranscriptionMute(msg.participant.transcription_muted);
      return renderParticipants();
    case "offer":
    case "answer":
    case "ice":
      return transport ? transport.signal(msg) : undefined;
    case "track_published":
    case "track_closed":
      // SFU mode: another participant's track to pull, or to stop pulling (not awaited: the
      // SFU transport runs its own negotiation chain, and frames keep flowing meanwhile).
      if (transport && transport.kind === "sfu") void transport.signal(msg);
      return;
    case "status":
      state.callStatus = msg.status;
      setStatus(`In the call (${msg.status}).`);
      return;
    case "transcript":
      return addLine(msg.line);
    case "transcript_cleared":
      return clearTranscript();
    case "agent_speech": {
      byId("agent-speech", HTMLElement).textContent = msg.text;
      const audio = msg.audio;
      const queuedIn = speechGeneration();
      if (audio) speech = speech.then(() => playSpeech(msg, audio, queuedIn)).catch(fail);
      return;
    }
    case "agent_speech_stop":
      // Someone talks over the agent: what it has not said yet is dropped (the server stopped too).
      return stopSpeech();
    case "agent_status":
      byId("agent-speech", HTMLElement).textContent = `The agent cannot answer: ${msg.reason}`;
      return;
    case "error":
      event("server_error", msg);
      // A peer that left between our frames is routine; everything else is worth showing.
      if (msg.code !== "peer_unavailable") fail(new Error(`${msg.code}: ${msg.message}`));
      return;
    default:
      event("unknown_frame", (msg as { type: unknown }).type);
  }
}
