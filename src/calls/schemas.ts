/** zod schemas for calls: request validation, response shapes and the OpenAPI document. */
import { z } from "zod";
import { AgentId } from "../state/schemas";
import { CallAgentInput, CallAgentView } from "./agent-config";
import { CALL_STATUSES, MEDIA_TYPES, TRANSCRIPT_SOURCES } from "./model";
import { Recording } from "./recordings/schemas";

export const CallId = z.string().regex(/^call_[0-9a-f]{24}$/, "an id of the form call_…");
export const ParticipantId = z.string().regex(/^part_[0-9a-f]{24}$/, "an id of the form part_…");
export const CallParams = z.object({ call_id: CallId });
export const ParticipantParams = z.object({ call_id: CallId, participant_id: ParticipantId });
export const CallStatus = z.enum(CALL_STATUSES);

const UserId = z.string().min(1).max(128);

export const CreateCallBody = z
  .object({
    agent_id: AgentId,
    user_id: UserId.optional().describe("The person the agent talks to, if known."),
    direction: z.enum(["inbound", "outbound"]).default("outbound"),
    recording_enabled: z.boolean().default(false),
    video_enabled: z.boolean().default(false).describe("Participants start with video on when true."),
    metadata: z.record(z.string(), z.unknown()).default({}),
    agent: CallAgentInput.optional().describe("An agent that answers by voice (docs/voice.md); mode off when absent."),
  })
  .strict();
export type CreateCallBody = z.infer<typeof CreateCallBody>;

export const CallsQuery = z.object({
  agent_id: AgentId.optional().describe("Only this agent's calls (required for credentials limited to some agents)."),
  status: CallStatus.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});

export const AddParticipantBody = z
  .object({
    user_id: UserId,
    display_name: z.string().trim().min(1).max(128),
    is_agent: z.boolean().default(false),
  })
  .strict();

export const PatchParticipantBody = z
  .object({ is_muted: z.boolean().optional(), is_video_enabled: z.boolean().optional() })
  .strict()
  .refine((b) => b.is_muted !== undefined || b.is_video_enabled !== undefined, "Give is_muted or is_video_enabled.");

export const WsQuery = z.object({ token: z.string().max(4096).optional().describe("The join token from POST …/participants.") });

const MediaStream = z.object({
  stream_id: z.string(),
  media_type: z.enum(MEDIA_TYPES),
  enabled: z.boolean(),
  codec: z.string().nullable(),
  track_name: z.string().nullable(),
});

export const CallParticipant = z.object({
  participant_id: z.string(),
  user_id: z.string(),
  display_name: z.string(),
  is_agent: z.boolean(),
  joined_at: z.string(),
  left_at: z.string().nullable(),
  media_streams: z.array(MediaStream),
  is_muted: z.boolean(),
  is_video_enabled: z.boolean(),
  sfu_session_id: z
    .string()
    .nullable()
    .describe("The participant's Realtime SFU session (SFU mode); pull its tracks by this id and a media stream's track_name."),
  transcription_muted: z
    .boolean()
    .describe("The participant turned live transcription of their own voice off (socket message `transcription`): their audio is ignored."),
});

export const TranscriptLine = z.object({
  participant_id: z.string().nullable(),
  text: z.string(),
  at: z.string(),
  source: z.enum(TRANSCRIPT_SOURCES),
  started_at: z.string().optional().describe("Live transcription: when the utterance began (capture time)."),
  ended_at: z.string().optional().describe("Live transcription: when the utterance ended (capture time)."),
  confidence: z
    .number()
    .min(0)
    .max(1)
    .nullable()
    .optional()
    .describe("Live transcription: the provider's confidence, 0..1, or null when it gives none."),
});

/** What the agent said into a call (`POST …/speak`, MCP `speak_in_call`). */
export const SpeakResult = z.object({
  success: z.literal(true),
  transcript_line: TranscriptLine,
  bytes: z.number().describe("Size of the synthesized audio sent to the call's sockets."),
  content_type: z.string().describe("The audio's media type."),
});

export const CallSession = z.object({
  call_id: z.string(),
  agent_id: z.string(),
  user_id: z.string().nullable(),
  direction: z.enum(["inbound", "outbound"]),
  status: CallStatus,
  participants: z.array(CallParticipant),
  created_at: z.string(),
  started_at: z.string().nullable(),
  ended_at: z.string().nullable(),
  duration_seconds: z
    .number()
    .nullable()
    .describe("ended_at − started_at in seconds (hold included); 0 if it never started; null until it ends."),
  recording_enabled: z.boolean(),
  video_enabled: z.boolean(),
  agent: CallAgentView,
  transcript: z.array(TranscriptLine),
  recordings: z
    .array(Recording)
    .describe("The call's stored audio, one recording per participant's microphone plus the agent's speech (recording_enabled only)."),
  metadata: z.record(z.string(), z.unknown()),
});

export const JoinResponse = z.object({
  participant: CallParticipant,
  join_token: z.string(),
  join_token_expires_at: z.string(),
  join_url: z
    .string()
    .describe("The call page for this participant (PUBLIC_BASE_URL/calls/{call_id}?token=…): open it in a browser to join."),
  ws_url: z.string().describe("Open a WebSocket here (the token is in the query)."),
});
