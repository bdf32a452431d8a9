/**
 * CallSessionDO: one per WebRTC call, named by its call id. It holds the call record,
 * the roster and the transcript in SQLite (own `_schema` migrations) and runs peer-to-peer
 * signalling over hibernatable WebSockets (see src/calls/messages.ts for the protocol).
 *
 * Status machine (the table lives in src/calls/model.ts, `TRANSITIONS`):
 *   pending → ringing → active ⇄ on_hold → ended | failed
 *   ring: pending→ringing · start: pending|ringing→active · hold: active→on_hold ·
 *   resume: on_hold→active · end/fail: any non-final→ended/failed. Anything else: conflict, no change.
 *
 * RPC methods are thin and synchronous over SQL; the Worker checks credentials and join tokens
 * before it calls them. In SFU mode the Worker proxies the Realtime SFU and records here what the
 * SFU accepted (`sfuContext` before, `recordSfu*`/`forgetSfuTracks` after; see src/calls/sfu-proxy.ts). `fetch` only accepts WebSocket upgrades for `/ws?participant_id=`.
 *
 * Live audio: binary frames on a participant's socket are checked by `AudioIngest` and fed to the
 * `AudioPipeline` (voice activity, speech-to-text, the transcript), which tells its listeners
 * (./call-session/audio-hooks.ts); listeners register in the constructor.
 */
import { DurableObject } from "cloudflare:workers";
import {
  FINAL_STATUSES,
  TRANSITIONS,
  type CallAction,
  type CallHead,
  type CallParticipant,
  type CallResult,
  type CallSession,
  type NewCall,
  type NewParticipant,
  type TranscriptLine,
  type TranscriptSource,
} from "../src/calls/model";
import { liveTranscription, type LiveTranscription } from "../src/calls/live-transcription";
import type { ParticipantSfuRecord } from "../src/calls/sfu-ownership";
import { DEFAULT_CHUNK_SECONDS, recordingChunkSeconds, type RecordingFile } from "../src/calls/recordings/model";
import { base64ToBytes } from "../src/lib/base64";
import { log } from "../src/lib/log";
import type { Utterance } from "./call-session/audio-hooks";
import { AudioIngest } from "./call-session/audio-ingest";
import { AudioPipeline } from "./call-session/audio-pipeline";
import { AnsweringAgent } from "./call-session/answering-agent";
import { Recorder } from "./call-session/recorder";
import { readRecordingFile } from "./call-session/recordings-store";
import { CALL_MIGRATIONS } from "./call-session/schema";
import { Signalling, participantOf } from "./call-session/signalling";
import { SfuAudio, publishedAudioTrack, type SfuAdapterRecord } from "./call-session/sfu-audio";
import {
  callSfuSessions,
  deleteSfuTracks,
  insertSfuTracks,
  replaceSfuSession,
  sfuRecord,
  type OpenedTrack,
} from "./call-session/sfu-store";
import {
  audioGate,
  clearTranscript,
  insertCall,
  insertParticipant,
  insertTranscriptLine,
  listParticipants,
  readCallRow,
  readParticipant,
  readTranscript,
  renderCall,
  setStatus,
  updateParticipant,
} from "./call-session/store";
import { migrate } from "./shared/migrate";

const NO_CALL = { ok: false, reason: "not_found", detail: "No such call." } as const;

