/**
 * Recordings of a call: what is listed on the call, where the audio lives in R2, and whether this
 * deployment can record at all (the RECORDINGS bucket is bound).
 *
 * Each participant's microphone is one recording (16 kHz mono 16-bit PCM, served as WAV); the
 * agent's synthesized speech is one more (MP3, as the speech provider made it). Audio is stored in
 * chunks while the call runs: R2 key `calls/{call_id}/{recording_id}/{chunk_index}`, six digits.
 */
import { optionalSetting } from "../../lib/config";
import { AppError } from "../../lib/problem";

export { RECORDING_TRACKS, type Recording, type RecordingFile, type RecordingTrack } from "./recording";

export const PCM_CONTENT_TYPE = "audio/wav";

/** The default length of one stored chunk of a participant's audio. */
export const DEFAULT_CHUNK_SECONDS = 5;
const MAX_CHUNK_SECONDS = 60;

/** Every object of one call sits under this prefix (erasing lists and deletes it). */
export function callPrefix(callId: string): string {
  return `calls/${callId}/`;
}

export function chunkKey(callId: string, recordingId: string, index: number): string {
  return `${callPrefix(callId)}${recordingId}/${String(index).padStart(6, "0")}`;
}

/** The RECORDINGS bucket, or null when this deployment has none (the self-hosted runtime). */
export function recordingsBucket(env: object): R2Bucket | null {
  const bucket = (env as { RECORDINGS?: unknown }).RECORDINGS;
  return typeof bucket === "object" && bucket !== null && typeof (bucket as R2Bucket).put === "function" ? (bucket as R2Bucket) : null;
}

/** RECORDING_CHUNK_SECONDS: whole seconds of a participant's audio per stored chunk (1–60, default 5). */
export function recordingChunkSeconds(env: object): number {
  const raw = optionalSetting(env, "RECORDING_CHUNK_SECONDS");
  if (raw === undefined) return DEFAULT_CHUNK_SECONDS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > MAX_CHUNK_SECONDS)
    throw new Error(`RECORDING_CHUNK_SECONDS must be a whole number from 1 to ${MAX_CHUNK_SECONDS}, not ${JSON.stringify(raw)}`);
  return n;
}

/** Refuses `recording_enabled` on a server that cannot record (422), so nobody believes a call is recorded when it is not. */
export function checkRecordingPossible(env: object, recordingEnabled: boolean): void {
  if (recordingEnabled && !recordingsBucket(env)) {
    throw new AppError(
      "validation_failed",
      "This server cannot record calls: no RECORDINGS bucket is bound (the self-hosted runtime has none). Create the call with recording_enabled: false.",
      { errors: [{ path: "body.recording_enabled", message: "recordings are not available on this server" }] },
    );
  }
}
