/**
 * The call's live audio inside CallSessionDO: the listener list, one voice activity detector per
 * participant, and the speech-to-text dispatch. Ingest (the page's socket, the SFU adapter) hands
 * it accepted 16 kHz mono frames; it tells the listeners (see ./audio-hooks.ts):
 * - `frame` for every accepted frame, before anything else;
 * - `speechStarted` when a participant's detector opens;
 * - `utterance` after a transcribed utterance was appended to the transcript (and broadcast).
 *
 * Each utterance is sent as WAV to the configured speech provider, one at a time per participant
 * (so a participant's lines stay in order) and at most {@link MAX_QUEUED_UTTERANCES} waiting; an
 * empty answer or a provider failure appends nothing and is logged (never its text). The state is
 * in memory: while audio flows the object stays awake; after hibernation a detector starts anew.
 */
import { log, type LogEvent } from "../../src/lib/log";
import { speechFromEnv, type SpeechSelection } from "../../src/speech/service";
import { PCM_SAMPLE_RATE, type AudioFrame, type AudioListener, type Utterance } from "./audio-hooks";
import { encodeWav } from "./pcm";
import { Vad, type VadConfig, type VadEvent } from "./vad";

/** What a `call.live_audio` entry carries besides the call and the participant. */
type LiveAudioFields = Omit<Extract<LogEvent, { event: "call.live_audio" }>, "event" | "call_id" | "participant_id">;

/** Utterances of one participant waiting for the provider beyond the one it is working on. */
export const MAX_QUEUED_UTTERANCES = 3;

export interface AudioPipelineDeps {
  env: Env;
  /** Keeps the object alive for a provider call. */
  waitUntil(work: Promise<unknown>): void;
  /** The call's id, for logs (null before the call exists). */
  callId(): string | null;
  /** Appends a transcribed utterance to the transcript and broadcasts it; false if the call no longer takes it. */
  append(utterance: Utterance): boolean;
  vad?: Partial<VadConfig>;
  /** Tests only: a fixed speech selection instead of the environment's. */
  speech?: () => SpeechSelection;
}

interface Talker {
  vad: Vad;
  /** The provider work of this participant, chained. */
  queue: Promise<void>;
  /** Utterances queued and not started yet. */
  waiting: number;
  /** One is with the provider now. */
  running: boolean;
}

export class AudioPipeline {
  readonly #deps: AudioPipelineDeps;
  readonly #listeners: AudioListener[] = [];
  readonly #talkers = new Map<string, Talker>();
  #speech: SpeechSelection | null = null;

  constructor(deps: AudioPipelineDeps) {
    this.#deps = deps;
  }

  /** Registers a listener; returns the function that removes it. */
  addListener(listener: AudioListener): () => void {
    this.#listeners.push(listener);
    return () => {
      const i = this.#listeners.indexOf(listener);
      if (i >= 0) this.#listeners.splice(i, 1);
    };
  }

  /** The speech-to-text provider live transcription uses, or why there is none. */
  speech(): SpeechSelection {
    this.#speech ??= this.#deps.speech ? this.#deps.speech() : speechFromEnv(this.#deps.env);
    return this.#speech;
  }

  /** One accepted frame of a participant (ingest checked who sent it, its size, its rate). */
  accept(frame: AudioFrame): void {
    this.#emit((l) => l.frame?.(frame));
    this.#handle(frame.participant_id, this.#talker(frame.participant_id).vad.push(frame.pcm, frame.at));
  }

  /** The participant's audio stopped (left, disconnected): what was being said is finished now. */
  end(participantId: string): void {
    const talker = this.#talkers.get(participantId);
    if (!talker) return;
    this.#handle(participantId, talker.vad.flush());
  }

  /** The participant muted their transcription: what was being said is dropped, not transcribed. */
  discard(participantId: string): void {
    this.#talkers.get(participantId)?.vad.flush();
  }

  /** The agent's speech went into the call (the agent's code calls this). */
  agentAudio(audio: { bytes: Uint8Array; content_type: string; at: number }): void {
    this.#emit((l) => l.agentAudio?.(audio));
  }

  #talker(participantId: string): Talker {
    let t = this.#talkers.get(participantId);
    if (!t) {
      t = { vad: new Vad(this.#deps.vad), queue: Promise.resolve(), waiting: 0, running: false };
      this.#talkers.set(participantId, t);
    }
    return t;
  }

  #handle(participantId: string, events: VadEvent[]): void {
    for (const e of events) {
      if (e.type === "open") this.#emit((l) => l.speechStarted?.(participantId, e.at));
      else if (e.type === "utterance") this.#dispatch(participantId, e.pcm, e.started_at, e.ended_at);
    }
  }

  #dispatch(participantId: string, pcm: Int16Array, startedAt: number, endedAt: number): void {
    const selection = this.speech();
    if (!selection.provider) return;
    const talker = this.#talker(participantId);
    const audioMs = Math.round((pcm.length * 1000) / PCM_SAMPLE_RATE);
    // Up to MAX_QUEUED_UTTERANCES wait behind the one with the provider (or about to be).
    if (talker.waiting >= MAX_QUEUED_UTTERANCES + (talker.running ? 0 : 1)) {
      return this.#log(participantId, { outcome: "dropped", detail: "the speech provider is behind", audio_ms: audioMs });
    }
    talker.waiting += 1;
    const provider = selection.provider;
    const run = async () => {
      talker.waiting -= 1;
      talker.running = true;
      try {
        await transcribe();
      } finally {
        talker.running = false;
      }
    };
    const transcribe = async () => {
      const t0 = Date.now();
      const wav = encodeWav(pcm);
      try {
        const heard = await provider.transcribe(wav.buffer as ArrayBuffer, { contentType: "audio/wav" });
        const text = heard.text.trim();
        const sttMs = Date.now() - t0;
        if (text === "") return this.#log(participantId, { outcome: "no_text", provider: provider.name, audio_ms: audioMs, stt_ms: sttMs });
        const utterance: Utterance = {
          participant_id: participantId,
          text,
          started_at: new Date(startedAt).toISOString(),
          ended_at: new Date(endedAt).toISOString(),
          confidence: heard.confidence,
        };
        if (!this.#deps.append(utterance))
          return this.#log(participantId, { outcome: "dropped", detail: "the call no longer takes lines", audio_ms: audioMs });
        this.#log(participantId, { outcome: "transcribed", provider: provider.name, audio_ms: audioMs, stt_ms: sttMs, chars: text.length });
        this.#emit((l) => l.utterance?.(utterance));
      } catch (err) {
        // Nothing is appended: no text stands in for what the provider could not hear.
        const detail = err instanceof Error ? err.message : String(err);
        const outcome = /returned no text/.test(detail) ? "no_text" : "stt_failed";
        this.#log(participantId, {
          outcome,
          provider: provider.name,
          audio_ms: audioMs,
          stt_ms: Date.now() - t0,
          detail: detail.slice(0, 300),
        });
      }
    };
    talker.queue = talker.queue.then(run);
    this.#deps.waitUntil(talker.queue);
  }

  #emit(call: (l: AudioListener) => void): void {
    for (const listener of this.#listeners) {
      try {
        call(listener);
      } catch (err) {
        // A listener's bug must not stop the others or the transcription.
        console.error("audio listener threw", err);
      }
    }
  }

  #log(participantId: string, fields: LiveAudioFields): void {
    log({ event: "call.live_audio", call_id: this.#deps.callId() ?? "", participant_id: participantId, ...fields });
  }
}
