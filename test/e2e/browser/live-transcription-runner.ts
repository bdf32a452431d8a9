/**
 * The live transcription check, run by test/e2e/live-transcription-browser.test.ts inside a
 * loopback-only network namespace (test/e2e/helpers/browser-runner.ts). Runs under plain Node 22.
 *
 * espeak-ng says a sentence into a WAV (with a pause after it); Chromium's fake microphone plays
 * that file in a loop (`--use-file-for-fake-audio-capture`). Two pages join one call on a real
 * `wrangler dev --local` whose SPEECH_BASE_URL is a local OpenAI-compatible transcriber that
 * checks each upload is a readable WAV and answers a known text. Then the same pages' code on a
 * server with no speech provider. Prints one JSON report; asserts nothing itself.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, type Page } from "playwright-core";
import { startLocalServer, type LocalServer } from "../helpers/local-server.ts";
import { startFakeTranscriber, type FakeTranscriber } from "./fake-transcriber.ts";
import { api, launchChromium, openCallPage, progress, recordFailure, runAndPrint, sleep, until } from "./runner-kit.ts";
import { speakToWav } from "./speech-wav.ts";

export const SENTENCE = "Please schedule the design review for Thursday morning.";
export const HEARD_TEXT = "Please schedule the design review for Thursday morning.";
const PAUSE_SECONDS = 2;
const LINE_TIMEOUT_MS = 45_000;

const { timings, mark } = progress("live-transcription-runner");

/** What a page shows and knows about live transcription. */
function snapshot(page: Page): Promise<any> {
  return page.evaluate(() => {
    const c = (globalThis as any).__call;
    const doc = (globalThis as any).document;
    const notice = doc.getElementById("live-transcription");
    const button = doc.getElementById("transcription");
    return {
      phase: c.state.phase,
      transcript: [...doc.querySelectorAll("#transcript li")].map((li: any) => li.textContent),
      lines: c.state.transcript,
      liveAudio: c.liveAudio,
      events: c.events.filter((e: any) => e.name.startsWith("live_")).map((e: any) => ({ name: e.name, detail: e.detail })),
      errors: c.errors,
      notice: { hidden: notice.hidden, text: notice.textContent },
      button: { text: button.textContent, disabled: button.disabled, pressed: button.getAttribute("aria-pressed") },
    };
  });
}

async function joinCall(
  browser: Browser,
  base: string,
  callId: string,
  tokens: string[],
  pageErrors: string[],
  pages: Page[],
): Promise<Page[]> {
  const opened = await Promise.all(
    tokens.map(async (token) => {
      const { page } = await openCallPage(browser, `${base}/calls/${callId}?token=${encodeURIComponent(token)}`, pageErrors);
      pages.push(page);
      await page.uncheck("#with-video");
      return page;
    }),
  );
  await Promise.all(opened.map((p) => p.click("#join")));
  await until("every page to join", 20_000, async () => (await Promise.all(opened.map(snapshot))).every((s) => s.phase === "joined"));
  return opened;
}

