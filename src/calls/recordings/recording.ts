/** What a recording is in the API: the types the call's shape (src/calls/model.ts) and the page share, free of Worker bindings. */

export const RECORDING_TRACKS = ["participant", "agent"] as const;
export type RecordingTrack = (typeof RECORDING_TRACKS)[number];

export interface Recording {
  recording_id: string;
  /** The participant whose microphone this is; for the agent's speech, the call's agent participant (null when it has none). */
  participant_id: string | null;
  track: RecordingTrack;
  started_at: string;
  duration_seconds: number;
  /** Size of the file GET …/recordings/{recording_id} serves (the WAV header included). */
  bytes: number;
  content_type: string;
}

/** Everything the download needs: the listing plus the stored chunks in order. */
export interface RecordingFile extends Recording {
  chunks: { key: string; bytes: number }[];
}
