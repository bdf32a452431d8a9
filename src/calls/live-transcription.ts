/**
 * Whether a call transcribes its participants' audio live, as /health and the call's socket say it:
 * only with a speech-to-text provider (src/speech/service.ts). Without one the page is told why
 * and sends no audio; nothing is ever invented in its place.
 */
import type { SpeechSelection } from "../speech/service";
import { speechFromEnv } from "../speech/service";

export interface LiveTranscription {
  available: boolean;
  /** Why not, when unavailable (names the settings to set). */
  reason: string | null;
}

export function liveTranscription(selection: SpeechSelection): LiveTranscription {
  return selection.provider ? { available: true, reason: null } : { available: false, reason: selection.reason };
}

/** The /health check: ok when calls transcribe live audio. */
export function liveTranscriptionCheck(env: Env, speechServerUnreachable?: string): { ok: boolean; detail: string } {
  if (speechServerUnreachable)
    return { ok: false, detail: `live transcription unavailable: the speech server is not reachable here (${speechServerUnreachable})` };
  const selection = speechFromEnv(env);
  return selection.provider
    ? {
        ok: true,
        detail: `live transcription of participants' audio through ${selection.provider.name} (pages send 16 kHz PCM; utterances cut by voice activity)`,
      }
    : { ok: false, detail: `live transcription unavailable: ${selection.reason}` };
}
