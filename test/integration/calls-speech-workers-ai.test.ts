/**
 * Workers AI speech with `vi.spyOn(env.AI, "run")`: the exact model ids and input shapes
 * (whisper-large-v3-turbo takes base64 audio; aura-1 is called with returnRawResponse; melotts takes
 * {prompt, lang}), answered with each model's real output shape. The local binding's own
 * "needs to be run remotely" error becomes a 503.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AppError } from "../../src/lib/problem";
import { checkedSpeech, SpeechError, WorkersAiSpeech } from "../../src/speech/service";
import { AURA_MODEL, MELOTTS_MODEL, WHISPER_MODEL } from "../../src/speech/providers/workers-ai";

type RunImpl = (model: string, input: Record<string, unknown>, options?: { returnRawResponse?: boolean }) => Promise<unknown>;
/** Spy on the real binding; `Ai.run`'s overloads are keyed on model names, so the impl is typed loosely. */
function mockRun(impl: RunImpl) {
  return vi.spyOn(env.AI, "run").mockImplementation(impl as never);
}

const wav = new Uint8Array([0x52, 0x49, 0x46, 0x46, 1, 2, 3, 250, 251, 252]).buffer;
const wavBase64 = btoa(String.fromCharCode(...new Uint8Array(wav)));

const whisperAnswer = {
  text: " Hello from the call. ",
  word_count: 4,
  transcription_info: { language: "en", language_probability: 0.98, duration: 2.5, duration_after_vad: 2.1 },
  segments: [
    { start: 0, end: 1.2, text: " Hello", avg_logprob: -0.1, no_speech_prob: 0.01, compression_ratio: 1, words: [] },
    { start: 1.2, end: 2.4, text: " from the call.", avg_logprob: -0.3, no_speech_prob: 0.02, compression_ratio: 1, words: [] },
  ],
  vtt: "WEBVTT\n",
};

describe("WorkersAiSpeech", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("transcribe: whisper-large-v3-turbo with base64 audio, task and language", async () => {
    const run = mockRun(async (model, input, options) => {
      expect(model).toBe("@cf/openai/whisper-large-v3-turbo");
      expect(input).toEqual({ audio: wavBase64, task: "transcribe", language: "en" });
      expect(options).toBeUndefined();
      return whisperAnswer;
    });
    const result = await new WorkersAiSpeech(env.AI).transcribe(wav, { contentType: "audio/wav", language: "en" });
    expect(run).toHaveBeenCalledTimes(1);
    expect(result.text).toBe("Hello from the call.");
    expect(result.language).toBe("en");
    expect(result.duration_seconds).toBe(2.5);
    // mean of exp(avg_logprob) over segments
    expect(result.confidence).toBeCloseTo((Math.exp(-0.1) + Math.exp(-0.3)) / 2, 10);
  });

  it("transcribe: confidence falls back to language_probability, then null; no language → und", async () => {
    mockRun(async (_model, input) => {
      expect(input).toEqual({ audio: wavBase64, task: "transcribe" });
      return { text: "hi", transcription_info: { language: "de", language_probability: 0.7, duration: 1 } };
    });
    expect(await new WorkersAiSpeech(env.AI).transcribe(wav, { contentType: "audio/wav" })).toEqual({
      text: "hi",
      language: "de",
      confidence: 0.7,
      duration_seconds: 1,
    });
    vi.restoreAllMocks();
    mockRun(async () => ({ text: "hi" }));
    expect(await new WorkersAiSpeech(env.AI).transcribe(wav, { contentType: "audio/wav" })).toEqual({
      text: "hi",
      language: "und",
      confidence: null,
      duration_seconds: null,
    });
  });

  it("an empty or malformed answer is an error, never an invented transcript", async () => {
    for (const answer of [{ text: "   " }, { transcript: "hi" }, null, "hi"]) {
      vi.restoreAllMocks();
      mockRun(async () => answer);
      const err = await checkedSpeech(new WorkersAiSpeech(env.AI))
        .transcribe(wav, { contentType: "audio/wav" })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AppError);
      expect(err).toMatchObject({ code: "service_unavailable", status: 503, extensions: { provider: "workers-ai" } });
    }
  });

  it("the local binding's 'needs to be run remotely' error becomes a 503 naming the provider", async () => {
    // The real, unmocked local binding (workerd also logs its own uncaught copy of the error).
    const direct = await new WorkersAiSpeech(env.AI).transcribe(wav, { contentType: "audio/wav" }).catch((e: unknown) => e);
    expect(direct).toBeInstanceOf(SpeechError);
    expect(direct).toMatchObject({ provider: "workers-ai", transient: false });
    mockRun(async () => {
      throw new Error("Binding AI needs to be run remotely");
    });
    const err = await checkedSpeech(new WorkersAiSpeech(env.AI))
      .synthesize("Hello")
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "service_unavailable", extensions: { provider: "workers-ai", transient: false } });
    expect((err as Error).message).toContain("cannot run here");
    expect((err as Error).message).toContain("SPEECH_BASE_URL");
  });

  it("synthesize (aura-1, default): {text, speaker, encoding: mp3} with returnRawResponse → MP3 bytes", async () => {
    const mp3 = new Uint8Array([0xff, 0xfb, 0x90, 0x64, 0, 1]);
    mockRun(async (model, input, options) => {
      expect(model).toBe(AURA_MODEL);
      expect(input).toEqual({ text: "Hello there", speaker: "luna", encoding: "mp3" });
      expect(options).toEqual({ returnRawResponse: true });
      return new Response(mp3, { headers: { "Content-Type": "audio/mpeg" } });
    });
    const out = await new WorkersAiSpeech(env.AI).synthesize("Hello there", "luna");
    expect(out.contentType).toBe("audio/mpeg");
    expect(new Uint8Array(out.audio)).toEqual(mp3);
  });

  it("aura-1: an unknown voice is 422; an empty body is an error", async () => {
    const run = mockRun(async () => new Response(new Uint8Array(0)));
    await expect(new WorkersAiSpeech(env.AI).synthesize("Hi", "nobody")).rejects.toMatchObject({ code: "validation_failed", status: 422 });
    expect(run).not.toHaveBeenCalled();
    await expect(new WorkersAiSpeech(env.AI).synthesize("Hi")).rejects.toMatchObject({
      provider: "workers-ai",
      message: expect.stringContaining("no audio"),
    });
  });

  it("synthesize (melotts): {prompt, lang} → {audio: base64}", async () => {
    const mp3 = new Uint8Array([0x49, 0x44, 0x33, 4, 0, 200]);
    mockRun(async (model, input, options) => {
      expect(model).toBe(MELOTTS_MODEL);
      expect(input).toEqual({ prompt: "Hola", lang: "es" });
      expect(options).toBeUndefined();
      return { audio: btoa(String.fromCharCode(...mp3)) };
    });
    const out = await new WorkersAiSpeech(env.AI, { ttsModel: MELOTTS_MODEL }).synthesize("Hola", "es");
    expect(out.contentType).toBe("audio/mpeg");
    expect(new Uint8Array(out.audio)).toEqual(mp3);
    vi.restoreAllMocks();
    mockRun(async () => ({ audio: "" }));
    await expect(new WorkersAiSpeech(env.AI, { ttsModel: MELOTTS_MODEL }).synthesize("Hola")).rejects.toBeInstanceOf(SpeechError);
  });

  it("whisper model id constant matches the documented one", () => {
    expect(WHISPER_MODEL).toBe("@cf/openai/whisper-large-v3-turbo");
  });
});
