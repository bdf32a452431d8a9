/**
 * The call's answering agent inside CallSessionDO, an audio listener (./audio-hooks.ts).
 *
 * - `utterance`: when the agent's mode asks for an answer (src/calls/agent-config.ts), a turn
 *   starts: the model gets the instructions and the recent transcript (./agent-prompt.ts) and
 *   streams its answer; each sentence (src/llm/sentences.ts) goes to text-to-speech as soon as it
 *   is complete, and is sent to every socket in order, as `POST …/speak` does (`agent_speech`
 *   plus its transcript line), then told to the listeners (`agentAudio`). Tool calls run through
 *   src/calls/agent-tools.ts and are recorded as `agent_event` lines.
 * - `speechStarted` of a participant while a turn runs, or a newer addressed utterance: barge-in.
 *   The model stream and speech requests are aborted, nothing more is sent, every page gets
 *   `agent_speech_stop` (it stops playback and drops what it had queued) and the unspoken rest is
 *   dropped: the transcript keeps exactly the sentences that were sent.
 * - No model or no speech provider: no answer; the reason goes to every page (`agent_status`)
 *   and, once per call, into the transcript as an `agent_event` line.
 *
 * The configuration is one value in the object's key-value storage (no schema change); the turn
 * itself lives in memory: an evicted object has no turn to resume, and nothing is half-recorded
 * because each line is written when its audio is sent.
 */
import { addressesAgent, AGENT_OFF, type CallAgent } from "../../src/calls/agent-config";
import { AGENT_TOOL_SPECS, runAgentTool } from "../../src/calls/agent-tools";
import type { CallResult, TranscriptLine, TranscriptSource } from "../../src/calls/model";
import { bytesToBase64 } from "../../src/lib/base64";
import { log } from "../../src/lib/log";
import { SentenceCutter } from "../../src/llm/sentences";
import { llmFromEnv, type LlmSelection } from "../../src/llm/service";
import type { ChatMessage, ToolCall } from "../../src/llm/types";
import { checkedSpeech, speechFromEnv, type SpeechSelection } from "../../src/speech/service";
import type { AudioListener, Utterance } from "./audio-hooks";
import { agentMessages, CONTEXT_LINES, type PromptLine } from "./agent-prompt";

const CONFIG_KEY = "agent:config";
const NOTED_KEY = "agent:unavailable_noted";
/** Model rounds per turn: each round may call tools whose results the next round reads. */
export const MAX_TOOL_ROUNDS = 3;

export interface AnsweringAgentDeps {
  env: Env;
  storage: DurableObjectStorage;
  /** Keeps the object alive while a turn runs. */
  waitUntil(work: Promise<unknown>): void;
  /** The object's appendTranscript: records a line and broadcasts it (with `agent_speech` when speech is given). */
  append(
    line: { participantId: string | null; text: string; source: TranscriptSource; atMs: number },
    speech?: { audioBase64: string; contentType: string },
  ): CallResult<TranscriptLine>;
  broadcast(frame: Record<string, unknown>): void;
  /** Tells the other listeners (the recorder) what audio the agent sent. */
  agentAudio?(audio: { bytes: Uint8Array; content_type: string; at: number }): void;
  /** Tests only: fixed providers instead of the environment's. */
  llm?: () => LlmSelection;
  speech?: () => SpeechSelection;
}

interface Turn {
  id: string;
  abort: AbortController;
  /** Sentences sent so far (what the pages received). */
  spoken: number;
  done: Promise<void>;
}

interface CallRow {
  call_id: string;
  agent_id: string;
  status: string;
  [key: string]: SqlStorageValue;
}

export class AnsweringAgent implements AudioListener {
  readonly #deps: AnsweringAgentDeps;
  #turn: Turn | null = null;

  constructor(deps: AnsweringAgentDeps) {
    this.#deps = deps;
  }

  config(): CallAgent {
    return this.#deps.storage.kv.get<CallAgent>(CONFIG_KEY) ?? AGENT_OFF;
  }

  configure(agent: CallAgent): void {
    this.#deps.storage.kv.put(CONFIG_KEY, agent);
  }

  /** Whether a turn is running (tests, metrics). */
  busy(): boolean {
    return this.#turn !== null;
  }

