/**
 * What the page and the server say to each other: the signalling frames of
 * `GET /api/v2/calls/{call_id}/ws` (src/calls/messages.ts describes the protocol and validates
 * what clients send) and the JSON of the routes the page calls. Types only: nothing here reaches
 * the bundle.
 */
import type { input } from "zod";
import type { ClientMessage } from "../../messages";
import type { CallParticipant, CallStatus, MediaStream as StreamInfo, TranscriptLine } from "../../model";
import type { ProblemDocument } from "../../../lib/problem";

export type { CallStatus, StreamInfo, TranscriptLine };

/** A participant as the socket shows it: the call's record plus whether its socket is open. */
export type RosterParticipant = CallParticipant & { connected: boolean };

/** A frame this page sends; the server validates it with the same schema. */
export type ClientFrame = input<typeof ClientMessage>;

export type DescriptionFrame = { type: "offer" | "answer"; from: string; to: string; sdp: string };
export type IceFrame = { type: "ice"; from: string; to: string; candidate: RTCIceCandidateInit | null };
export type TrackPublishedFrame = { type: "track_published"; participant_id: string; sfu_session_id: string; stream: StreamInfo };
export type TrackClosedFrame = { type: "track_closed"; participant_id: string; sfu_session_id: string; stream_id: string };
export type AgentSpeechFrame = { type: "agent_speech"; participant_id: string | null; text: string; audio?: string; content_type?: string };

/** Frames a transport handles: peer-to-peer negotiation, or the SFU's track announcements. */
export type SignalFrame = DescriptionFrame | IceFrame | TrackPublishedFrame | TrackClosedFrame;

/** Whether the call transcribes live audio (in the roster): send the microphone only when available. */
export type LiveTranscriptionInfo = { available: boolean; reason: string | null };

/** A frame from the server (JSON from this origin's Durable Object; not validated again here). */
export type ServerFrame =
  | {
      type: "roster";
      call_id: string;
      status: CallStatus;
      participants: RosterParticipant[];
      recording?: boolean;
      live_transcription?: LiveTranscriptionInfo;
    }
  | { type: "joined"; participant: RosterParticipant }
  | { type: "left"; participant_id: string; reason: "left" | "removed" | "disconnected" }
  | { type: "participant_updated"; participant: RosterParticipant }
  | SignalFrame
  | { type: "status"; status: CallStatus }
  | { type: "transcript"; line: TranscriptLine }
  | { type: "transcript_cleared" }
  | AgentSpeechFrame
  | { type: "agent_speech_stop"; turn_id: string; reason: "barge_in"; participant_id?: string }
  | { type: "agent_status"; available: false; reason: string }
  | { type: "error"; code: string; message: string; ref?: string };

/** `GET /api/v2/calls/{call_id}/ice-servers?token=` */
export interface IceServersAnswer {
  call_id: string;
  source: "turn" | "stun";
  ice_servers: RTCIceServer[];
}

/** `GET /api/v2/calls/{call_id}/transcript?token=` */
export interface TranscriptAnswer {
  call_id: string;
  transcript: TranscriptLine[];
}

/** An application/problem+json refusal, as far as it could be read (`{}` when it was not JSON). */
export type Problem = Partial<ProblemDocument>;
