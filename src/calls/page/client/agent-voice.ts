/** The agent's voice: audio that arrives on the socket (`agent_speech`), decoded and played back to back. */
import { hooks, session, type PlayedSpeech } from "./call-state";
import type { AgentSpeechFrame } from "./protocol";

/** When the clip scheduled last ends (AudioContext time): the next one starts there. */
let speechEnd = 0;

/** Decodes `audio` (base64, msg.audio) and schedules it after whatever is still playing. */
export async function playSpeech(msg: AgentSpeechFrame, audio: string): Promise<void> {
  if (!session.audioCtx) session.audioCtx = new AudioContext();
  const ctx = session.audioCtx;
  if (ctx.state !== "running") await ctx.resume().catch(() => undefined);
  const bytes = Uint8Array.from(atob(audio), (c) => c.charCodeAt(0));
  const buffer = await ctx.decodeAudioData(bytes.buffer);
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
  };
  hooks.played.push(entry);
  source.onended = () => (entry.ended = true);
  source.start(startAt);
}
