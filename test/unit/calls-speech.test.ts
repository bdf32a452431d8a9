/**
 * The OpenAI-compatible speech provider against a fake server that checks the documented requests
 * (multipart transcriptions with verbose_json; JSON speech), the limits applied before any provider
 * runs (413/415/422), and provider selection from the environment.
 */
import { describe, expect, it, vi } from "vitest";
import { AppError } from "../../src/lib/problem";
import {
  MAX_AUDIO_BYTES,
  OpenAiCompatibleSpeech,
  SPEECH_NOT_CONFIGURED,
  WorkersAiSpeech,
  checkedSpeech,
  requireSpeech,
  speechFromEnv,
  type SpeechProvider,
} from "../../src/speech/service";

const audio = new Uint8Array([1, 2, 3, 4, 5]).buffer;
const mp3 = new Uint8Array([0xff, 0xfb, 0x90, 0x64]);

/** A fake OpenAI-compatible server: records each request and answers with `reply(req)`. */
function fakeServer(reply: (req: Request) => Response | Promise<Response>) {
  const seen: Request[] = [];
  const fetchFn = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init);
    seen.push(req.clone());
    return reply(req);
  });
  return { fetchFn: fetchFn as unknown as typeof fetch, seen };
}

describe("OpenAiCompatibleSpeech", () => {
  it("transcribe: multipart file/model/response_format/language, verbose_json answer", async () => {
    const { fetchFn, seen } = fakeServer(async (req) => {
      expect(req.method).toBe("POST");
      expect(req.url).toBe("http://speech.local:8000/v1/audio/transcriptions");
      expect(req.headers.get("authorization")).toBe("Bearer sk-local");
      expect(req.headers.get("content-type")).toMatch(/^multipart\/form-data; boundary=/);
      const form = await req.formData();
      const file = form.get("file") as File;
      expect(file.name).toBe("audio.webm");
      expect(file.type).toBe("audio/webm");
      expect(new Uint8Array(await file.arrayBuffer())).toEqual(new Uint8Array(audio));
      expect(form.get("model")).toBe("Systran/faster-whisper-small");
      expect(form.get("response_format")).toBe("verbose_json");
      expect(form.get("language")).toBe("en");
      return Response.json({
        task: "transcribe",
        language: "english",
        duration: 3.2,
        text: "Ship it.",
        segments: [{ id: 0, start: 0, end: 3.2, text: "Ship it.", avg_logprob: -0.2, no_speech_prob: 0.01 }],
      });
    });
    const provider = new OpenAiCompatibleSpeech({
      baseUrl: "http://speech.local:8000/",
      apiKey: "sk-local",
      sttModel: "Systran/faster-whisper-small",
      fetch: fetchFn,
    });
    const result = await provider.transcribe(audio, { contentType: "audio/webm;codecs=opus", language: "en" });
    expect(result).toEqual({ text: "Ship it.", language: "english", confidence: Math.exp(-0.2), duration_seconds: 3.2 });
    expect(seen).toHaveLength(1);
  });

  it("synthesize: JSON {model, input, voice, response_format: mp3} → audio bytes; no key → no Authorization", async () => {
    const { fetchFn } = fakeServer(async (req) => {
      expect(req.url).toBe("https://api.example.com/v1/audio/speech");
      expect(req.headers.get("authorization")).toBeNull();
      expect(req.headers.get("content-type")).toBe("application/json");
      expect(await req.json()).toEqual({ model: "tts-1", input: "Hello", voice: "alloy", response_format: "mp3" });
      return new Response(mp3, { headers: { "Content-Type": "audio/mpeg" } });
    });
    // A base URL that already ends in /v1 is accepted.
    const out = await new OpenAiCompatibleSpeech({ baseUrl: "https://api.example.com/v1", fetch: fetchFn }).synthesize("Hello");
    expect(out.contentType).toBe("audio/mpeg");
    expect(new Uint8Array(out.audio)).toEqual(mp3);
  });

  it("empty text, a malformed answer, a JSON error page or an HTTP error are errors (503 via checkedSpeech)", async () => {
    const answers: (() => Response)[] = [
      () => Response.json({ text: "" }),
      () => Response.json({ transcript: "hi" }),
      () => new Response("not json"),
      () => Response.json({ error: { message: "model not found" } }, { status: 404 }),
    ];
    for (const answer of answers) {
      const { fetchFn } = fakeServer(answer);
      const speech = checkedSpeech(new OpenAiCompatibleSpeech({ baseUrl: "http://speech.local", fetch: fetchFn }));
      const err = await speech.transcribe(audio, { contentType: "audio/wav" }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AppError);
      expect(err).toMatchObject({ code: "service_unavailable", status: 503, extensions: { provider: "openai-compatible" } });
    }
    const { fetchFn } = fakeServer(() => Response.json({ error: "oops" }));
    await expect(
      checkedSpeech(new OpenAiCompatibleSpeech({ baseUrl: "http://speech.local", fetch: fetchFn })).synthesize("Hi"),
    ).rejects.toMatchObject({
      code: "service_unavailable",
    });
    const down = fakeServer(() => new Response("busy", { status: 503 }));
    const err = await checkedSpeech(new OpenAiCompatibleSpeech({ baseUrl: "http://speech.local", fetch: down.fetchFn }))
      .synthesize("Hi")
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "service_unavailable", headers: { "Retry-After": "5" }, extensions: { transient: true } });
  });
});

