/**
 * Voice activity detection for one participant: energy-based with hysteresis, on 16 kHz mono PCM.
 * Pure (no clock, no I/O): audio goes in with its capture time, events come out.
 *
 * The audio is judged in 20 ms blocks by their RMS level in dBFS (0 dBFS = full scale):
 * - it OPENS after {@link VadConfig.onsetMs} of consecutive blocks at or above `openDb`;
 * - once open, it stays open while blocks are at or above `closeDb` (the lower threshold: the
 *   hysteresis keeps quiet syllables inside the utterance), and CLOSES after `hangoverMs` of
 *   blocks below `closeDb` (the hangover keeps pauses between words inside it);
 * - the utterance keeps `preRollMs` of audio from before the opening (the onset of the first word
 *   is quieter than the threshold) and ends with the last loud block plus the hangover's first
 *   `tailMs`;
 * - voiced audio shorter than `minSpeechMs` (a click, a cough) is dropped; an utterance reaching
 *   `maxUtteranceMs` is cut there and, if the talker goes on, the next one opens right away.
 */
import { PCM_SAMPLE_RATE } from "./audio-hooks";

export interface VadConfig {
  /** RMS level (dBFS) a block must reach to count towards opening. */
  openDb: number;
  /** RMS level (dBFS) under which a block counts as silence once open. */
  closeDb: number;
  /** Loud audio needed before the utterance opens. */
  onsetMs: number;
  /** Silence that closes an open utterance. */
  hangoverMs: number;
  /** Audio kept from before the opening. */
  preRollMs: number;
  /** Silence kept after the last loud block. */
  tailMs: number;
  /** Shorter voiced spans are dropped, never transcribed. */
  minSpeechMs: number;
  /** Longer utterances are cut at this length. */
  maxUtteranceMs: number;
}

export const VAD_DEFAULTS: Readonly<VadConfig> = {
  openDb: -40,
  closeDb: -48,
  onsetMs: 60,
  hangoverMs: 500,
  preRollMs: 200,
  tailMs: 200,
  minSpeechMs: 250,
  maxUtteranceMs: 15_000,
};

export const VAD_BLOCK_MS = 20;
const BLOCK = (PCM_SAMPLE_RATE * VAD_BLOCK_MS) / 1000;

export type VadEvent =
  | { type: "open"; at: number }
  | { type: "utterance"; pcm: Int16Array; started_at: number; ended_at: number; cut: boolean }
  | { type: "dropped"; started_at: number; ended_at: number };

/** RMS level of PCM samples in dBFS (−Infinity for digital silence). */
export function rmsDb(samples: Int16Array): number {
  if (samples.length === 0) return -Infinity;
  let sum = 0;
  for (const s of samples) sum += s * s;
  return 20 * Math.log10(Math.sqrt(sum / samples.length) / 32768);
}

interface Block {
  pcm: Int16Array;
  at: number;
}

export class Vad {
  readonly config: VadConfig;
  /** Samples of an unfinished block, and the capture time of its first sample. */
  #partial = new Int16Array(BLOCK);
  #partialLen = 0;
  #partialAt = 0;
  /** Closed state: the recent blocks (pre-roll + onset); open state: the utterance so far. */
  #blocks: Block[] = [];
  #open = false;
  #loudRun = 0;
  #quietRun = 0;
  /** Index in #blocks just after the last loud block (open state). */
  #lastLoudEnd = 0;
  #voicedBlocks = 0;

  constructor(config: Partial<VadConfig> = {}) {
    this.config = { ...VAD_DEFAULTS, ...config };
    if (this.config.closeDb > this.config.openDb) throw new RangeError("closeDb must not be above openDb");
  }

  get isOpen(): boolean {
    return this.#open;
  }

