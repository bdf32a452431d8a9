/**
 * Live transcription in a real browser (docs/voice.md): two headless Chromium pages whose fake
 * microphone plays a sentence spoken by espeak-ng join one peer-to-peer call on a real
 * `wrangler dev --local`; their AudioWorklet sends 16 kHz PCM over their sockets; the call object
 * cuts utterances and sends each as WAV to a local OpenAI-compatible transcriber, whose answer
 * appears on both pages. Then a server with no speech provider: the page says why and sends nothing.
 *
 * Runs test/e2e/browser/live-transcription-runner.ts in a loopback-only network namespace and
 * asserts on its report. Needs Debian's `chromium`, `espeak-ng`, `unshare` and `ip`; missing any
 * of them FAILS the test.
 */
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runBrowserRunner } from "./helpers/browser-runner";
import { PROJECT_ROOT } from "./helpers/local-server";

const RUNNER = join(PROJECT_ROOT, "test/e2e/browser/live-transcription-runner.ts");
const RUN_TIMEOUT_MS = 240_000;
const TEXT = "Please schedule the design review for Thursday morning.";

let report: any;

beforeAll(async () => {
  report = await runBrowserRunner(RUNNER, RUN_TIMEOUT_MS);
}, RUN_TIMEOUT_MS + 20_000);

describe("live transcription between two Chromium pages", () => {
  it("serves the microphone tap as a same-origin script", () => {
    expect(report.worklet).toEqual({ status: 200, contentType: "text/javascript; charset=utf-8", registers: true });
    for (const side of ["alice", "bob"] as const) {
      const started = report.spoken[side].events.find((e: any) => e.name === "live_audio_started");
      expect(started).toBeDefined();
      expect(report.spoken[side].events).toContainEqual({ name: "live_transcription", detail: { available: true, reason: null } });
      expect(report.spoken[side].liveAudio.frames).toBeGreaterThan(0);
      expect(report.spoken[side].notice.hidden).toBe(true);
    }
  });

  it("the transcriber got real WAV audio of about the sentence's length", () => {
    const speech = report.wav.speechSeconds as number;
    expect(speech).toBeGreaterThan(1.5);
    const ok = report.heard.filter((h: any) => !h.error);
    expect(ok.length).toBeGreaterThanOrEqual(2);
    expect(report.heard.filter((h: any) => h.error)).toEqual([]);
    for (const h of ok) {
      expect(h).toMatchObject({ model: "whisper-1", responseFormat: "verbose_json", fileName: "audio.wav", fileType: "audio/wav" });
      expect(h).toMatchObject({ sampleRate: 16_000, channels: 1, bitsPerSample: 16 });
      expect(h.rms).toBeGreaterThan(0.005);
    }
    // Each utterance: the sentence plus the detector's pre-roll and tail (0.4 s); a generous band.
    const full = ok.filter((h: any) => h.seconds > speech - 0.6 && h.seconds < speech + 1.2);
    expect(full.length).toBeGreaterThanOrEqual(2);
  });

  it("each participant's line appears on both pages and in the API with its times and confidence", () => {
    for (const side of ["alice", "bob"] as const) {
      const shown = report.spoken[side].transcript;
      expect(shown).toContain(`Alice:${TEXT}`);
      expect(shown).toContain(`Bob:${TEXT}`);
      expect(report.spoken[side].errors).toEqual([]);
    }
    const lines = report.apiTranscript as any[];
    const { alice, bob } = report.ids;
    const seconds = (l: any) => (Date.parse(l.ended_at) - Date.parse(l.started_at)) / 1000;
    for (const id of [alice, bob]) {
      const mine = lines.filter((l) => l.participant_id === id);
      for (const line of mine)
        expect(line).toMatchObject({ text: TEXT, source: "speech_to_text", confidence: expect.closeTo(Math.exp(-0.05), 5) });
      // A page may join in the middle of the looping sentence: its first line can be shorter.
      const lengths = mine.map(seconds);
      expect(lengths.some((s) => s > report.wav.speechSeconds - 0.6 && s < report.wav.speechSeconds + 1.2)).toBe(true);
    }
    expect(report.pageErrors).toEqual([]);
  });

  it("a participant who stops transcribing themselves adds no more lines while the other's go on", () => {
    const m = report.muted;
    expect(m.aliceAfter).toBe(m.aliceBefore);
    expect(m.bobAfter).toBeGreaterThanOrEqual(m.bobBefore + 2);
    expect(m.aliceButton).toEqual({ text: "Transcribe me", disabled: false, pressed: "true" });
  });
});

describe("no speech provider configured", () => {
  it("the page says live transcription is unavailable, sends no audio; no text, nothing 5xx", () => {
    const n = report.noProvider;
    expect(n.page.notice.hidden).toBe(false);
    expect(n.page.notice.text).toMatch(/^Live transcription unavailable: .*SPEECH_BASE_URL/);
    expect(n.page.button.disabled).toBe(true);
    expect(n.page.liveAudio.frames).toBe(0);
    expect(n.page.transcript).toEqual([]);
    expect(n.transcript).toEqual([]);
    expect(n.heardDuring).toBe(0);
    expect(n.health).toMatchObject({ ok: false, detail: expect.stringContaining("live transcription unavailable") });
    expect(n.pageErrors).toEqual([]);
    expect(n.serverErrors).toEqual([]);
  });
});