describe("limits (checked before the provider runs)", () => {
  const never: SpeechProvider = {
    name: "never",
    transcribe: () => Promise.reject(new Error("must not be called")),
    synthesize: () => Promise.reject(new Error("must not be called")),
  };
  const speech = checkedSpeech(never);

  it("415 for other content types, 413 above 25 MiB, 422 for empty audio", async () => {
    for (const type of ["video/mp4", "text/plain", "", null]) {
      await expect(speech.transcribe(audio, { contentType: type })).rejects.toMatchObject({ code: "unsupported_media_type", status: 415 });
    }
    await expect(speech.transcribe(new ArrayBuffer(MAX_AUDIO_BYTES + 1), { contentType: "audio/wav" })).rejects.toMatchObject({
      code: "payload_too_large",
      status: 413,
    });
    await expect(speech.transcribe(new ArrayBuffer(0), { contentType: "audio/ogg" })).rejects.toMatchObject({
      code: "validation_failed",
      status: 422,
    });
  });

  it("every listed content type passes (case and parameters ignored)", async () => {
    for (const type of ["audio/wav", "audio/x-wav", "audio/mpeg", "audio/mp3", "audio/webm", "Audio/OGG; codecs=opus", "audio/flac"]) {
      await expect(speech.transcribe(audio, { contentType: type })).rejects.toMatchObject({ code: "service_unavailable" });
    }
  });

  it("422 for blank text or more than 2000 characters", async () => {
    await expect(speech.synthesize("   ")).rejects.toMatchObject({ code: "validation_failed", status: 422, errors: [{ path: "text" }] });
    await expect(speech.synthesize("a".repeat(2001))).rejects.toMatchObject({ code: "validation_failed", status: 422 });
    await expect(speech.synthesize("a".repeat(2000))).rejects.toMatchObject({ code: "service_unavailable" });
  });
});

describe("speechFromEnv", () => {
  const fakeAi = { run: async () => ({}) };

  it("nothing configured → null with a reason naming the settings; requireSpeech → 503", () => {
    expect(speechFromEnv({})).toEqual({ provider: null, reason: SPEECH_NOT_CONFIGURED });
    // The AI binding alone is not enough: locally it exists but cannot run.
    expect(speechFromEnv({ AI: fakeAi, SPEECH_BASE_URL: "", SPEECH_PROVIDER: "" }).provider).toBeNull();
    const err = (() => {
      try {
        requireSpeech({});
      } catch (e) {
        return e;
      }
    })();
    expect(err).toMatchObject({ code: "service_unavailable", status: 503 });
    expect((err as Error).message).toContain("SPEECH_BASE_URL");
    expect((err as Error).message).toContain("SPEECH_PROVIDER=workers-ai");
  });

  it("SPEECH_BASE_URL wins; SPEECH_PROVIDER=workers-ai needs the binding; bad values are reasons", () => {
    expect(speechFromEnv({ SPEECH_BASE_URL: "http://localhost:8000", SPEECH_PROVIDER: "workers-ai", AI: fakeAi }).provider).toBeInstanceOf(
      OpenAiCompatibleSpeech,
    );
    const ai = speechFromEnv({ SPEECH_PROVIDER: "Workers-AI", AI: fakeAi }).provider;
    expect(ai).toBeInstanceOf(WorkersAiSpeech);
    expect((ai as WorkersAiSpeech).ttsModel).toBe("@cf/deepgram/aura-1");
    expect(
      (speechFromEnv({ SPEECH_PROVIDER: "workers-ai", SPEECH_TTS_MODEL: "@cf/myshell-ai/melotts", AI: fakeAi }).provider as WorkersAiSpeech)
        .ttsModel,
    ).toBe("@cf/myshell-ai/melotts");
    expect(speechFromEnv({ SPEECH_PROVIDER: "workers-ai" }).reason).toContain("no AI binding");
    expect(speechFromEnv({ SPEECH_PROVIDER: "workers-ai", SPEECH_TTS_MODEL: "tts-1", AI: fakeAi }).reason).toContain("SPEECH_TTS_MODEL");
    expect(speechFromEnv({ SPEECH_PROVIDER: "whisper" }).reason).toContain('Unknown SPEECH_PROVIDER "whisper"');
    expect(speechFromEnv({ SPEECH_BASE_URL: "localhost:8000" }).reason).toContain("http(s) URL");
  });
});