  speechStarted(participantId: string): void {
    if (this.#turn && !this.#isAgent(participantId)) this.#bargeIn(participantId);
  }

  utterance(utterance: Utterance): void {
    const agent = this.config();
    if (agent.mode === "off" || this.#isAgent(utterance.participant_id)) return;
    if (!addressesAgent(agent, utterance.text)) return;
    if (this.#turn) this.#bargeIn(utterance.participant_id);
    this.#start(agent, utterance);
  }

  /**
   * An explicit request (POST …/agent/respond): answer `utterance` now, whatever it says, unless
   * the agent is off. Returns false when it is off.
   */
  respond(utterance: Utterance): boolean {
    const agent = this.config();
    if (agent.mode === "off") return false;
    if (this.#turn) this.#bargeIn(utterance.participant_id);
    this.#start(agent, utterance);
    return true;
  }

  /** The latest line a participant (not the agent) said, as an utterance, or null. */
  lastUtterance(): Utterance | null {
    const row = this.#deps.storage.sql
      .exec<{ participant_id: string; text: string; at: number }>(
        `SELECT t.participant_id, t.text, t.at FROM transcript t JOIN participants p ON p.participant_id = t.participant_id
         WHERE p.is_agent = 0 AND t.source IN ('speech_to_text', 'text') ORDER BY t.seq DESC LIMIT 1`,
      )
      .toArray()[0];
    if (!row) return null;
    const at = new Date(row.at).toISOString();
    return { participant_id: row.participant_id, text: row.text, started_at: at, ended_at: at, confidence: null };
  }

  #isAgent(participantId: string): boolean {
    const row = this.#deps.storage.sql
      .exec<{ is_agent: number }>("SELECT is_agent FROM participants WHERE participant_id = ?", participantId)
      .toArray()[0];
    return row?.is_agent === 1;
  }

  /** A participant talks over the running turn: it stops, and every page drops what it queued. */
  #bargeIn(by: string): void {
    const turn = this.#turn;
    if (!turn) return;
    this.#turn = null;
    turn.abort.abort();
    this.#deps.broadcast({ type: "agent_speech_stop", turn_id: turn.id, reason: "barge_in", participant_id: by });
    this.#event(`Stopped speaking: a participant started talking (${turn.spoken} sentence(s) spoken).`);
  }

  #start(agent: CallAgent, utterance: Utterance): void {
    const abort = new AbortController();
    const turn: Turn = { id: crypto.randomUUID(), abort, spoken: 0, done: Promise.resolve() };
    this.#turn = turn;
    turn.done = this.#run(agent, turn, utterance)
      .catch((err: unknown) => this.#failed(turn, err))
      .finally(() => {
        if (this.#turn === turn) this.#turn = null;
      });
    this.#deps.waitUntil(turn.done);
  }

  async #run(agent: CallAgent, turn: Turn, utterance: Utterance): Promise<void> {
    const call = this.#call();
    if (!call) return;
    const llm = this.#deps.llm ? this.#deps.llm() : llmFromEnv(this.#deps.env);
    if (!llm.provider) return this.#unavailable(llm.reason);
    const speechSelection = this.#deps.speech ? this.#deps.speech() : speechFromEnv(this.#deps.env);
    if (!speechSelection.provider) return this.#unavailable(`The agent cannot speak: ${speechSelection.reason}`);
    const speech = checkedSpeech(speechSelection.provider);
    const started = Date.now();
    const lines = this.#recentLines();
    // The utterance is normally the last line already; an answer must never miss what it answers.
    const last = lines.at(-1);
    if (!last || last.participant_id !== utterance.participant_id || last.text !== utterance.text)
      lines.push({ participant_id: utterance.participant_id, text: utterance.text, source: "speech_to_text" });
    const messages = agentMessages(agent, lines, this.#speakers());
    const cutter = new SentenceCutter();
    let sending: Promise<void> = Promise.resolve();
    let firstAudioMs: number | null = null;
    let failure: string | null = null;
    const say = (sentence: string) => {
      // Synthesis starts at once (sentences in parallel); sending keeps their order.
      const audio = speech.synthesize(sentence, agent.voice ?? undefined);
      audio.catch(() => {}); // Observed below, in order; a cancelled turn may never await it.
      sending = sending.then(async () => {
        if (turn.abort.signal.aborted || failure) return;
        let spoken;
        try {
          spoken = await audio;
        } catch (err) {
          failure = err instanceof Error ? err.message : String(err);
          turn.abort.abort();
          return;
        }
        if (turn.abort.signal.aborted) return;
        const bytes = new Uint8Array(spoken.audio);
        const sent = this.#deps.append(
          { participantId: this.#agentParticipant(), text: sentence, source: "text_to_speech", atMs: Date.now() },
          { audioBase64: bytesToBase64(bytes), contentType: spoken.contentType },
        );
        if (!sent.ok) {
          // The call ended (or the agent's participant left): stop the model too.
          failure = sent.detail;
          turn.abort.abort();
          return;
        }
        turn.spoken += 1;
        firstAudioMs ??= Date.now() - started;
        this.#deps.agentAudio?.({ bytes, content_type: spoken.contentType, at: Date.now() });
      });
    };
    const ctx = { env: this.#deps.env, agentId: call.agent_id, callId: call.call_id, requestId: `turn:${turn.id}` };
    for (let round = 0; round < MAX_TOOL_ROUNDS; round++) {
      const calls: ToolCall[] = [];
      let text = "";
      for await (const event of llm.provider.stream({
        messages,
        tools: AGENT_TOOL_SPECS,
        model: agent.model ?? undefined,
        signal: turn.abort.signal,
      })) {
        if (turn.abort.signal.aborted) break;
        if (event.type === "text") {
          text += event.text;
          for (const sentence of cutter.push(event.text)) say(sentence);
        } else calls.push(event.call);
      }
      if (turn.abort.signal.aborted) break;
      if (calls.length === 0 || round === MAX_TOOL_ROUNDS - 1) break;
      messages.push({
        role: "assistant",
        content: text || null,
        tool_calls: calls.map((c) => ({ id: c.id, type: "function" as const, function: { name: c.name, arguments: c.arguments } })),
      });
      for (const c of calls) {
        if (turn.abort.signal.aborted) break;
        const outcome = await runAgentTool(ctx, c.name, c.arguments);
        this.#event(`Tool ${outcome.summary}`);
        messages.push({ role: "tool", tool_call_id: c.id, content: JSON.stringify(outcome.result) } satisfies ChatMessage);
      }
    }
    if (!turn.abort.signal.aborted) {
      const rest = cutter.flush();
      if (rest) say(rest);
    }
    await sending;
    if (failure) this.#event(`The agent stopped: ${failure}`);
    log({
      event: "call.agent_turn",
      call_id: call.call_id,
      participant_id: utterance.participant_id,
      outcome: failure ? "failed" : turn.abort.signal.aborted ? "interrupted" : "answered",
      sentences: turn.spoken,
      first_audio_ms: firstAudioMs,
      total_ms: Date.now() - started,
    });
  }

  #failed(turn: Turn, err: unknown): void {
    if (turn.abort.signal.aborted) return;
    const detail = err instanceof Error ? err.message : String(err);
    this.#event(`The agent could not answer: ${detail.slice(0, 300)}`);
    const call = this.#call();
    log({
      event: "call.agent_turn",
      call_id: call?.call_id ?? "",
      outcome: "failed",
      sentences: turn.spoken,
      detail: detail.slice(0, 300),
    });
  }

  #unavailable(reason: string): void {
    this.#deps.broadcast({ type: "agent_status", available: false, reason });
    if (this.#deps.storage.kv.get<boolean>(NOTED_KEY)) return;
    const noted = this.#event(`The agent did not answer: ${reason}`);
    if (noted) this.#deps.storage.kv.put(NOTED_KEY, true);
  }

  #event(text: string): boolean {
    return this.#deps.append({ participantId: this.#agentParticipant(), text, source: "agent_event", atMs: Date.now() }).ok;
  }

  #call(): CallRow | null {
    return this.#deps.storage.sql.exec<CallRow>("SELECT call_id, agent_id, status FROM call WHERE id = 1").toArray()[0] ?? null;
  }

  /** The call's agent participant still in the call (as for …/speak), else null. */
  #agentParticipant(): string | null {
    const row = this.#deps.storage.sql
      .exec<{ participant_id: string }>(
        "SELECT participant_id FROM participants WHERE is_agent = 1 AND left_at IS NULL ORDER BY seq LIMIT 1",
      )
      .toArray()[0];
    return row?.participant_id ?? null;
  }

  #recentLines(): PromptLine[] {
    return this.#deps.storage.sql
      .exec<PromptLine & Record<string, SqlStorageValue>>(
        "SELECT participant_id, text, source FROM transcript ORDER BY seq DESC LIMIT ?",
        CONTEXT_LINES,
      )
      .toArray()
      .reverse();
  }

  #speakers(): Map<string, { name: string; isAgent: boolean }> {
    const rows = this.#deps.storage.sql
      .exec<{ participant_id: string; display_name: string; is_agent: number }>(
        "SELECT participant_id, display_name, is_agent FROM participants",
      )
      .toArray();
    return new Map(rows.map((r) => [r.participant_id, { name: r.display_name, isAgent: r.is_agent === 1 }]));
  }
}
