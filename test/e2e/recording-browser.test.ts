/**
 * The recording indicator in a real browser (docs/voice.md#recordings): a headless Chromium page
 * whose fake microphone plays a sentence spoken by espeak-ng joins a recorded call on a real
 * `wrangler dev --local` without any speech provider. The page shows the indicator before it taps
 * the microphone, its audio becomes a recording listed on the call, and the download is a 16 kHz
 * WAV that is not silent. A page in a call without recording shows no indicator and sends nothing.
 *
 * Runs test/e2e/browser/recording-runner.ts in a loopback-only network namespace and asserts on
 * its report. Needs Debian's `chromium`, `espeak-ng`, `unshare` and `ip`; missing any FAILS it.
 */
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runBrowserRunner } from "./helpers/browser-runner";
import { PROJECT_ROOT } from "./helpers/local-server";

const RUNNER = join(PROJECT_ROOT, "test/e2e/browser/recording-runner.ts");
const RUN_TIMEOUT_MS = 150_000;

let report: any;

beforeAll(async () => {
  report = await runBrowserRunner(RUNNER, RUN_TIMEOUT_MS);
}, RUN_TIMEOUT_MS + 20_000);

describe("a recorded call in Chromium", () => {
  it("runs to the end", () => {
    expect(report.fatal ?? null).toBeNull();
    expect(report.ok).toBe(true);
    expect(report.pageErrors).toEqual([]);
  });

  it("shows the recording indicator, before the page taps the microphone", () => {
    expect(report.joined.indicator).toEqual({
      hidden: false,
      visible: true,
      text: "● This call is being recorded: your microphone is stored.",
    });
    const events: string[] = report.afterRecording.events;
    expect(events).toContain("live_audio_started");
    expect(events.indexOf("recording")).toBeGreaterThanOrEqual(0);
    expect(events.indexOf("recording")).toBeLessThan(events.indexOf("live_audio_started"));
  });

  it("stores the page's microphone as a recording the API lists and serves as a non-silent 16 kHz WAV", () => {
    const mine = report.recordings.find((r: any) => r.participant_id === report.participantId);
    expect(mine).toMatchObject({ track: "participant", content_type: "audio/wav" });
    expect(mine.duration_seconds).toBeGreaterThanOrEqual(3);
    expect(report.download).toMatchObject({ status: 200, contentType: "audio/wav" });
    expect(report.download.wav).toMatchObject({ audioFormat: 1, channels: 1, sampleRate: 16_000, bitsPerSample: 16 });
    expect(report.download.wav.durationSeconds).toBeGreaterThanOrEqual(3);
    expect(report.download.rms).toBeGreaterThan(100);
  });

  it("a call without recording shows no indicator, and with no speech provider the page sends no audio", () => {
    expect(report.unrecorded.page.indicator.hidden).toBe(true);
    expect(report.unrecorded.page.events).not.toContain("recording");
    expect(report.unrecorded.page.liveAudio.frames).toBe(0);
    expect(report.unrecorded.recordings).toEqual([]);
  });
});