export class CallSessionDO extends DurableObject<Env> {
  readonly #signal: Signalling;
  readonly #ingest = new AudioIngest();
  readonly #audio: AudioPipeline;
  readonly #sfuAudio: SfuAudio;
  readonly #recorder: Recorder;
  readonly #agent: AnsweringAgent;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#audio = new AudioPipeline({
      env,
      waitUntil: (work) => ctx.waitUntil(work),
      callId: () => readCallRow(ctx.storage.sql)?.call_id ?? null,
      append: (utterance) => this.#appendUtterance(utterance),
    });
    // Listeners of the call's live audio register here: this.#audio.addListener(…).
    this.#sfuAudio = new SfuAudio({
      ctx,
      ingest: this.#ingest,
      pipeline: this.#audio,
      takesAudio: (participantId) => this.#takesAudio(participantId),
      refused: (participantId, detail) => this.#audioRefused(participantId, detail),
    });
    this.#agent = new AnsweringAgent({
      env,
      storage: ctx.storage,
      waitUntil: (work) => ctx.waitUntil(work),
      append: (line, speech) => this.appendTranscript(line, speech),
      broadcast: (frame) => this.#signal.broadcast(frame),
      agentAudio: (audio) => this.#audio.agentAudio(audio),
    });
    this.#audio.addListener(this.#agent);
    this.#recorder = new Recorder({
      ctx,
      env,
      chunkSeconds: chunkSecondsOf(env),
      // The roster a socket gets on connecting says `recording`: a connected participant was told.
      isTold: (participantId) => this.#signal.isConnected(participantId),
    });
    this.#audio.addListener(this.#recorder);
    this.#signal = new Signalling(ctx, {
      transcriptionMuted: (participantId, muted) => {
        if (muted) this.#audio.discard(participantId);
      },
      rosterExtras: () => ({ live_transcription: this.#liveTranscription(), recording: this.#recorder.recording() }),
    });
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
    void ctx.blockConcurrencyWhile(async () => {
      migrate(ctx.storage, CALL_MIGRATIONS);
    });
  }

  create(input: NewCall): CallResult<CallSession> {
    const sql = this.ctx.storage.sql;
    if (readCallRow(sql)) return { ok: false, reason: "conflict", detail: "This call already exists." };
    insertCall(sql, input);
    if (input.agent) this.#agent.configure(input.agent);
    return { ok: true, value: this.#render(readCallRow(sql)!) };
  }

  get(): CallSession | null {
    const row = readCallRow(this.ctx.storage.sql);
    return row ? this.#render(row) : null;
  }

  /** The call without its transcript: enough to authorize a request or check a participant. */
  head(): CallHead | null {
    const sql = this.ctx.storage.sql;
    const row = readCallRow(sql);
    return row ? { call_id: row.call_id, agent_id: row.agent_id, status: row.status, participants: listParticipants(sql) } : null;
  }

  transition(action: CallAction, nowMs: number): CallResult<CallSession> {
    const sql = this.ctx.storage.sql;
    const row = readCallRow(sql);
    if (!row) return NO_CALL;
    const rule = TRANSITIONS[action];
    if (!rule.from.includes(row.status)) {
      return {
        ok: false,
        reason: "conflict",
        status: row.status,
        detail: `Cannot ${action} a call that is ${row.status} (allowed from: ${rule.from.join(", ")})`,
      };
    }
    const final = FINAL_STATUSES.includes(rule.to);
    this.ctx.storage.transactionSync(() => setStatus(sql, rule.to, nowMs, final));
    this.#signal.broadcast({ type: "status", status: rule.to });
    if (final) {
      this.#recorder.flushAll();
      this.#signal.closeAll(1000, `call ${rule.to}`);
    }
    return { ok: true, value: this.#render(readCallRow(sql)!) };
  }

  addParticipant(input: NewParticipant): CallResult<CallParticipant> {
    const sql = this.ctx.storage.sql;
    const row = readCallRow(sql);
    if (!row) return NO_CALL;
    if (FINAL_STATUSES.includes(row.status))
      return { ok: false, reason: "conflict", status: row.status, detail: `The call is ${row.status}.` };
    insertParticipant(sql, input, row.video_enabled === 1);
    return { ok: true, value: readParticipant(sql, input.participantId)! };
  }

  removeParticipant(participantId: string, nowMs: number): CallResult<CallParticipant> {
    const sql = this.ctx.storage.sql;
    const found = this.#participant(participantId);
    if (!found.ok) return found;
    if (found.value.left_at !== null)
      return { ok: false, reason: "conflict", detail: `Participant '${participantId}' already left the call.` };
    this.#signal.leave(participantId, "removed", nowMs);
    return { ok: true, value: readParticipant(sql, participantId)! };
  }

  updateParticipant(participantId: string, patch: { is_muted?: boolean; is_video_enabled?: boolean }): CallResult<CallParticipant> {
    const sql = this.ctx.storage.sql;
    const found = this.#participant(participantId);
    if (!found.ok) return found;
    if (found.value.left_at !== null)
      return { ok: false, reason: "conflict", detail: `Participant '${participantId}' already left the call.` };
    updateParticipant(sql, participantId, patch);
    const updated = readParticipant(sql, participantId)!;
    this.#signal.participantUpdated(updated);
    return { ok: true, value: updated };
  }

  /**
   * Checks that a participant may open a signalling socket (the Worker verified the token).
   * Returns null when allowed, else the refusal.
   */
  admission(participantId: string): Extract<CallResult<never>, { ok: false }> | null {
    const found = this.#participant(participantId);
    if (!found.ok) return found;
    // The call's end first: it marks everyone as left, and "the call is ended" is the real reason.
    const status = readCallRow(this.ctx.storage.sql)!.status;
    if (FINAL_STATUSES.includes(status)) return { ok: false, reason: "conflict", status, detail: `The call is ${status}.` };
    if (found.value.left_at !== null)
      return { ok: false, reason: "conflict", detail: "This participant has left the call; add a new one to rejoin." };
    return null;
  }

  transcript(): TranscriptLine[] | null {
    return readCallRow(this.ctx.storage.sql) ? readTranscript(this.ctx.storage.sql) : null;
  }

  /** Erases the transcript and tells every socket (a recorded call's audio is erased by `eraseRecordings`). */
  clearTranscript(): CallResult<{ deleted: number }> {
    const sql = this.ctx.storage.sql;
    if (!readCallRow(sql)) return NO_CALL;
    const deleted = clearTranscript(sql);
    this.#signal.broadcast({ type: "transcript_cleared" });
    return { ok: true, value: { deleted } };
  }

  /**
   * Appends a transcript line and sends it to every socket as `transcript`. With `speech`, the
   * agent's synthesized audio is also sent as `agent_speech` (for …/speak).
   */
  appendTranscript(
    line: { participantId: string | null; text: string; source: TranscriptSource; atMs: number },
    speech?: { audioBase64: string; contentType: string },
  ): CallResult<TranscriptLine> {
    const sql = this.ctx.storage.sql;
    const row = readCallRow(sql);
    if (!row) return NO_CALL;
    // Checked here, not only before a slow speech provider ran: the call may have ended meanwhile.
    if (FINAL_STATUSES.includes(row.status))
      return { ok: false, reason: "conflict", status: row.status, detail: `The call is ${row.status}.` };
    const speaker = line.participantId === null ? null : readParticipant(sql, line.participantId);
    if (line.participantId !== null && !speaker)
      return { ok: false, reason: "not_found", detail: `No participant '${line.participantId}' in this call.` };
    if (speaker && speaker.left_at !== null)
      return { ok: false, reason: "conflict", detail: `Participant '${line.participantId}' already left the call.` };
    const stored = insertTranscriptLine(sql, line);
    this.#signal.broadcast({ type: "transcript", line: stored });
    if (speech) {
      this.#signal.broadcast({
        type: "agent_speech",
        participant_id: line.participantId,
        text: line.text,
        audio: speech.audioBase64,
        content_type: speech.contentType,
      });
    }
    // Speech-to-text from POST …/transcribe is an utterance like one from live audio.
    if (line.source === "speech_to_text" && line.participantId !== null) {
      this.#agent.utterance({
        participant_id: line.participantId,
        text: line.text,
        started_at: stored.at,
        ended_at: stored.at,
        confidence: null,
      });
    }
    return { ok: true, value: stored };
  }

  /**
   * POST …/agent/respond: the answering agent answers the latest line a participant said, now.
   * Refused (conflict) when the call is over, its agent is off, or nobody has said anything yet.
   */
  agentRespond(): CallResult<{ participant_id: string; text: string }> {
    const row = readCallRow(this.ctx.storage.sql);
    if (!row) return NO_CALL;
    if (FINAL_STATUSES.includes(row.status))
      return { ok: false, reason: "conflict", status: row.status, detail: `The call is ${row.status}.` };
    if (this.#agent.config().mode === "off")
      return { ok: false, reason: "conflict", detail: "This call's agent is off (it was created without agent.mode on_request or auto)." };
    const utterance = this.#agent.lastUtterance();
    if (!utterance)
      return { ok: false, reason: "conflict", detail: "Nothing to answer yet: no participant has said anything in this call." };
    this.#agent.respond(utterance);
    return { ok: true, value: { participant_id: utterance.participant_id, text: utterance.text } };
  }

  /** `…/speak`: the agent's speech as `appendTranscript` records and sends it, then told to the audio listeners (the recorder). */
  speak(
    line: { participantId: string | null; text: string; source: TranscriptSource; atMs: number },
    speech: { audioBase64: string; contentType: string },
  ): CallResult<TranscriptLine> {
    const result = this.appendTranscript(line, speech);
    if (result.ok) this.#audio.agentAudio({ bytes: base64ToBytes(speech.audioBase64), content_type: speech.contentType, at: line.atMs });
    return result;
  }

  // ---- Recordings (./call-session/recorder.ts) ----

  /** One recording with its stored chunks in order, for the download; null when unknown or still empty. */
  recordingFile(recordingId: string): RecordingFile | null {
    const row = readCallRow(this.ctx.storage.sql);
    return row ? readRecordingFile(this.ctx.storage.sql, row.call_id, recordingId) : null;
  }

  /** Erases every recording: the rows, then every stored object of the call. */
  async eraseRecordings(): Promise<CallResult<{ deleted: number; objects: number }>> {
    const row = readCallRow(this.ctx.storage.sql);
    if (!row) return NO_CALL;
    return { ok: true, value: await this.#recorder.erase(row.call_id) };
  }

  // ---- Realtime SFU proxy (the Worker calls the SFU between sfuContext and the record* methods) ----

  /** The participant's SFU record and the call's SFU sessions, if it may use the SFU now. */
  sfuContext(participantId: string): CallResult<{ record: ParticipantSfuRecord; callSessions: string[] }> {
    const refused = this.#sfuRefusal(participantId);
    if (refused) return refused;
    const sql = this.ctx.storage.sql;
    return { ok: true, value: { record: sfuRecord(sql, participantId), callSessions: callSfuSessions(sql) } };
  }

  /** Records the participant's new SFU session (replacing any previous one and its tracks). */
  recordSfuSession(participantId: string, sessionId: string): CallResult<{ replaced: string | null }> {
    const refused = this.#sfuRefusal(participantId);
    if (refused) return refused;
    const sql = this.ctx.storage.sql;
    const replaced = sfuRecord(sql, participantId).sessionId;
    const dropped = this.ctx.storage.transactionSync(() => replaceSfuSession(sql, participantId, sessionId));
    for (const name of dropped)
      this.#signal.broadcast(
        { type: "track_closed", participant_id: participantId, sfu_session_id: replaced, stream_id: name },
        participantId,
      );
    this.#signal.participantUpdated(readParticipant(sql, participantId)!);
    return { ok: true, value: { replaced } };
  }

  /** Records tracks the SFU accepted on the participant's session; published ones are announced. */
  recordSfuTracks(participantId: string, sessionId: string, tracks: OpenedTrack[], nowMs: number): CallResult<null> {
    const refused = this.#sfuRefusal(participantId, sessionId);
    if (refused) return refused;
    const sql = this.ctx.storage.sql;
    const published = this.ctx.storage.transactionSync(() => insertSfuTracks(sql, participantId, sessionId, tracks, nowMs));
    for (const stream of published)
      this.#signal.broadcast({ type: "track_published", participant_id: participantId, sfu_session_id: sessionId, stream }, participantId);
    if (published.length > 0) this.#signal.participantUpdated(readParticipant(sql, participantId)!);
    return { ok: true, value: null };
  }

  /** Forgets mids the SFU closed; closed published tracks are announced. */
  forgetSfuTracks(participantId: string, sessionId: string, mids: string[]): CallResult<null> {
    const refused = this.#sfuRefusal(participantId, sessionId);
    if (refused) return refused;
    const sql = this.ctx.storage.sql;
    const dropped = this.ctx.storage.transactionSync(() => deleteSfuTracks(sql, participantId, sessionId, mids));
    for (const name of dropped)
      this.#signal.broadcast(
        { type: "track_closed", participant_id: participantId, sfu_session_id: sessionId, stream_id: name },
        participantId,
      );
    if (dropped.length > 0) this.#signal.participantUpdated(readParticipant(sql, participantId)!);
    return { ok: true, value: null };
  }

  /** Number of open signalling sockets (metrics, tests). */
  connections(): number {
    return this.#signal.sockets().length;
  }

  override fetch(request: Request): Response {
    const url = new URL(request.url);
    const participantId = url.searchParams.get("participant_id");
    // Only the Worker's `connect` calls this, after checking the token and the upgrade header; a
    // refusal travels back as the CallResult it is, for the Worker to map like any other.
    if ((url.pathname !== "/ws" && url.pathname !== "/sfu-audio") || !participantId)
      return Response.json(NO_CALL satisfies CallResult<never>, { status: 404 });
    const refused = this.admission(participantId);
    if (refused) return Response.json(refused, { status: refused.reason === "not_found" ? 404 : 409 });
    // The Realtime SFU's adapter streaming the participant's audio (src/calls/sfu-audio.ts checked its token).
    if (url.pathname === "/sfu-audio") return this.#sfuAudio.accept(participantId);
    return this.#signal.accept(participantId);
  }

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): void {
    if (typeof message !== "string") return this.#audioMessage(ws, message);
    this.#signal.message(ws, message, Date.now());
  }

  override webSocketClose(ws: WebSocket, code: number, reason: string): void {
    this.#signal.closed(ws, code, reason);
    this.#audioEnded(participantOf(ws));
  }

  override webSocketError(ws: WebSocket): void {
    this.#signal.closed(ws, 1011, "socket error");
    this.#audioEnded(participantOf(ws));
  }

  // ---- Live audio (./call-session/audio-ingest.ts, ./call-session/audio-pipeline.ts) ----

  /** Whether the call transcribes live audio (the page sends its microphone only when it does). */
  #liveTranscription(): LiveTranscription {
    return liveTranscription(this.#audio.speech());
  }

  /** A binary frame on a participant's own socket: their microphone audio. */
  #audioMessage(ws: WebSocket, data: ArrayBuffer): void {
    const self = participantOf(ws);
    if (self === undefined) return;
    // Ignored, not refused: the page stops sending by itself once it is muted or the call moves on;
    // with an SFU adapter streaming the participant, that is their audio.
    if (!this.#takesAudio(self) || this.#sfuAudio.connected(self)) return;
    const checked = this.#ingest.fromSocket(self, new Uint8Array(data), Date.now());
    if ("refusal" in checked) {
      if (!checked.notify) return;
      this.#signal.error(ws, checked.refusal.code, checked.refusal.message);
      return this.#audioRefused(self, checked.refusal.code);
    }
    this.#audio.accept(checked.frame);
  }

  /** A refused audio frame or stream (from the page's socket or an SFU adapter), for the logs (never audio). */
  #audioRefused(participantId: string, detail: string): void {
    const callId = readCallRow(this.ctx.storage.sql)?.call_id ?? "";
    log({ event: "call.live_audio", call_id: callId, participant_id: participantId, outcome: "refused", detail });
  }

  /** A participant's audio is taken while they are in a live call and did not mute their transcription. */
  #takesAudio(participantId: string): boolean {
    const gate = audioGate(this.ctx.storage.sql, participantId);
    return !!gate && !gate.left && !gate.transcriptionMuted && gate.status !== "on_hold" && !FINAL_STATUSES.includes(gate.status);
  }

  // ---- SFU mode's live audio (./call-session/sfu-audio.ts; the Worker side: src/calls/sfu-audio.ts) ----

  /** May the participant's published audio track be streamed to the Worker now? */
  sfuAudioTrack(participantId: string, sessionId: string, trackName: string): CallResult<null> {
    const refused = this.#sfuRefusal(participantId, sessionId);
    if (refused) return refused;
    if (!publishedAudioTrack(this.ctx.storage.sql, participantId, sessionId, trackName))
      return { ok: false, reason: "not_found", detail: `This participant published no audio track '${trackName}' on this SFU session.` };
    if (audioGate(this.ctx.storage.sql, participantId)?.transcriptionMuted)
      return { ok: false, reason: "conflict", detail: "This participant turned live transcription of their voice off." };
    return { ok: true, value: null };
  }

  recordSfuAudioAdapter(adapterId: string, record: SfuAdapterRecord): void {
    this.#sfuAudio.remember(adapterId, record);
  }

  /** The adapter if this participant opened it, for closing it. */
  sfuAudioAdapter(participantId: string, adapterId: string): CallResult<SfuAdapterRecord> {
    const record = this.#sfuAudio.adapterOf(participantId, adapterId);
    return record
      ? { ok: true, value: record }
      : { ok: false, reason: "not_found", detail: `No audio adapter '${adapterId}' of this participant.` };
  }

  forgetSfuAudioAdapter(adapterId: string): void {
    this.#sfuAudio.forget(adapterId);
  }

  #audioEnded(participantId: string | undefined): void {
    if (participantId === undefined || this.#signal.isConnected(participantId) || this.#sfuAudio.connected(participantId)) return;
    this.#audio.end(participantId);
    this.#ingest.forget(participantId);
  }

  /** Appends a transcribed utterance unless the call ended or its speaker muted transcription meanwhile. */
  #appendUtterance(u: Utterance): boolean {
    const sql = this.ctx.storage.sql;
    const row = readCallRow(sql);
    if (!row || FINAL_STATUSES.includes(row.status)) return false;
    const gate = audioGate(sql, u.participant_id);
    if (!gate || gate.transcriptionMuted) return false;
    const stored = insertTranscriptLine(sql, {
      participantId: u.participant_id,
      text: u.text,
      source: "speech_to_text",
      atMs: Date.now(),
      utterance: { startedAtMs: Date.parse(u.started_at), endedAtMs: Date.parse(u.ended_at), confidence: u.confidence },
    });
    this.#signal.broadcast({ type: "transcript", line: stored });
    return true;
  }

  /** Why the participant may not use the SFU now (call over, unknown, left, session replaced), or null. */
  #sfuRefusal(participantId: string, sessionId?: string): Extract<CallResult<never>, { ok: false }> | null {
    const row = readCallRow(this.ctx.storage.sql);
    if (!row) return NO_CALL;
    if (FINAL_STATUSES.includes(row.status))
      return { ok: false, reason: "conflict", status: row.status, detail: `The call is ${row.status}.` };
    const found = this.#participant(participantId);
    if (!found.ok) return found;
    if (found.value.left_at !== null)
      return { ok: false, reason: "conflict", detail: `Participant '${participantId}' already left the call.` };
    if (sessionId !== undefined && found.value.sfu_session_id !== sessionId) {
      return {
        ok: false,
        reason: "conflict",
        detail: "This SFU session was replaced by a newer one of the same participant while the request ran.",
      };
    }
    return null;
  }

  /** The call as the API shows it: the stored record plus the answering agent's settings. */
  #render(row: NonNullable<ReturnType<typeof readCallRow>>): CallSession {
    return { ...renderCall(this.ctx.storage.sql, row), agent: this.#agent.config() };
  }

  #participant(participantId: string): CallResult<CallParticipant> {
    if (!readCallRow(this.ctx.storage.sql)) return NO_CALL;
    const p = readParticipant(this.ctx.storage.sql, participantId);
    return p ? { ok: true, value: p } : { ok: false, reason: "not_found", detail: `No participant '${participantId}' in this call.` };
  }
}

/** RECORDING_CHUNK_SECONDS, or the default when it is not a valid number (/health reports that). */
function chunkSecondsOf(env: Env): number {
  try {
    return recordingChunkSeconds(env);
  } catch {
    return DEFAULT_CHUNK_SECONDS;
  }
}
