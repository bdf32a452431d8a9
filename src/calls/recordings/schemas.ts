/** zod schemas for recordings: the listing on a call, the routes' parameters and answers. */
import { z } from "zod";
import { RECORDING_TRACKS } from "./recording";

export const RecordingId = z.string().regex(/^rec_[0-9a-f]{24}$/, "an id of the form rec_…");

export const Recording = z.object({
  recording_id: z.string(),
  participant_id: z
    .string()
    .nullable()
    .describe("The participant whose microphone this is; for the agent's speech, the call's agent participant (null if it has none)."),
  track: z
    .enum(RECORDING_TRACKS)
    .describe("`participant`: one participant's microphone (WAV); `agent`: the agent's synthesized speech (MP3)."),
  started_at: z.string().describe("When its first audio was captured."),
  duration_seconds: z.number().describe("Seconds of audio stored so far (pauses in the audio received are not filled)."),
  bytes: z.number().int().describe("Size of the file the download serves."),
  content_type: z.string().describe("`audio/wav` (16 kHz mono 16-bit PCM) or `audio/mpeg`."),
});

export const EraseRecordingsResult = z.object({
  call_id: z.string(),
  deleted: z.number().int().describe("Recordings erased."),
  objects: z.number().int().describe("Stored chunks deleted from the bucket."),
});
