/**
 * The answering agent heard in a real page, run by test/e2e/agent-voice-browser.test.ts inside a
 * loopback-only network namespace. A real `wrangler dev --local` has LLM_BASE_URL and
 * SPEECH_BASE_URL on one loopback fake of the OpenAI-compatible contracts
 * (scripts/lib/voice-fakes.mjs; speech is espeak-ng audio). Alice's page joins a call whose agent
 * is in `auto` mode (her fake microphone plays silence, so it never talks over the agent); Bob is a
 * plain socket. An AnalyserNode tapped into every clip the page plays (an init script wraps
 * `AudioBufferSourceNode.connect`) measures what the page really outputs.
 *
 * 1. Bob's utterance (POST …/transcribe) is answered in two sentences: the page plays both, and
 *    the tap hears them (RMS above silence).
 * 2. A second answer holds its model stream open after one sentence; Bob starts talking on his
 *    socket (100 ms tone frames): the page gets `agent_speech_stop`, its clip is stopped and the
 *    tap falls silent, and nothing more is played.
 * Prints one JSON report; asserts nothing itself.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, type Page } from "playwright-core";
import { openCallSocket, toneFrames } from "../../../scripts/lib/voice-call.mjs";
import { espeakWav, startVoiceFakes } from "../../../scripts/lib/voice-fakes.mjs";
import { startLocalServer, type LocalServer } from "../helpers/local-server.ts";
import { api, launchChromium, openCallPage, progress, recordFailure, runAndPrint, sleep, until } from "./runner-kit.ts";

const { timings, mark } = progress("agent-voice-runner");
const FIRST = ["The release is on Friday.", "Dana will approve it."];
const HELD = "Here is the first part of a long answer.";

/** One second of 48 kHz mono silence: the fake microphone plays it in a loop. */
function silentWav(path: string): string {
  const samples = 48_000;
  const out = Buffer.alloc(44 + samples * 2);
  out.write("RIFF", 0, "latin1");
  out.writeUInt32LE(36 + samples * 2, 4);
  out.write("WAVEfmt ", 8, "latin1");
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(1, 20);
  out.writeUInt16LE(1, 22);
  out.writeUInt32LE(48_000, 24);
  out.writeUInt32LE(96_000, 28);
  out.writeUInt16LE(2, 32);
  out.writeUInt16LE(16, 34);
  out.write("data", 36, "latin1");
  out.writeUInt32LE(samples * 2, 40);
  writeFileSync(path, out);
  return path;
}

/** Runs in the page before its scripts: every clip played to the speakers also feeds one analyser. */
function installTap(): void {
  const w = globalThis as any;
  const connect = w.AudioBufferSourceNode.prototype.connect;
  w.__tap = { peak: 0, level: 0 };
  w.AudioBufferSourceNode.prototype.connect = function (this: any, destination: any, ...rest: unknown[]) {
    const result = connect.call(this, destination, ...rest);
    if (destination instanceof w.AudioDestinationNode) {
      if (!w.__tapNode) {
        const analyser = this.context.createAnalyser();
        analyser.fftSize = 2048;
        const buffer = new Float32Array(analyser.fftSize);
        w.__tapNode = analyser;
        setInterval(() => {
          analyser.getFloatTimeDomainData(buffer);
          let sum = 0;
          for (const v of buffer) sum += v * v;
          w.__tap.level = Math.sqrt(sum / buffer.length);
          w.__tap.peak = Math.max(w.__tap.peak, w.__tap.level);
        }, 10);
      }
      connect.call(this, w.__tapNode);
    }
    return result;
  };
}

function snapshot(page: Page): Promise<any> {
  return page.evaluate(() => {
    const w = globalThis as any;
    return {
      phase: w.__call.state.phase,
      played: w.__call.played,
      errors: w.__call.errors,
      tap: { ...w.__tap },
      agentSpeech: w.document.getElementById("agent-speech").textContent,
    };
  });
}

