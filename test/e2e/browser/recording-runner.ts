/**
 * The recording check, run by test/e2e/recording-browser.test.ts inside a loopback-only network
 * namespace (test/e2e/helpers/browser-runner.ts). Runs under plain Node 22.
 *
 * Chromium's fake microphone plays a sentence spoken by espeak-ng. One page joins a call created
 * with recording_enabled on a real `wrangler dev --local` that has no speech provider (so the page
 * sends its audio only because the call is recorded); another joins a call without it. Prints one
 * JSON report: what each page showed and in which order, what the API lists, and the downloaded
 * WAV's format and loudness. Asserts nothing itself.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, type Page } from "playwright-core";
import { parseWav } from "../../../src/calls/recordings/wav.ts";
import { startLocalServer, type LocalServer } from "../helpers/local-server.ts";
import { api, launchChromium, openCallPage, progress, recordFailure, runAndPrint, sleep, until } from "./runner-kit.ts";
import { speakToWav } from "./speech-wav.ts";

const { timings, mark } = progress("recording-runner");

function snapshot(page: Page): Promise<any> {
  return page.evaluate(() => {
    const c = (globalThis as any).__call;
    const indicator = (globalThis as any).document.getElementById("recording");
    return {
      phase: c.state.phase,
      indicator: { hidden: indicator.hidden, text: indicator.textContent, visible: indicator.offsetParent !== null },
      // The order the page did things in: shown the indicator, started the microphone tap.
      events: c.events.filter((e: any) => e.name === "recording" || e.name.startsWith("live_audio")).map((e: any) => e.name),
      liveAudio: c.liveAudio,
      errors: c.errors,
    };
  });
}

async function joinAs(browser: Browser, base: string, callId: string, token: string, errors: string[], pages: Page[]): Promise<Page> {
  const { page } = await openCallPage(browser, `${base}/calls/${callId}?token=${encodeURIComponent(token)}`, errors);
  pages.push(page);
  await page.uncheck("#with-video");
  await page.click("#join");
  await until("the page to join", 20_000, async () => (await snapshot(page)).phase === "joined");
  return page;
}

async function main(): Promise<Record<string, unknown>> {
  const report: Record<string, unknown> = { timings };
  let server: LocalServer | undefined;
  let browser: Browser | undefined;
  const pages: Page[] = [];
  try {
    const wavPath = join(mkdtempSync(join(tmpdir(), "recording-")), "sentence.wav");
    report.wav = speakToWav("This call is recorded for quality purposes.", wavPath, 1);
    server = await startLocalServer({});
    mark("wrangler_ready");
    browser = await launchChromium([`--use-file-for-fake-audio-capture=${wavPath}`]);
    const call = api(server);
    const errors: string[] = [];

    // ---- a recorded call: the indicator first, then the microphone reaches the recording ----
    const recorded = await call("POST", "/api/v2/calls", { agent_id: "agent-recording", recording_enabled: true });
    const ann = await call("POST", `/api/v2/calls/${recorded.call_id}/participants`, { user_id: "ann", display_name: "Ann" });
    await call("POST", `/api/v2/calls/${recorded.call_id}/start`);
    const page = await joinAs(browser, server.baseUrl, recorded.call_id, ann.join_token, errors, pages);
    report.joined = await snapshot(page);
    mark("joined_recorded");
    const listing = await until("a recording of 3 s or more", 30_000, async () => {
      const c = await call("GET", `/api/v2/calls/${recorded.call_id}`);
      const mine = c.recordings.find((r: any) => r.participant_id === ann.participant.participant_id);
      return mine && mine.duration_seconds >= 3 ? c.recordings : null;
    });
    report.recordings = listing;
    report.participantId = ann.participant.participant_id;
    const file = await fetch(`${server.baseUrl}/api/v2/calls/${recorded.call_id}/recordings/${listing[0].recording_id}`, {
      headers: { Authorization: `Bearer ${server.adminApiKey}` },
    });
    const bytes = new Uint8Array(await file.arrayBuffer());
    const wav = parseWav(bytes);
    const samples = wav ? new Int16Array(bytes.slice(wav.dataOffset).buffer) : new Int16Array();
    const rms = Math.sqrt(samples.reduce((sum, s) => sum + s * s, 0) / Math.max(1, samples.length));
    report.download = { status: file.status, contentType: file.headers.get("content-type"), bytes: bytes.byteLength, wav, rms };
    report.afterRecording = await snapshot(page);
    mark("recording_checked");

    // ---- a call without recording: no indicator, and (no speech provider) no audio leaves the page ----
    const plain = await call("POST", "/api/v2/calls", { agent_id: "agent-recording" });
    const bo = await call("POST", `/api/v2/calls/${plain.call_id}/participants`, { user_id: "bo", display_name: "Bo" });
    await call("POST", `/api/v2/calls/${plain.call_id}/start`);
    const other = await joinAs(browser, server.baseUrl, plain.call_id, bo.join_token, errors, pages);
    await sleep(3000);
    report.unrecorded = { page: await snapshot(other), recordings: (await call("GET", `/api/v2/calls/${plain.call_id}`)).recordings };
    mark("unrecorded_checked");
    report.pageErrors = errors;
    report.ok = true;
  } catch (err) {
    await recordFailure(report, err, server, pages);
  } finally {
    await browser?.close().catch(() => undefined);
    await server?.dispose().catch(() => undefined);
    mark("done");
  }
  return report;
}

await runAndPrint(main);
