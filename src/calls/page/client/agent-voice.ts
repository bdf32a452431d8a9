/**
 * The agent's voice: audio that arrives on the socket (`agent_speech`), decoded and played back to
 * back. `agent_speech_stop` (a participant started talking over the agent) stops what is playing
 * and drops what was queued or is still being decoded: each clip belongs to a generation, and a
 * stop starts a new one.
 */
import { hooks, session, type PlayedSpeech } from "./call-state";
import type { AgentSpeechFrame } from "./protocol";

/** When the clip scheduled last ends (AudioContext time): the next one starts there. */
let speechEnd = 0;
let generation = 0;
const playing = new Set<{ source: AudioBufferSourceNode; entry: PlayedSpeech }>();

/** The current generation, taken when a clip is queued. */
export function speechGeneration(): number {
  return generation;
}

/** Stops every clip now and forgets the queue. */
export function stopSpeech(): void {
  generation += 1;
  for (const clip of playing) {
    clip.entry.stopped = true;
    try {
      clip.source.stop();
    } catch {
      // Not started yet or already stopped.
    }
  }
  playing.clear();
  speechEnd = 0;
}

/** Decodes `audio` (base64, msg.audio) and schedules it after whatever is still playing, unless stopped meanwhile. */
export async function playSpeech(msg: AgentSpeechFrame, audio: string, queuedIn = generation): Promise<void> {
  if (queuedIn !== generation) return;
  if (!session.audioCtx) session.audioCtx = new AudioContext();
  const ctx = session.audioCtx;
  if (ctx.state !== "running") await ctx.resume().catch(() => undefined);
  const bytes = Uint8Array.from(atob(audio), (c) => c.charCodeAt(0));
  const buffer = await ctx.decodeAudioData(bytes.buffer);
  if (queuedIn !== generation) return;
  const source = ctx.createBufferSource();
  source.buffer = buffer;
  source.connect(ctx.destination);
  const startAt = Math.max(ctx.currentTime, speechEnd);
  speechEnd = startAt + buffer.duration;
  const entry: PlayedSpeech = {
    text: msg.text,
    content_type: msg.content_type,
    duration: buffer.duration,
    sample_rate: buffer.sampleRate,
    context_state: ctx.state,
    ended: false,
    stopped: false,
  };
  hooks.played.push(entry);
  const clip = { source, entry };
  playing.add(clip);
  source.onended = () => {
    entry.ended = true;
    playing.delete(clip);
  };
  source.start(startAt);
}
