/** What /health says about call recordings: the bucket and the chunk length, or why calls cannot be recorded. */
import { recordingChunkSeconds, recordingsBucket } from "./model";

export function recordingsCheck(env: object): { ok: boolean; detail: string } {
  if (!recordingsBucket(env))
    return {
      ok: false,
      detail:
        "recordings unavailable: no RECORDINGS R2 bucket is bound (the self-hosted runtime has none); creating a call with recording_enabled is refused (422)",
    };
  try {
    return { ok: true, detail: `RECORDINGS bucket bound; audio stored in chunks of ${recordingChunkSeconds(env)} s while a call runs` };
  } catch (err) {
    return { ok: false, detail: `${(err as Error).message}; chunks of the default length are used meanwhile` };
  }
}
