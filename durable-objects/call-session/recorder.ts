/**
 * The call's recorder: an AudioListener inside CallSessionDO that stores each participant's
 * microphone (16 kHz mono PCM, cut into chunks of RECORDING_CHUNK_SECONDS) and the agent's speech
 * (MP3, one chunk per piece the agent sent) in the RECORDINGS bucket while the call runs.
 *
 * Durability: a chunk is put to R2 the moment it fills, and its row is written only once the put
 * succeeded, so a crash loses at most the chunk still filling (plus one whose put was in flight).
 * A track that goes quiet is flushed after {@link IDLE_FLUSH_MS}, so a pause or a leave does not
 * keep audio only in memory; the end of the call flushes everything.
 *
 * Consent: a participant's audio is recorded only once its page was told that the call is recorded
 * (`isTold`: its socket got the roster, which carries `recording: true`). Nothing is recorded when
 * the call was created without `recording_enabled` or the bucket is not bound.
 */
import { log, warn } from "../../src/lib/log";
import { newId } from "../../src/lib/ids";
import { mp3DurationSeconds } from "../../src/calls/recordings/mp3-duration";
import { PCM_CONTENT_TYPE, callPrefix, chunkKey, recordingsBucket, type RecordingTrack } from "../../src/calls/recordings/model";
import { PcmChunker } from "../../src/calls/recordings/pcm-chunker";
import { FINAL_STATUSES } from "../../src/calls/model";
import { PCM_SAMPLE_RATE, type AudioFrame, type AudioListener } from "./audio-hooks";
import { deleteRecordings, findTrack, insertChunk, insertRecording } from "./recordings-store";
import { listParticipants, readCallRow, readParticipant } from "./store";

/** A track with audio waiting and no frame for this long is written out as a short chunk. */
export const IDLE_FLUSH_MS = 1500;
const PUT_ATTEMPTS = 3;
const BYTES_PER_SECOND = PCM_SAMPLE_RATE * 2;
/** The agent's speech is kept as the provider encoded it; MP3 pieces played one after another are one MP3. */
const AGENT_CONTENT_TYPE = "audio/mpeg";

export interface RecorderDeps {
  ctx: DurableObjectState;
  env: Env;
  /** Seconds of a participant's audio per chunk. */
  chunkSeconds: number;
  /** Whether the participant's page was told the call is recorded (its socket got the roster). */
  isTold(participantId: string): boolean;
}

interface Track {
  recordingId: string;
  nextIndex: number;
  chunker: PcmChunker;
  lastFrameAt: number;
}

export class Recorder implements AudioListener {
  readonly #deps: RecorderDeps;
  readonly #bucket: R2Bucket | null;
  readonly #tracks = new Map<string, Track>();
  #agentTrack: { recordingId: string; nextIndex: number } | null = null;
  #idleTimer: ReturnType<typeof setTimeout> | null = null;
  /** The call's recording_enabled, read once (it never changes). */
  #enabled: boolean | null = null;

  constructor(deps: RecorderDeps) {
    this.#deps = deps;
    this.#bucket = recordingsBucket(deps.env);
  }

