// The voice group (`npm run bench -- --only voice`): how long a participant waits for the
// answering agent, and how much of that is the product's own time. The product runs on its dev
// server with LLM_BASE_URL and SPEECH_BASE_URL pointing at one loopback fake of the
// OpenAI-compatible contracts (scripts/lib/voice-fakes.mjs) that answers each request after a
// fixed, known delay: speech-to-text, the model's first chunk, text-to-speech. The fake records
// when each request arrived and when it answered, so per turn:
//   overhead = (first byte of the agent's audio at a page's socket − end of the utterance)
//              − (the providers' own time, as the fake served it)
// Two ways an utterance ends:
// - `upload`: the page posts the finished utterance (a WAV) to POST …/transcribe; the utterance
//   ended when the request was sent;
// - `live`: the page streams its microphone on its socket (100 ms frames of a tone at the pace of
//   a microphone, then silence); the utterance ended with the last loud frame, and the voice
//   activity detector waits its hangover (a setting, reported apart) before it closes it.
// Writes bench/results/runs/voice-<date>.json and bench/results/latest-voice.md.
import { setTimeout as sleep } from "node:timers/promises";
import { mintDevToken } from "../../scripts/lib/dev-token.mjs";
import { startVoiceCall, toneFrames } from "../../scripts/lib/voice-call.mjs";
import { espeakWav, startVoiceFakes } from "../../scripts/lib/voice-fakes.mjs";
import { compatibilityDate, loadAtStart, log } from "../lib/harness.mjs";
import { fmt, mdTable, textTable } from "../lib/report.mjs";
import { runtimeBinary } from "../lib/servers.mjs";

/** The product's goal: what it may add on top of the providers' time. */
export const VOICE_GOAL = { p50: 150, p99: 400 };
/** The detector's hangover (durable-objects/call-session/vad.ts VAD_DEFAULTS.hangoverMs): silence that ends an utterance. */
const VAD_HANGOVER_MS = 500;
const ANSWER = "The release is on Friday.";
const QUESTION = "When is the release?";

/** @param {number[]} values @param {number} q 0..1 */
function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/**
 * Runs the voice group on `harness` (bench/lib/harness.mjs) with `cfg`:
 * `{ turns, warmup, sttMs, llmMs, ttsMs, live }` (turns measured per scenario).
 */
