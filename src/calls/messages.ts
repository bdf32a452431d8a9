/**
 * The signalling protocol on `GET /api/v2/calls/{call_id}/ws` (JSON text frames, one message each).
 *
 * Client → server: `offer` / `answer` {to, sdp}, `ice` {to, candidate | null} (relayed to `to` only,
 * with `from` set by the server), `mute` {muted}, `video` {enabled} (roster update, broadcast),
 * `track_published` {stream} / `track_closed` {stream_id} (the sender's media_streams), `leave`.
 * `transcription` {muted} (the sender turns live transcription of their own voice off or on; roster
 * update, broadcast). A client may send `from`, but only its own id; any other is refused. The text
 * `ping` is answered `pong` without waking the object.
 * Binary frames are the sender's microphone audio for live transcription: raw 16 kHz mono s16le
 * PCM, at most 100 ms each, at about real time (durable-objects/call-session/audio-ingest.ts has
 * the limits; a refused frame gets `error` {code: audio_too_large | audio_too_fast}).
 *
 * Server → client: `roster` {call_id, status, participants (each with `connected`), live_transcription:
 * {available, reason} (whether the call transcribes audio: send audio frames only when available)} to a newcomer,
 * `joined` {participant}, `left` {participant_id, reason: left | removed | disconnected},
 * relayed `offer` / `answer` / `ice` {from, to, …}, `participant_updated` {participant},
 * `status` {status} (a call transition; sockets close with 1000 when the call ends), `transcript`
 * {line}, `transcript_cleared` (DELETE …/transcript erased it), `agent_speech` {participant_id, text, audio?,
 * content_type?}, `agent_speech_stop` {turn_id, reason: barge_in, participant_id?} (someone talked over
 * the answering agent: stop its voice, drop what is queued), `agent_status` {available: false, reason}
 * (the answering agent cannot answer), `error` {code, message}.
 * SFU mode (src/calls/sfu-proxy.ts): `track_published` {participant_id, sfu_session_id, stream} when
 * the SFU accepted a participant's local track (pull it with `sfu_session_id` + `stream.track_name`),
 * `track_closed` {participant_id, sfu_session_id, stream_id} when it was closed or its session
 * replaced; both go to everyone but the publisher and are followed by `participant_updated`.
 * An `error` never closes the socket.
 */
import { z } from "zod";
import { MEDIA_TYPES } from "./model";

/** A signalling frame is small (SDP is a few KiB); bigger frames are refused with an `error`. */
export const MAX_FRAME_CHARS = 256 * 1024;

const PeerId = z.string().min(1).max(64);
const From = z.string().optional();

export const MediaStreamInput = z
  .object({
    stream_id: z.string().min(1).max(128),
    media_type: z.enum(MEDIA_TYPES),
    enabled: z.boolean().default(true),
    codec: z.string().max(64).nullable().default(null),
    track_name: z.string().max(128).nullable().default(null),
  })
  .strict();

const IceCandidate = z.object({
  candidate: z.string().max(4096),
  sdpMid: z.string().max(64).nullable().optional(),
  sdpMLineIndex: z.number().int().min(0).nullable().optional(),
  usernameFragment: z.string().max(256).nullable().optional(),
});

export const ClientMessage = z.discriminatedUnion("type", [
  z.object({ type: z.literal("offer"), from: From, to: PeerId, sdp: z.string().min(1) }),
  z.object({ type: z.literal("answer"), from: From, to: PeerId, sdp: z.string().min(1) }),
  z.object({ type: z.literal("ice"), from: From, to: PeerId, candidate: IceCandidate.nullable() }),
  z.object({ type: z.literal("mute"), from: From, muted: z.boolean() }),
  z.object({ type: z.literal("video"), from: From, enabled: z.boolean() }),
  z.object({ type: z.literal("track_published"), from: From, stream: MediaStreamInput }),
  z.object({ type: z.literal("track_closed"), from: From, stream_id: z.string().min(1).max(128) }),
  z.object({ type: z.literal("leave"), from: From }),
  z.object({ type: z.literal("transcription"), from: From, muted: z.boolean() }),
]);
export type ClientMessage = z.infer<typeof ClientMessage>;

export const ERROR_CODES = [
  "invalid_json",
  "invalid_message",
  "too_large",
  "impersonation",
  "peer_unavailable",
  "not_in_call",
  "audio_too_large",
  "audio_too_fast",
] as const;
export type SignalErrorCode = (typeof ERROR_CODES)[number];
