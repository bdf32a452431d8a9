/**
 * The seams of a call's live audio inside CallSessionDO. Audio ingest (the page's socket in
 * peer-to-peer mode, the SFU's WebSocket adapter in SFU mode) cuts each participant's audio into
 * utterances; the listeners below react to it without knowing where the audio came from:
 * the answering agent (barge-in on `speechStarted`, a reply after `utterance`) and the recorder
 * (`frame`, `agentAudio`). Every listener is called synchronously inside the object and must not
 * throw; slow work (a provider call) is started with `ctx.waitUntil` or kept as a promise the
 * listener owns.
 */

/** Audio as the object handles it everywhere: 16 kHz, mono, signed 16-bit little-endian PCM. */
export const PCM_SAMPLE_RATE = 16_000;

/** A participant's audio frame as accepted by ingest (already validated, resampled and bounded). */
export interface AudioFrame {
  participant_id: string;
  /** 16 kHz mono PCM samples. */
  pcm: Int16Array;
  /** When the frame's first sample was captured, epoch ms (the object's clock when unknown). */
  at: number;
}

/** One transcribed utterance, as appended to the transcript. */
export interface Utterance {
  participant_id: string;
  text: string;
  started_at: string;
  ended_at: string;
  confidence: number | null;
}

export interface AudioListener {
  /** Every accepted frame of a participant, in order. */
  frame?(frame: AudioFrame): void;
  /** Voice activity began for a participant (the start of a possible utterance). */
  speechStarted?(participantId: string, at: number): void;
  /** An utterance was transcribed and appended to the transcript. */
  utterance?(utterance: Utterance): void;
  /** Audio the agent sent into the call (its encoded speech, as played to the pages). */
  agentAudio?(audio: { bytes: Uint8Array; content_type: string; at: number }): void;
}