async function main(): Promise<Record<string, unknown>> {
  const report: Record<string, unknown> = { timings };
  let transcriber: FakeTranscriber | undefined;
  let server: LocalServer | undefined;
  let browser: Browser | undefined;
  const pages: Page[] = [];
  try {
    const wavPath = join(mkdtempSync(join(tmpdir(), "live-transcription-")), "sentence.wav");
    report.wav = speakToWav(SENTENCE, wavPath, PAUSE_SECONDS);
    mark("wav_made");
    transcriber = await startFakeTranscriber(HEARD_TEXT);
    server = await startLocalServer({ vars: { SPEECH_BASE_URL: transcriber.baseUrl } });
    mark("wrangler_ready");
    browser = await launchChromium([`--use-file-for-fake-audio-capture=${wavPath}`]);
    const pageErrors: string[] = [];
    const call = api(server);
    const base = server.baseUrl;

    const worklet = await fetch(`${base}/assets/call-audio-worklet.js`);
    report.worklet = {
      status: worklet.status,
      contentType: worklet.headers.get("content-type"),
      registers: (await worklet.text()).includes("registerProcessor"),
    };

    // ---- two pages speak; each line appears on both ----
    const created = await call("POST", "/api/v2/calls", { agent_id: "agent-live-transcription" });
    const callId: string = created.call_id;
    const alice = await call("POST", `/api/v2/calls/${callId}/participants`, { user_id: "alice", display_name: "Alice" });
    const bob = await call("POST", `/api/v2/calls/${callId}/participants`, { user_id: "bob", display_name: "Bob" });
    await call("POST", `/api/v2/calls/${callId}/start`);
    const aliceId = alice.participant.participant_id;
    const bobId = bob.participant.participant_id;
    report.ids = { call: callId, alice: aliceId, bob: bobId };
    const [pa, pb] = (await joinCall(browser, base, callId, [alice.join_token, bob.join_token], pageErrors, pages)) as [Page, Page];
    mark("joined");
    const shown = (s: any, who: string) => s.transcript.filter((t: string) => t === `${who}:${HEARD_TEXT}`).length;
    // Two lines each: a page joins in the middle of the looping sentence, so its first may be partial.
    await until("two lines of Alice and two of Bob on both pages", LINE_TIMEOUT_MS, async () => {
      const [a, b] = await Promise.all([snapshot(pa), snapshot(pb)]);
      return [a, b].every((s) => shown(s, "Alice") >= 2 && shown(s, "Bob") >= 2);
    });
    mark("lines_shown");
    report.spoken = { alice: await snapshot(pa), bob: await snapshot(pb) };
    report.apiTranscript = (await call("GET", `/api/v2/calls/${callId}/transcript`)).transcript;

    // ---- Alice stops her transcription: Bob's lines go on, none of hers ----
    await pa.click("#transcription");
    await until("the API to show Alice's transcription muted", 10_000, async () => {
      const c = await call("GET", `/api/v2/calls/${callId}`);
      return c.participants.find((p: any) => p.participant_id === aliceId)?.transcription_muted === true;
    });
    // One utterance of hers may already be with the transcriber; count from when that settled.
    await sleep(2_000);
    const linesOf = async (id: string) =>
      ((await call("GET", `/api/v2/calls/${callId}/transcript`)).transcript as any[]).filter((l) => l.participant_id === id).length;
    const aliceBefore = await linesOf(aliceId);
    const bobBefore = await linesOf(bobId);
    await until("two more lines of Bob", LINE_TIMEOUT_MS, async () => (await linesOf(bobId)) >= bobBefore + 2);
    report.muted = {
      aliceBefore,
      aliceAfter: await linesOf(aliceId),
      bobBefore,
      bobAfter: await linesOf(bobId),
      aliceButton: (await snapshot(pa)).button,
    };
    mark("muted_checked");
    report.heard = transcriber.heard;
    await Promise.all(pages.splice(0).map((p) => p.context().close()));
    await server.dispose();
    server = undefined;

    // ---- no speech provider: the page says why, sends nothing, nothing 5xx ----
    const heardBefore = transcriber.heard.length;
    server = await startLocalServer({});
    mark("wrangler_without_speech_ready");
    const plain = api(server);
    const quiet = await plain("POST", "/api/v2/calls", { agent_id: "agent-live-transcription" });
    const carol = await plain("POST", `/api/v2/calls/${quiet.call_id}/participants`, { user_id: "carol", display_name: "Carol" });
    await plain("POST", `/api/v2/calls/${quiet.call_id}/start`);
    const noSpeechErrors: string[] = [];
    const [pc] = (await joinCall(browser, server.baseUrl, quiet.call_id, [carol.join_token], noSpeechErrors, pages)) as [Page];
    // Two loops of the sentence: time enough to have sent it, had the page been allowed to.
    await sleep(2 * 1000 * (report.wav as { totalSeconds: number }).totalSeconds);
    const health = await plain("GET", "/health");
    report.noProvider = {
      page: await snapshot(pc),
      transcript: (await plain("GET", `/api/v2/calls/${quiet.call_id}/transcript`)).transcript,
      heardDuring: transcriber.heard.length - heardBefore,
      health: health.checks?.live_transcription,
      pageErrors: noSpeechErrors,
      serverErrors: server
        .log()
        .split("\n")
        .filter((l) => /"status":5\d\d/.test(l)),
    };
    mark("no_provider_checked");
    report.pageErrors = pageErrors;
    report.ok = true;
  } catch (err) {
    await recordFailure(report, err, server, pages, { heard: transcriber?.heard });
  } finally {
    await browser?.close().catch(() => undefined);
    await server?.dispose().catch(() => undefined);
    await transcriber?.close().catch(() => undefined);
    mark("done");
  }
  return report;
}

await runAndPrint(main);
