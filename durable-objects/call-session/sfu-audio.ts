/**
 * SFU mode's live audio: the Realtime SFU's WebSocket adapter dials the Worker's
 * `/api/v2/calls/{call_id}/sfu/audio?token=` (the token, minted per adapter, names the participant;
 * src/calls/sfu-audio.ts) and the Worker hands the upgrade here. Each binary message is a protobuf
 * Packet of 48 kHz stereo PCM (./sfu-packet.ts), converted to 16 kHz mono and bounded by the same
 * ingest as the page's frames, then fed to the same pipeline.
 *
 * These sockets are accepted without hibernation (plain `accept()`): they are not signalling
 * sockets (never in `getWebSockets()`, never sent roster frames), and audio keeps the object awake
 * anyway. While a participant's adapter is connected, audio frames on their signalling socket are
 * ignored, so a page that also sends its microphone is not transcribed twice.
 *
 * The adapters opened through the Worker are remembered in the object's key-value storage
 * (`sfu-audio-adapter:<adapterId>` → participant, session, track) so only their owner closes them.
 */
import type { AudioIngest } from "./audio-ingest";
import type { AudioPipeline } from "./audio-pipeline";
import { Stereo48kToMono16k } from "./pcm";
import { PacketError, decodePacket } from "./sfu-packet";

export interface SfuAdapterRecord {
  participantId: string;
  sessionId: string;
  trackName: string;
}

export interface SfuAudioDeps {
  ctx: DurableObjectState;
  ingest: AudioIngest;
  pipeline: AudioPipeline;
  /** Whether the participant's audio is taken now (in the call, call live, transcription not muted). */
  takesAudio(participantId: string): boolean;
  /** A refused packet or a malformed stream, for the logs (never audio). */
  refused(participantId: string, detail: string): void;
}

const ADAPTER_KEY = "sfu-audio-adapter:";

export class SfuAudio {
  readonly #deps: SfuAudioDeps;
  readonly #sockets = new Map<string, Set<WebSocket>>();

  constructor(deps: SfuAudioDeps) {
    this.#deps = deps;
  }

  /** Whether an SFU adapter is streaming this participant's audio now. */
  connected(participantId: string): boolean {
    return (this.#sockets.get(participantId)?.size ?? 0) > 0;
  }

  /** Accepts the SFU's upgrade for a participant the caller checked. */
  accept(participantId: string): Response {
    const pair = new WebSocketPair();
    const server = pair[1];
    // Binary messages as ArrayBuffer (this runtime's default for a plain accept() is Blob).
    server.binaryType = "arraybuffer";
    server.accept();
    const converter = new Stereo48kToMono16k();
    const open = this.#sockets.get(participantId) ?? new Set<WebSocket>();
    open.add(server);
    this.#sockets.set(participantId, open);
    let told = false;
    server.addEventListener("message", (e: MessageEvent) => {
      if (!(e.data instanceof ArrayBuffer)) return;
      let payload: Uint8Array;
      try {
        payload = decodePacket(new Uint8Array(e.data)).payload;
      } catch (err) {
        if (!(err instanceof PacketError)) throw err;
        if (!told) this.#deps.refused(participantId, `not a Packet: ${err.message}`);
        told = true;
        return;
      }
      if (payload.byteLength === 0 || !this.#deps.takesAudio(participantId)) return;
      const checked = this.#deps.ingest.fromSfu(participantId, payload, converter, Date.now());
      if ("refusal" in checked) {
        if (checked.notify) this.#deps.refused(participantId, checked.refusal.code);
        return;
      }
      if (checked.frame) this.#deps.pipeline.accept(checked.frame);
    });
    const closed = () => {
      open.delete(server);
      if (open.size === 0) {
        this.#sockets.delete(participantId);
        this.#deps.pipeline.end(participantId);
      }
      try {
        server.close(1000, "closed");
      } catch {
        // Already closed.
      }
    };
    server.addEventListener("close", closed);
    server.addEventListener("error", closed);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  remember(adapterId: string, record: SfuAdapterRecord): void {
    this.#deps.ctx.storage.kv.put(ADAPTER_KEY + adapterId, record);
  }

  /** The adapter's record if it belongs to the participant, else null. */
  adapterOf(participantId: string, adapterId: string): SfuAdapterRecord | null {
    const record = this.#deps.ctx.storage.kv.get<SfuAdapterRecord>(ADAPTER_KEY + adapterId);
    return record && record.participantId === participantId ? record : null;
  }

  forget(adapterId: string): void {
    this.#deps.ctx.storage.kv.delete(ADAPTER_KEY + adapterId);
  }
}

/** Whether the participant published an audio track of that name on that SFU session (through the proxy). */
export function publishedAudioTrack(sql: SqlStorage, participantId: string, sessionId: string, trackName: string): boolean {
  return (
    sql
      .exec(
        "SELECT 1 FROM sfu_tracks WHERE session_id = ? AND participant_id = ? AND track_name = ? AND location = 'local' AND media_type = 'audio'",
        sessionId,
        participantId,
        trackName,
      )
      .toArray().length > 0
  );
}