async function main(): Promise<Record<string, unknown>> {
  const report: Record<string, unknown> = { timings };
  let server: LocalServer | undefined;
  let browser: Browser | undefined;
  const pages: Page[] = [];
  const fakes = await startVoiceFakes({
    sttText: "When is the release?",
    llm: (_body: unknown, index: number) =>
      index === 1
        ? { pieces: [{ content: `${HELD} ` }, { content: "And the rest" }], hold: true }
        : { pieces: FIRST.map((s) => ({ content: `${s} ` })) },
    prewarm: [...FIRST, HELD],
  });
  let bobSocket: Awaited<ReturnType<typeof openCallSocket>> | undefined;
  try {
    server = await startLocalServer({ vars: { LLM_BASE_URL: fakes.url, LLM_MODEL: "fake-llm", SPEECH_BASE_URL: fakes.url } });
    mark("wrangler_ready");
    const call = api(server);
    const created = await call("POST", "/api/v2/calls", { agent_id: "agent-voice-browser", agent: { mode: "auto", name: "Nova" } });
    const callId: string = created.call_id;
    await call("POST", `/api/v2/calls/${callId}/participants`, { user_id: "agent", display_name: "Nova", is_agent: true });
    const alice = await call("POST", `/api/v2/calls/${callId}/participants`, { user_id: "alice", display_name: "Alice" });
    const bob = await call("POST", `/api/v2/calls/${callId}/participants`, { user_id: "bob", display_name: "Bob" });
    await call("POST", `/api/v2/calls/${callId}/start`);
    const bobId: string = bob.participant.participant_id;
    bobSocket = await openCallSocket(
      `${server.baseUrl.replace(/^http/, "ws")}/api/v2/calls/${callId}/ws?token=${encodeURIComponent(bob.join_token)}`,
    );
    await bobSocket.next("roster");

    const silence = silentWav(join(mkdtempSync(join(tmpdir(), "agent-voice-")), "silence.wav"));
    browser = await launchChromium([`--use-file-for-fake-audio-capture=${silence}`]);
    const pageErrors: string[] = [];
    const { page } = await openCallPage(
      browser,
      `${server.baseUrl}/calls/${callId}?token=${encodeURIComponent(alice.join_token)}`,
      pageErrors,
      installTap,
    );
    pages.push(page);
    await page.click("#join");
    await until("Alice's page to join", 20_000, async () => (await snapshot(page)).phase === "joined");
    mark("joined");

    // ---- 1. an answer in two sentences, played and heard ----
    const transcribe = async () => {
      const res = await fetch(`${server!.baseUrl}/api/v2/calls/${callId}/transcribe?participant_id=${bobId}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${server!.adminApiKey}`, "Content-Type": "audio/wav" },
        body: espeakWav("When is the release?"),
      });
      return res.status;
    };
    report.firstTranscribe = await transcribe();
    const played = await until("both sentences played to the end", 20_000, async () => {
      const s = await snapshot(page);
      return s.played.length >= 2 && s.played.every((p: any) => p.ended) ? s : null;
    });
    report.answer = { played: played.played, peak: played.tap.peak, agentSpeech: played.agentSpeech };
    mark("answer_played");
    await page.evaluate(() => ((globalThis as any).__tap.peak = 0));

    // ---- 2. barge-in: Bob talks while the agent speaks ----
    report.secondTranscribe = await transcribe();
    // The snapshot that saw it playing (a later one could fall in a pause between two words).
    const beforeStop = await until("the held answer's first sentence to be playing", 20_000, async () => {
      const s = await snapshot(page);
      return s.played.length === 3 && s.tap.level > 0.005 ? s : null;
    });
    for (const frame of toneFrames(400)) {
      await sleep(100);
      bobSocket.ws.send(frame);
    }
    const stop = await bobSocket.next("agent_speech_stop", 10_000);
    await sleep(500);
    const afterStop = await snapshot(page);
    await sleep(1000);
    const later = await snapshot(page);
    report.bargeIn = {
      stopFrame: stop.frame,
      levelWhilePlaying: beforeStop.tap.level,
      levelAfterStop: afterStop.tap.level,
      played: later.played,
      llmClosedEarly: fakes.requests.filter((r) => r.kind === "llm")[1]?.closedEarly ?? null,
      transcript: (await call("GET", `/api/v2/calls/${callId}/transcript`)).transcript.map((l: any) => [l.source, l.text]),
    };
    report.pageErrors = [...pageErrors, ...later.errors.map(String)];
    report.fakeErrors = fakes.errors;
    report.ok = true;
  } catch (err) {
    await recordFailure(report, err, server, pages, { fakeErrors: fakes.errors });
  } finally {
    bobSocket?.close();
    await browser?.close().catch(() => undefined);
    await server?.dispose().catch(() => undefined);
    await fakes.close();
  }
  return report;
}

await runAndPrint(main);