export async function runVoiceGroup(harness, cfg) {
  const startedAt = new Date();
  const warnings = [];
  const loadBefore = loadAtStart(warnings);
  const fakes = await startVoiceFakes({
    sttDelayMs: cfg.sttMs,
    llmDelayMs: cfg.llmMs,
    ttsDelayMs: cfg.ttsMs,
    sttText: QUESTION,
    llm: () => ({ pieces: [{ content: ANSWER }] }),
    prewarm: [ANSWER],
  });
  log(
    `\nVoice: providers faked at ${fakes.url} (speech-to-text ${cfg.sttMs} ms, model first chunk ${cfg.llmMs} ms, text-to-speech ${cfg.ttsMs} ms)…`,
  );
  const { product, jwtSecret } = await harness.startProduct({
    tag: "voice",
    vars: [`LLM_BASE_URL:${fakes.url}`, `SPEECH_BASE_URL:${fakes.url}`, "LLM_MODEL:bench-fake"],
  });
  try {
    await product.ready;
    const baseUrl = `http://127.0.0.1:${product.port}`;
    const token = await mintDevToken(jwtSecret, { sub: "bench", role: "developer" }, { ttl: "2h" });
    const wav = espeakWav(QUESTION);

    /** One measured turn: the agent's first audio at Bob's socket after `end`, and the providers' time. */
    async function turn(call, speak) {
      const before = fakes.requests.length;
      const arrivalsBefore = call.bobSocket.all("agent_speech").length;
      const end = await speak();
      const arrival = await call.bobSocket.next("agent_speech", 30_000);
      if (call.bobSocket.all("agent_speech").length !== arrivalsBefore + 1 || arrival.frame.text !== ANSWER)
        throw new Error(`unexpected agent speech: ${JSON.stringify(arrival.frame.text)}`);
      const asked = fakes.requests.slice(before);
      const served = (kind) => {
        const r = asked.find((x) => x.kind === kind);
        if (!r || r.firstByteAt === null)
          throw new Error(`the ${kind} fake was not asked in this turn (${asked.map((x) => x.kind).join(", ")})`);
        return r.firstByteAt - r.arrivedAt;
      };
      const providers = served("stt") + served("llm") + served("tts");
      const total = arrival.at - end;
      return { total, providers, overhead: total - providers };
    }

    const scenarios = {};
    const run = async (name, speak, waitMs) => {
      const call = await startVoiceCall({
        baseUrl,
        token,
        agentId: `bench-voice-${name}`,
        agent: { mode: "auto", instructions: "Answer briefly." },
      });
      try {
        for (let i = 0; i < cfg.warmup; i++) {
          await turn(call, () => speak(call));
          await sleep(waitMs);
        }
        const turns = [];
        for (let i = 0; i < cfg.turns; i++) {
          turns.push(await turn(call, () => speak(call)));
          await sleep(waitMs);
        }
        const overheads = turns.map((t) => t.overhead);
        scenarios[name] = {
          turns: turns.length,
          overheadMs: { p50: quantile(overheads, 0.5), p99: quantile(overheads, 0.99), max: Math.max(...overheads) },
          totalMs: {
            p50: quantile(
              turns.map((t) => t.total),
              0.5,
            ),
            p99: quantile(
              turns.map((t) => t.total),
              0.99,
            ),
          },
          providersMs: {
            p50: quantile(
              turns.map((t) => t.providers),
              0.5,
            ),
          },
          samples: turns,
        };
        log(
          `  ${name}: ${turns.length} turns, overhead p50 ${fmt(scenarios[name].overheadMs.p50)} ms, p99 ${fmt(scenarios[name].overheadMs.p99)} ms ` +
            `(total p50 ${fmt(scenarios[name].totalMs.p50)} ms, providers ${fmt(scenarios[name].providersMs.p50)} ms)`,
        );
      } finally {
        call.close();
      }
    };

    log(`Upload: ${cfg.turns} turns (after ${cfg.warmup} warm-up) of POST …/transcribe → the agent's first audio at a page…`);
    await run(
      "upload",
      async (call) => {
        // The utterance ended when its upload was sent (the answer may arrive before the response).
        const { status, sentAt } = await call.transcribe(wav);
        if (status !== 200) throw new Error(`transcribe answered ${status}`);
        return sentAt;
      },
      100,
    );

    if (cfg.live) {
      log(`Live: ${cfg.turns} turns of 600 ms of tone on Alice's socket, then silence (hangover ${VAD_HANGOVER_MS} ms, subtracted)…`);
      const loud = toneFrames(600);
      const quiet = toneFrames(100, 0)[0];
      await run(
        "live",
        async (call) => {
          // Each frame is sent when its 100 ms have been "captured", as a page's worklet does.
          for (const frame of loud) {
            await sleep(100);
            call.aliceSocket.ws.send(frame);
          }
          const end = performance.now();
          // The microphone keeps sending silence; 12 frames (1.2 s) cover the hangover and more.
          void (async () => {
            for (let i = 0; i < 12; i++) {
              await sleep(100);
              call.aliceSocket.ws.send(quiet);
            }
          })();
          return end + VAD_HANGOVER_MS;
        },
        1400,
      );
    }

    const loadAfter = loadAtStart([]);
    const meta = harness.runMeta({
      group: "voice",
      startedAt,
      workerdBinary: runtimeBinary(product),
      compatDate: compatibilityDate("wrangler.toml"),
      loadBefore,
      loadAfter,
    });
    const result = { meta, config: cfg, goal: VOICE_GOAL, warnings, fakeErrors: fakes.errors, scenarios };
    if (fakes.errors.length > 0) throw new Error(`the fakes refused requests: ${fakes.errors.join("; ")}`);
    const rows = [
      ["scenario", "turns", "overhead p50 ms", "overhead p99 ms", "goal", "total p50 ms", "total p99 ms", "providers ms"],
      ...Object.entries(scenarios).map(([name, s]) => [
        name,
        String(s.turns),
        fmt(s.overheadMs.p50),
        fmt(s.overheadMs.p99),
        s.overheadMs.p50 <= VOICE_GOAL.p50 && s.overheadMs.p99 <= VOICE_GOAL.p99 ? "met" : "MISSED",
        fmt(s.totalMs.p50),
        fmt(s.totalMs.p99),
        fmt(s.providersMs.p50),
      ]),
    ];
    log(`\n${textTable(rows)}`);
    const markdown = [
      "# Voice: the answering agent's latency",
      "",
      `Run ${meta.date} at ${meta.git.commit}${meta.git.dirty ? " (uncommitted changes)" : ""}; ${meta.cpus} × ${meta.cpuModel}; load ${fmt(loadBefore, 2)} → ${fmt(loadAfter, 2)}; ${meta.server}.`,
      "",
      `From the end of a participant's utterance to the first byte of the agent's audio at another page's socket, with the providers faked on loopback (scripts/lib/voice-fakes.mjs) at fixed delays: speech-to-text ${cfg.sttMs} ms, the model's first chunk ${cfg.llmMs} ms, text-to-speech ${cfg.ttsMs} ms. Overhead = measured − the providers' time as the fake served it (per turn). Goal: overhead ≤ ${VOICE_GOAL.p50} ms p50 and ≤ ${VOICE_GOAL.p99} ms p99.`,
      "",
      mdTable(rows),
      "",
      "- `upload`: the page posts the finished utterance (an espeak-ng WAV) to `POST …/transcribe`; measured from sending it.",
      cfg.live
        ? `- \`live\`: 600 ms of tone streamed on the participant's socket in 100 ms frames, then silence; measured from the last loud frame + the detector's ${VAD_HANGOVER_MS} ms hangover (the silence that tells the end of an utterance, a setting, not overhead). Each frame is sent when its 100 ms are captured, as the page does.`
        : "- `live` was not run (--voice-no-live).",
      ...(warnings.length ? ["", "Warnings:", ...warnings.map((w) => `- ${w}`)] : []),
      "",
    ].join("\n");
    harness.saveRun("voice", result, markdown);
    return Object.values(scenarios).filter((s) => s.overheadMs.p50 > VOICE_GOAL.p50 || s.overheadMs.p99 > VOICE_GOAL.p99).length;
  } finally {
    await harness.stop(product);
    await fakes.close();
  }
}
