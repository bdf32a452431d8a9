/**
 * The call's audio pipeline (durable-objects/call-session/audio-pipeline.ts), the seam the
 * transcript, the answering agent and the recorder share: what its listeners see, in which order,
 * and what reaches the speech provider.
 */
import { describe, expect, it } from "vitest";
import type { Utterance } from "../../durable-objects/call-session/audio-hooks";
import { AudioPipeline, MAX_QUEUED_UTTERANCES } from "../../durable-objects/call-session/audio-pipeline";
import type { SpeechProvider, Transcription } from "../../src/speech/service";
import { concat, tone } from "../helpers/audio";

const RATE = 16_000;
const T0 = 1_700_000_000_000;

/** A pipeline with a scripted provider; `appendOk` decides whether the call still takes lines. */
function harness(answer: (n: number) => Promise<Transcription>, appendOk = true) {
  const events: string[] = [];
  const appended: Utterance[] = [];
  const uploads: ArrayBuffer[] = [];
  const work: Promise<unknown>[] = [];
  let calls = 0;
  const provider: SpeechProvider = {
    name: "scripted",
    transcribe: async (audio) => {
      uploads.push(audio);
      return answer(calls++);
    },
    synthesize: () => Promise.reject(new Error("not used")),
  };
  const pipeline = new AudioPipeline({
    env: {} as Env,
    waitUntil: (p) => void work.push(p),
    callId: () => "call_test",
    append: (u) => {
      events.push(`append:${u.text}`);
      appended.push(u);
      return appendOk;
    },
    speech: () => ({ provider }),
  });
  let at = T0;
  const feed = (participant: string, pcm: Int16Array) => {
    for (let i = 0; i < pcm.length; i += 640) {
      const frame = pcm.subarray(i, i + 640);
      pipeline.accept({ participant_id: participant, pcm: frame, at });
      at += (frame.length * 1000) / RATE;
    }
  };
  const settle = async () => {
    while (work.length) await work.shift();
  };
  return { pipeline, events, appended, uploads, feed, settle };
}

const heard = (text: string): Transcription => ({ text, language: "en", confidence: 0.5, duration_seconds: null });
const speech = () => concat(tone(200, -Infinity), tone(600, -20), tone(700, -Infinity));

describe("audio pipeline listeners", () => {
  it("frame for every frame, speechStarted when voice opens, utterance after the line is appended", async () => {
    const h = harness(async () => heard("hello"));
    let frames = 0;
    h.pipeline.addListener({
      frame: () => void frames++,
      speechStarted: (p) => void h.events.push(`started:${p}`),
      utterance: (u) => void h.events.push(`utterance:${u.participant_id}:${u.text}`),
    });
    const pcm = speech();
    h.feed("part_a", pcm);
    await h.settle();
    expect(frames).toBe(Math.ceil(pcm.length / 640));
    expect(h.events).toEqual(["started:part_a", "append:hello", "utterance:part_a:hello"]);
    expect(h.appended[0]).toMatchObject({ participant_id: "part_a", text: "hello", confidence: 0.5 });
    expect(Date.parse(h.appended[0]!.ended_at) - Date.parse(h.appended[0]!.started_at)).toBe(1000);
    // The provider got a WAV of exactly that utterance.
    expect(new TextDecoder().decode(new Uint8Array(h.uploads[0]!, 0, 4))).toBe("RIFF");
    expect((h.uploads[0]!.byteLength - 44) / 2 / RATE).toBe(1);
  });

  it("a listener that throws does not stop the others nor the transcript; removed listeners hear nothing", async () => {
    const h = harness(async () => heard("still"));
    const seen: string[] = [];
    h.pipeline.addListener({
      speechStarted: () => {
        throw new Error("buggy listener");
      },
    });
    const remove = h.pipeline.addListener({ utterance: () => void seen.push("removed") });
    h.pipeline.addListener({ utterance: (u) => void seen.push(u.text) });
    remove();
    h.feed("part_a", speech());
    await h.settle();
    expect(seen).toEqual(["still"]);
  });

  it("empty text, a failure, or a call that no longer takes lines: no utterance event, nothing invented", async () => {
    const h = harness(async (n) => {
      if (n === 0) return heard("  ");
      throw new Error("provider down");
    });
    const utterances: string[] = [];
    h.pipeline.addListener({ utterance: (u) => void utterances.push(u.text) });
    h.feed("part_a", speech());
    h.feed("part_a", speech());
    await h.settle();
    expect(h.uploads).toHaveLength(2);
    expect(h.appended).toEqual([]);
    expect(utterances).toEqual([]);
    const closed = harness(async () => heard("late"), false);
    const late: string[] = [];
    closed.pipeline.addListener({ utterance: (u) => void late.push(u.text) });
    closed.feed("part_a", speech());
    await closed.settle();
    expect(late).toEqual([]);
  });

  it("one provider request at a time per participant, in order; too many waiting are dropped", async () => {
    const releases: (() => void)[] = [];
    const h = harness((n) => new Promise((resolve) => releases.push(() => resolve(heard(`u${n}`)))));
    for (let i = 0; i < MAX_QUEUED_UTTERANCES + 3; i++) h.feed("part_a", speech());
    // The first is with the provider, MAX_QUEUED_UTTERANCES wait, the rest were dropped.
    await Promise.resolve();
    expect(releases).toHaveLength(1);
    while (releases.length) {
      releases.shift()!();
      await new Promise((r) => setTimeout(r, 0));
    }
    await h.settle();
    expect(h.appended.map((u) => u.text)).toEqual(Array.from({ length: MAX_QUEUED_UTTERANCES + 1 }, (_, i) => `u${i}`));
  });

  it("discard drops what a participant was saying; end finishes it", async () => {
    const h = harness(async () => heard("kept"));
    h.feed("part_a", tone(600, -20));
    h.pipeline.discard("part_a");
    h.feed("part_b", tone(600, -20));
    h.pipeline.end("part_b");
    await h.settle();
    expect(h.appended.map((u) => u.participant_id)).toEqual(["part_b"]);
  });
});
