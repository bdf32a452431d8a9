/**
 * The answering agent heard in a real Chromium page (docs/voice.md#the-answering-agent): the page
 * plays the agent's sentences (an AnalyserNode tapped into its output hears them: not silence), and
 * a participant talking over the agent stops the page's playback and the rest of the answer.
 * test/e2e/browser/agent-voice-runner.ts does the work inside a loopback-only network namespace
 * (test/e2e/helpers/browser-runner.ts) and prints a report; this file asserts on it. Needs
 * Debian's `chromium`, `espeak-ng`, `unshare` and `ip`; missing any FAILS the test.
 */
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runBrowserRunner } from "./helpers/browser-runner";
import { PROJECT_ROOT } from "./helpers/local-server";

const RUNNER = join(PROJECT_ROOT, "test/e2e/browser/agent-voice-runner.ts");
const RUN_TIMEOUT_MS = 150_000;
/** RMS of the page's output above which it is sound, not silence (espeak speech is around 0.1). */
const AUDIBLE = 0.01;

let report: any;

beforeAll(async () => {
  report = await runBrowserRunner(RUNNER, RUN_TIMEOUT_MS);
}, RUN_TIMEOUT_MS + 20_000);

describe("a Chromium page in a call with an agent in auto mode", () => {
  it("plays both sentences of the agent's answer, and they are not silent", () => {
    expect(report.firstTranscribe).toBe(200);
    expect(report.answer.played.map((p: any) => [p.text, p.content_type, p.ended])).toEqual([
      ["The release is on Friday.", "audio/wav", true],
      ["Dana will approve it.", "audio/wav", true],
    ]);
    for (const clip of report.answer.played) expect(clip.duration).toBeGreaterThan(0.5);
    expect(report.answer.peak).toBeGreaterThan(AUDIBLE);
    expect(report.answer.agentSpeech).toBe("Dana will approve it.");
  });

  it("stops playing when a participant talks over the agent, and nothing of the rest is played or recorded", () => {
    const { bargeIn } = report;
    expect(report.secondTranscribe).toBe(200);
    expect(bargeIn.stopFrame).toMatchObject({ type: "agent_speech_stop", reason: "barge_in" });
    expect(bargeIn.levelWhilePlaying).toBeGreaterThan(AUDIBLE / 2);
    expect(bargeIn.levelAfterStop).toBeLessThan(AUDIBLE / 10);
    expect(bargeIn.played).toHaveLength(3);
    expect(bargeIn.played[2]).toMatchObject({ text: "Here is the first part of a long answer.", stopped: true });
    expect(bargeIn.llmClosedEarly).toBe(true);
    expect(bargeIn.transcript.filter((l: string[]) => String(l[1]).includes("And the rest"))).toEqual([]);
    expect(bargeIn.transcript).toContainEqual(["agent_event", "Stopped speaking: a participant started talking (1 sentence(s) spoken)."]);
  });

  it("had no page errors and every provider request followed its contract", () => {
    expect(report.pageErrors).toEqual([]);
    expect(report.fakeErrors).toEqual([]);
  });
});