  /** Feeds samples captured from `at` (epoch ms); returns what happened, in order. */
  push(pcm: Int16Array, at: number): VadEvent[] {
    const events: VadEvent[] = [];
    let i = 0;
    while (i < pcm.length) {
      if (this.#partialLen === 0) this.#partialAt = at + (i * 1000) / PCM_SAMPLE_RATE;
      const take = Math.min(BLOCK - this.#partialLen, pcm.length - i);
      this.#partial.set(pcm.subarray(i, i + take), this.#partialLen);
      this.#partialLen += take;
      i += take;
      if (this.#partialLen === BLOCK) {
        this.#block({ pcm: this.#partial.slice(), at: this.#partialAt }, events);
        this.#partialLen = 0;
      }
    }
    return events;
  }

  /** Ends the stream (the participant left or muted): an open utterance is closed now. */
  flush(): VadEvent[] {
    const events: VadEvent[] = [];
    if (this.#open) this.#close(this.#blocks.length, events, false);
    this.#reset();
    return events;
  }

  #reset(): void {
    this.#blocks = [];
    this.#open = false;
    this.#loudRun = 0;
    this.#quietRun = 0;
    this.#lastLoudEnd = 0;
    this.#voicedBlocks = 0;
    this.#partialLen = 0;
  }

  #block(block: Block, events: VadEvent[]): void {
    const level = rmsDb(block.pcm);
    const c = this.config;
    if (!this.#open) {
      this.#blocks.push(block);
      this.#loudRun = level >= c.openDb ? this.#loudRun + 1 : 0;
      const keep = blocks(c.preRollMs) + this.#loudRun;
      if (this.#blocks.length > keep) this.#blocks.splice(0, this.#blocks.length - keep);
      if (this.#loudRun * VAD_BLOCK_MS >= c.onsetMs) {
        this.#open = true;
        this.#quietRun = 0;
        this.#voicedBlocks = this.#loudRun;
        this.#lastLoudEnd = this.#blocks.length;
        events.push({ type: "open", at: this.#blocks[this.#blocks.length - this.#loudRun]!.at });
      }
      return;
    }
    this.#blocks.push(block);
    if (level >= c.closeDb) {
      this.#quietRun = 0;
      this.#voicedBlocks += 1;
      this.#lastLoudEnd = this.#blocks.length;
    } else this.#quietRun += 1;
    if (this.#quietRun * VAD_BLOCK_MS >= c.hangoverMs) {
      this.#close(Math.min(this.#blocks.length, this.#lastLoudEnd + blocks(c.tailMs)), events, false);
      this.#afterClose(false);
    } else if (this.#blocks.length * VAD_BLOCK_MS >= c.maxUtteranceMs) {
      this.#close(this.#blocks.length, events, true);
      // The talker is still going: the next utterance starts open, with no onset to wait for.
      this.#afterClose(this.#quietRun === 0, events);
    }
  }

  #close(end: number, events: VadEvent[], cut: boolean): void {
    const kept = this.#blocks.slice(0, end);
    const first = kept[0];
    const last = kept[kept.length - 1];
    if (!first || !last) return;
    const started_at = first.at;
    const ended_at = last.at + VAD_BLOCK_MS;
    if (this.#voicedBlocks * VAD_BLOCK_MS < this.config.minSpeechMs) {
      events.push({ type: "dropped", started_at, ended_at });
      return;
    }
    const pcm = new Int16Array(kept.length * BLOCK);
    kept.forEach((b, n) => pcm.set(b.pcm, n * BLOCK));
    events.push({ type: "utterance", pcm, started_at, ended_at, cut });
  }

  #afterClose(stillTalking: boolean, events?: VadEvent[]): void {
    const last = this.#blocks[this.#blocks.length - 1];
    this.#blocks = [];
    this.#loudRun = 0;
    this.#quietRun = 0;
    this.#voicedBlocks = 0;
    this.#lastLoudEnd = 0;
    this.#open = false;
    if (stillTalking && last && events) {
      this.#open = true;
      events.push({ type: "open", at: last.at + VAD_BLOCK_MS });
    }
  }
}

function blocks(ms: number): number {
  return Math.ceil(ms / VAD_BLOCK_MS);
}
