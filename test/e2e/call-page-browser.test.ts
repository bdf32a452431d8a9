/**
 * The call page in a real browser (docs/calls-and-speech.md): two headless Chromium pages join one call through a
 * real `wrangler dev --local` in peer-to-peer mode, send each other microphone and camera media,
 * and play the agent's voice (`POST …/speak` → `agent_speech` → decodeAudioData).
 *
 * Everything runs in a loopback-only network namespace so no packet leaves 127.0.0.1: this test
 * spawns test/e2e/browser/call-runner.ts under `unshare -rn` (a user + network namespace; plain
 * `unshare -n` as root when user namespaces are off; test/e2e/helpers/browser-runner.ts), and
 * asserts on the JSON report it prints. Needs Debian's `chromium` (`apt-get install -y chromium`;
 * CHROMIUM_PATH overrides /usr/bin/chromium), `unshare` (util-linux) and `ip` (iproute2). Missing
 * any of them FAILS the test.
 */
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runBrowserRunner } from "./helpers/browser-runner";
import { PROJECT_ROOT } from "./helpers/local-server";

const RUNNER = join(PROJECT_ROOT, "test/e2e/browser/call-runner.ts");
const RUN_TIMEOUT_MS = 150_000;
const XSS_NAME = `<img src=x onerror="window.__xss=1">Bob & "friends"`;

let report: any;

beforeAll(async () => {
  report = await runBrowserRunner(RUNNER, RUN_TIMEOUT_MS);
}, RUN_TIMEOUT_MS + 20_000);

describe("the call page over HTTP", () => {
  it("is HTML with a strict CSP, its script and style are same-origin files", () => {
    const { page, script, style } = report.http;
    expect(page.status).toBe(200);
    expect(page.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(page.headers["content-security-policy"]).toMatch(/default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'/);
    expect(page.hasJoin && page.scriptTag).toBe(true);
    expect(script).toMatchObject({ status: 200, contentType: "text/javascript; charset=utf-8" });
    expect(style).toMatchObject({ status: 200, contentType: "text/css; charset=utf-8" });
  });

  it("answers an unknown call with a 404 page, a malformed id without echoing it, an ended call with a 409 page", () => {
    const { unknown, malformed, ended } = report.http;
    expect(unknown).toMatchObject({ status: 404, contentType: "text/html; charset=utf-8" });
    expect(unknown.text).toContain("No such call");
    expect(unknown.csp).toContain("default-src 'none'");
    expect(malformed).toMatchObject({ status: 404, echoes: false });
    expect(ended.status).toBe(409);
    expect(ended.text).toContain("This call has ended");
  });
});

describe("two Chromium pages in a peer-to-peer call", () => {
  it("connect over 127.0.0.1 and receive each other's audio (packets rising, energy) and video", () => {
    for (const side of ["alice", "bob"] as const) {
      const { first, second } = report.media[side];
      expect(second.connectionState).toBe("connected");
      expect(first.audio.packetsReceived).toBeGreaterThan(0);
      expect(second.audio.packetsReceived).toBeGreaterThan(first.audio.packetsReceived);
      expect(second.audio.totalAudioEnergy).toBeGreaterThan(0);
      expect(second.video.framesDecoded).toBeGreaterThan(0);
      expect(second.pair).toMatchObject({ local: "127.0.0.1", remote: "127.0.0.1" });
    }
  });

  it("show mute and camera changes on the other page and in the API", () => {
    expect(report.mute).toEqual({ bobSeesAliceMuted: true, apiSaysMuted: true, aliceButton: "Unmute", aliceTrackEnabled: false });
    expect(report.camera).toEqual({ aliceSeesBobVideoOff: true, bobButton: "Camera on" });
  });

  it("decode and play the agent's voice, and show the transcript including lines from before joining", () => {
    expect(report.speak.response).toMatchObject({ success: true, content_type: "audio/wav" });
    // The fake OpenAI-compatible server saw the documented request shape.
    expect(report.speak.requests.at(-1)).toMatchObject({ model: "tts-1", input: "Hello from the agent.", voice: "alloy" });
    // DELETE …/transcript: both lines erased, and both pages cleared what they showed.
    expect(report.cleared.response).toMatchObject({ call_id: report.ids.call, deleted: 2 });
    for (const side of ["alice", "bob"] as const) {
      const page = report.pages[side];
      const played = page.played.find((p: any) => p.text === "Hello from the agent.");
      expect(played).toMatchObject({ content_type: "audio/wav", ended: true, context_state: "running" });
      expect(played.duration).toBeCloseTo(0.6, 2);
      expect(page.agentSpeech).toBe("Hello from the agent.");
      expect(page.transcript).toEqual([
        "Agent Smith:Welcome, this line was spoken before you joined.",
        "Agent Smith:Hello from the agent.",
      ]);
      expect(page.errors).toEqual([]);
    }
    expect(report.pageErrors).toEqual([]);
  });

  it("render an HTML-looking display name as text, never as markup", () => {
    for (const side of ["alice", "bob"] as const) {
      const page = report.pages[side];
      expect(page.rendered.map((r: any) => r.name)).toContain(XSS_NAME);
      expect(page.imgs).toBe(0);
      expect(page.xss).toBeNull();
    }
  });

  it("drop a participant who leaves", () => {
    expect(report.afterLeave.alice.phase).toBe("left");
    expect(Object.keys(report.afterLeave.bob.stats)).toEqual([]);
    expect(report.afterLeave.bob.rendered.map((r: any) => r.id)).not.toContain(report.ids.alice);
  });
});
