/**
 * Audio frames arriving at the call object, checked before the pipeline sees them.
 *
 * Peer-to-peer mode: binary WebSocket messages on the participant's own signalling socket, each
 * raw 16 kHz mono s16le PCM. The socket's tag names the participant, so a frame can never claim
 * to be someone else's. Limits (a refused frame is dropped, nothing of it kept, and the socket gets
 * an `error` at most once per {@link REFUSAL_NOTICE_MS} for each kind of refusal):
 * - size: 2..{@link MAX_AUDIO_FRAME_BYTES} bytes (up to 100 ms), an even number → else `audio_too_large` / `invalid_message`;
 * - rate: a bucket of {@link AUDIO_BURST_MS} of audio, refilled at {@link AUDIO_RATE_FACTOR}× real
 *   time: a sender faster than its microphone for long is refused (`audio_too_fast`);
 * - only while the call is active and the participant is in it with transcription not muted
 *   (else the frame is ignored silently: the page stops sending on its own).
 *
 * SFU mode: the Realtime SFU's WebSocket adapter sends protobuf packets whose payload is 48 kHz
 * stereo s16le ({@link AudioIngest.fromSfu}): at most {@link MAX_SFU_PAYLOAD_BYTES} (100 ms), whole
 * stereo samples, converted to 16 kHz mono, then the same rate bound.
 */
import type { AudioFrame } from "./audio-hooks";
import { PCM_SAMPLE_RATE } from "./audio-hooks";
import { s16le } from "./pcm";

export const MAX_AUDIO_FRAME_BYTES = 3200;
export const MAX_SFU_PAYLOAD_BYTES = 19_200;
export const AUDIO_BURST_MS = 1000;
export const AUDIO_RATE_FACTOR = 1.25;
export const REFUSAL_NOTICE_MS = 1000;
/** A frame arriving within this long of the previous one's end continues its timeline. */
const CONTIGUOUS_MS = 250;

export type IngestRefusal = { code: "audio_too_large" | "audio_too_fast" | "invalid_message"; message: string };

interface Stream {
  tokens: number;
  refilledAt: number;
  /** When the socket was last told of each kind of refusal. */
  notices: Map<IngestRefusal["code"], number>;
  /** Capture time just after the last accepted sample. */
  endAt: number;
}

/** Per-stream bounds and timing, in memory (a stream after hibernation starts with a full bucket). */
export class AudioIngest {
  readonly #streams = new Map<string, Stream>();

  /**
   * Checks one binary message of a participant's socket and turns it into a frame. Returns the
   * frame, or the refusal (with `notify` false when the socket was told recently).
   */
  fromSocket(participantId: string, bytes: Uint8Array, nowMs: number): { frame: AudioFrame } | { refusal: IngestRefusal; notify: boolean } {
    if (bytes.byteLength > MAX_AUDIO_FRAME_BYTES)
      return this.#refuse(participantId, nowMs, {
        code: "audio_too_large",
        message: `Audio frames are at most ${MAX_AUDIO_FRAME_BYTES} bytes (100 ms of 16 kHz mono s16le); got ${bytes.byteLength}.`,
      });
    if (bytes.byteLength < 2 || bytes.byteLength % 2 !== 0)
      return this.#refuse(participantId, nowMs, {
        code: "invalid_message",
        message: "Audio frames are 16-bit samples: a non-empty, even number of bytes.",
      });
    return this.#accept(participantId, s16le(bytes), nowMs);
  }

  /** One SFU packet's payload (48 kHz stereo s16le) through the stream's own converter. */
  fromSfu(
    participantId: string,
    payload: Uint8Array,
    converter: { push(stereo: Int16Array): Int16Array },
    nowMs: number,
  ): { frame: AudioFrame | null } | { refusal: IngestRefusal; notify: boolean } {
    if (payload.byteLength > MAX_SFU_PAYLOAD_BYTES)
      return this.#refuse(participantId, nowMs, {
        code: "audio_too_large",
        message: `SFU packets carry at most ${MAX_SFU_PAYLOAD_BYTES} bytes (100 ms of 48 kHz stereo s16le); got ${payload.byteLength}.`,
      });
    if (payload.byteLength % 4 !== 0)
      return this.#refuse(participantId, nowMs, { code: "invalid_message", message: "SFU payloads are whole 16-bit stereo samples." });
    const pcm = converter.push(s16le(payload));
    // A payload shorter than three stereo samples may yield no 16 kHz sample yet.
    return pcm.length === 0 ? { frame: null } : this.#accept(participantId, pcm, nowMs);
  }

  #accept(participantId: string, pcm: Int16Array, nowMs: number): { frame: AudioFrame } | { refusal: IngestRefusal; notify: boolean } {
    const refused = this.#spend(participantId, pcm.length, nowMs);
    if (refused) return refused;
    return { frame: this.frame(participantId, pcm, nowMs) };
  }

  /** A frame with its capture time: contiguous with the stream's previous frame when it follows closely. */
  frame(participantId: string, pcm: Int16Array, nowMs: number): AudioFrame {
    const s = this.#stream(participantId, nowMs);
    const durationMs = (pcm.length * 1000) / PCM_SAMPLE_RATE;
    const at = Math.abs(nowMs - durationMs - s.endAt) <= CONTIGUOUS_MS ? s.endAt : nowMs - durationMs;
    s.endAt = at + durationMs;
    return { participant_id: participantId, pcm, at };
  }

  forget(participantId: string): void {
    this.#streams.delete(participantId);
  }

  #stream(participantId: string, nowMs: number): Stream {
    let s = this.#streams.get(participantId);
    if (!s) {
      s = { tokens: AUDIO_BURST_MS, refilledAt: nowMs, notices: new Map(), endAt: -Infinity };
      this.#streams.set(participantId, s);
    }
    return s;
  }

  #spend(participantId: string, samples: number, nowMs: number): { refusal: IngestRefusal; notify: boolean } | null {
    const s = this.#stream(participantId, nowMs);
    s.tokens = Math.min(AUDIO_BURST_MS, s.tokens + Math.max(0, nowMs - s.refilledAt) * AUDIO_RATE_FACTOR);
    s.refilledAt = nowMs;
    const ms = (samples * 1000) / PCM_SAMPLE_RATE;
    if (ms > s.tokens)
      return this.#refuse(participantId, nowMs, {
        code: "audio_too_fast",
        message: `Audio is accepted at up to ${AUDIO_RATE_FACTOR}× real time (bursts up to ${AUDIO_BURST_MS} ms); this frame came too fast and was dropped.`,
      });
    s.tokens -= ms;
    return null;
  }

  #refuse(participantId: string, nowMs: number, refusal: IngestRefusal): { refusal: IngestRefusal; notify: boolean } {
    const s = this.#stream(participantId, nowMs);
    const notify = nowMs - (s.notices.get(refusal.code) ?? -Infinity) >= REFUSAL_NOTICE_MS;
    if (notify) s.notices.set(refusal.code, nowMs);
    return { refusal, notify };
  }
}
