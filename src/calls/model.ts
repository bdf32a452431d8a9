/**
 * Calls: the shapes the API and the signalling socket speak, and the status machine.
 *
 * | action (route)       | from                                | to       |
 * |----------------------|-------------------------------------|----------|
 * | ring   (POST …/ring)   | pending                             | ringing  |
 * | start  (POST …/start)  | pending, ringing                    | active   |
 * | hold   (POST …/hold)   | active                              | on_hold  |
 * | resume (POST …/resume) | on_hold                             | active   |
 * | end    (POST …/end)    | pending, ringing, active, on_hold   | ended    |
 * | fail   (POST …/fail)   | pending, ringing, active, on_hold   | failed   |
 *
 * Anything else is 409 and changes nothing; `ended` and `failed` are final. `started_at` is set
 * the first time the call becomes active; `duration_seconds` = ended_at − started_at (hold time
 * included; 0 when the call never started), set when the call ends or fails.
 */
import type { Result } from "../lib/result";
import type { CallAgent } from "./agent-config";
import type { Recording } from "./recordings/recording";

export const CALL_STATUSES = ["pending", "ringing", "active", "on_hold", "ended", "failed"] as const;
export type CallStatus = (typeof CALL_STATUSES)[number];

export const CALL_ACTIONS = ["ring", "start", "hold", "resume", "end", "fail"] as const;
export type CallAction = (typeof CALL_ACTIONS)[number];

export const TRANSITIONS: Record<CallAction, { from: readonly CallStatus[]; to: CallStatus }> = {
  ring: { from: ["pending"], to: "ringing" },
  start: { from: ["pending", "ringing"], to: "active" },
  hold: { from: ["active"], to: "on_hold" },
  resume: { from: ["on_hold"], to: "active" },
  end: { from: ["pending", "ringing", "active", "on_hold"], to: "ended" },
  fail: { from: ["pending", "ringing", "active", "on_hold"], to: "failed" },
};

export const FINAL_STATUSES: readonly CallStatus[] = ["ended", "failed"];

export const MEDIA_TYPES = ["audio", "video", "screen_share"] as const;
export type MediaType = (typeof MEDIA_TYPES)[number];

export interface MediaStream {
  stream_id: string;
  media_type: MediaType;
  enabled: boolean;
  codec: string | null;
  track_name: string | null;
}

export interface CallParticipant {
  participant_id: string;
  user_id: string;
  display_name: string;
  is_agent: boolean;
  joined_at: string;
  left_at: string | null;
  media_streams: MediaStream[];
  is_muted: boolean;
  is_video_enabled: boolean;
  /** The participant's Realtime SFU session (SFU mode, after POST …/sfu/sessions), else null. */
  sfu_session_id: string | null;
  /** The participant turned live transcription of their own voice off (socket message `transcription`). */
  transcription_muted: boolean;
}

/** `agent_event`: what the answering agent did besides speaking (a tool call, why it stopped or stayed silent). */
export const TRANSCRIPT_SOURCES = ["speech_to_text", "text_to_speech", "text", "agent_event"] as const;
export type TranscriptSource = (typeof TRANSCRIPT_SOURCES)[number];

export interface TranscriptLine {
  participant_id: string | null;
  text: string;
  at: string;
  source: TranscriptSource;
  /** Live transcription only: when the utterance began and ended, and the provider's confidence (0..1 or null). */
  started_at?: string;
  ended_at?: string;
  confidence?: number | null;
}

/** What authorization and speech need of a call: no transcript (it grows with the call). */
export type CallHead = Pick<CallSession, "call_id" | "agent_id" | "status" | "participants">;

export interface CallSession {
  call_id: string;
  agent_id: string;
  user_id: string | null;
  direction: "inbound" | "outbound";
  status: CallStatus;
  participants: CallParticipant[];
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
  duration_seconds: number | null;
  recording_enabled: boolean;
  video_enabled: boolean;
  /** The answering agent's settings (mode off unless the call was created with one). */
  agent: CallAgent;
  transcript: TranscriptLine[];
  /** The call's stored audio (src/calls/recordings/model.ts); empty unless recording_enabled. */
  recordings: Recording[];
  metadata: Record<string, unknown>;
}

export interface NewCall {
  callId: string;
  agentId: string;
  userId: string | null;
  direction: "inbound" | "outbound";
  recordingEnabled: boolean;
  videoEnabled: boolean;
  /** The answering agent's settings; mode off when absent. */
  agent?: CallAgent;
  metadata: Record<string, unknown>;
  nowMs: number;
}

export interface NewParticipant {
  participantId: string;
  userId: string;
  displayName: string;
  isAgent: boolean;
  nowMs: number;
}

export type CallResult<T> = Result<T, { reason: "not_found" | "conflict"; detail: string; status?: CallStatus }>;