  /** Whether this call's audio is recorded: what the roster tells every page. */
  recording(): boolean {
    if (!this.#bucket) return false;
    if (this.#enabled === null) {
      const row = readCallRow(this.#deps.ctx.storage.sql);
      if (!row) return false;
      this.#enabled = row.recording_enabled === 1;
    }
    return this.#enabled;
  }

  frame(frame: AudioFrame): void {
    const track = this.#tracks.get(frame.participant_id) ?? this.#openTrack(frame);
    if (!track) return;
    track.lastFrameAt = Date.now();
    for (const chunk of track.chunker.push(frame.pcm)) this.#store(track, chunk, PCM_CONTENT_TYPE, chunk.byteLength / BYTES_PER_SECOND);
    this.#armIdleFlush();
  }

  agentAudio(audio: { bytes: Uint8Array; content_type: string; at: number }): void {
    if (!this.#live()) return;
    const type = (audio.content_type.split(";")[0] ?? "").trim().toLowerCase();
    if (type !== AGENT_CONTENT_TYPE) {
      warn({ event: "call.recording", call_id: this.#callId(), outcome: "skipped", detail: `agent audio of type ${type} is not recorded` });
      return;
    }
    if (!this.#agentTrack) {
      const sql = this.#deps.ctx.storage.sql;
      const agent = listParticipants(sql).find((p) => p.is_agent && p.left_at === null)?.participant_id ?? null;
      this.#agentTrack =
        findTrack(sql, "agent", agent, AGENT_CONTENT_TYPE) ?? this.#newRecording("agent", agent, AGENT_CONTENT_TYPE, audio.at);
    }
    this.#store(this.#agentTrack, audio.bytes.slice(), AGENT_CONTENT_TYPE, mp3DurationSeconds(audio.bytes));
  }

  /** Writes out every track's waiting audio (the call ended, or a test wants it now). */
  flushAll(): void {
    for (const track of this.#tracks.values()) this.#flush(track);
  }

  /**
   * Erases every recording of the call: the rows first (the listing is empty at once), then every
   * object under the call's prefix, including any a failed earlier erase left. Audio waiting in
   * memory is dropped; a put still in flight deletes its own object when it finds its row gone.
   * Recording goes on afterwards if the call does.
   */
  async erase(callId: string): Promise<{ deleted: number; objects: number }> {
    const deleted = this.#deps.ctx.storage.transactionSync(() => deleteRecordings(this.#deps.ctx.storage.sql));
    this.#tracks.clear();
    this.#agentTrack = null;
    let objects = 0;
    if (!this.#bucket) return { deleted, objects };
    for (;;) {
      const page = await this.#bucket.list({ prefix: callPrefix(callId), limit: 1000 });
      if (page.objects.length === 0) break;
      await this.#bucket.delete(page.objects.map((o) => o.key));
      objects += page.objects.length;
    }
    return { deleted, objects };
  }

  /** Recording is on, the bucket bound, the call not over. */
  #live(): boolean {
    if (!this.recording()) return false;
    const row = readCallRow(this.#deps.ctx.storage.sql);
    return row !== null && !FINAL_STATUSES.includes(row.status);
  }

  #openTrack(frame: AudioFrame): Track | null {
    // Consent first: it needs no SQL, and an untold participant's frames arrive many times a second.
    if (!this.#deps.isTold(frame.participant_id) || !this.#live()) return null;
    const participant = readParticipant(this.#deps.ctx.storage.sql, frame.participant_id);
    if (!participant || participant.left_at !== null) return null;
    // After a restart the participant's recording continues: its next chunk follows the last stored one.
    const found =
      findTrack(this.#deps.ctx.storage.sql, "participant", frame.participant_id, PCM_CONTENT_TYPE) ??
      this.#newRecording("participant", frame.participant_id, PCM_CONTENT_TYPE, frame.at);
    const track: Track = { ...found, chunker: new PcmChunker(this.#deps.chunkSeconds * BYTES_PER_SECOND), lastFrameAt: Date.now() };
    this.#tracks.set(frame.participant_id, track);
    return track;
  }

  #newRecording(track: RecordingTrack, participantId: string | null, contentType: string, atMs: number) {
    const recordingId = newId("rec");
    insertRecording(this.#deps.ctx.storage.sql, { recordingId, participantId, track, contentType, startedAtMs: atMs });
    return { recordingId, nextIndex: 0 };
  }

  #flush(track: Track): void {
    const rest = track.chunker.drain();
    if (rest) this.#store(track, rest, PCM_CONTENT_TYPE, rest.byteLength / BYTES_PER_SECOND);
  }

  /** One timer while any track has audio waiting (none otherwise, so the object can hibernate). */
  #armIdleFlush(): void {
    if (this.#idleTimer !== null) return;
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = null;
      const now = Date.now();
      let waiting = false;
      for (const track of this.#tracks.values()) {
        if (now - track.lastFrameAt >= IDLE_FLUSH_MS) this.#flush(track);
        else if (track.chunker.pendingBytes > 0) waiting = true;
      }
      if (waiting) this.#armIdleFlush();
    }, IDLE_FLUSH_MS);
  }

  #store(track: { recordingId: string; nextIndex: number }, bytes: Uint8Array, contentType: string, durationSeconds: number): void {
    const index = track.nextIndex++;
    this.#deps.ctx.waitUntil(this.#put(track.recordingId, index, bytes, contentType, durationSeconds));
  }

  async #put(recordingId: string, index: number, bytes: Uint8Array, contentType: string, durationSeconds: number): Promise<void> {
    const bucket = this.#bucket!;
    const callId = this.#callId();
    const key = chunkKey(callId, recordingId, index);
    for (let attempt = 1; ; attempt++) {
      try {
        await bucket.put(key, bytes, { httpMetadata: { contentType } });
        break;
      } catch (err) {
        const detail = err instanceof Error ? err.message : String(err);
        if (attempt >= PUT_ATTEMPTS) {
          warn({ event: "call.recording", call_id: callId, outcome: "chunk_lost", recording_id: recordingId, chunk: index, detail });
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      }
    }
    const sql = this.#deps.ctx.storage.sql;
    const kept = insertChunk(sql, { recordingId, index, bytes: bytes.byteLength, durationSeconds, storedAtMs: Date.now() });
    if (!kept) await bucket.delete(key); // erased while the put ran
    else if (index === 0) log({ event: "call.recording", call_id: callId, outcome: "started", recording_id: recordingId });
  }

  #callId(): string {
    return readCallRow(this.#deps.ctx.storage.sql)?.call_id ?? "";
  }
}
