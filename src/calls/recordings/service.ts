/**
 * Recordings use cases: download one (streamed from its R2 chunks) and erase all of a call's. The
 * call's object owns the rows and the erase (it also holds the recorder's in-memory tracks); the
 * download reads R2 here, so a long file never passes through the object.
 */
import type { Principal } from "../../auth/principal";
import { log } from "../../lib/log";
import { AppError } from "../../lib/problem";
import { authorizeCall, callSession, callValue } from "../service";
import { PCM_CONTENT_TYPE, recordingsBucket, type RecordingFile } from "./model";
import { WAV_HEADER_BYTES, wavHeader } from "./wav";
import { PCM_SAMPLE_RATE } from "../../../durable-objects/call-session/audio-hooks";

/** The bucket, or 503 saying this server has none. */
function requireBucket(env: Env): R2Bucket {
  const bucket = recordingsBucket(env);
  if (!bucket)
    throw new AppError("service_unavailable", "Recordings are not available on this server: no RECORDINGS bucket is bound.", {
      extensions: { settings: ["RECORDINGS"] },
    });
  return bucket;
}

/** A recording's file: the WAV header (for microphone tracks) then every chunk, read one after another. */
export async function downloadRecording(env: Env, callId: string, recordingId: string, principal: Principal): Promise<Response> {
  await authorizeCall(env, callId, principal);
  const bucket = requireBucket(env);
  const file = await callSession(env, callId).recordingFile(recordingId);
  if (!file) throw new AppError("not_found", `No recording '${recordingId}' in call '${callId}'.`);
  const wav = file.content_type === PCM_CONTENT_TYPE;
  const dataBytes = file.chunks.reduce((n, c) => n + c.bytes, 0);
  const body = streamChunks(
    bucket,
    file,
    wav ? wavHeader(dataBytes, { sampleRate: PCM_SAMPLE_RATE, channels: 1, bitsPerSample: 16 }) : null,
  );
  return new Response(body, {
    headers: {
      "Content-Type": file.content_type,
      "Content-Length": String(dataBytes + (wav ? WAV_HEADER_BYTES : 0)),
      "Content-Disposition": `attachment; filename="${recordingId}.${wav ? "wav" : "mp3"}"`,
      "Cache-Control": "private, no-store",
    },
  });
}

function streamChunks(bucket: R2Bucket, file: RecordingFile, header: Uint8Array | null): ReadableStream<Uint8Array> {
  let next = 0;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      if (header) controller.enqueue(header);
    },
    async pull(controller) {
      const chunk = file.chunks[next++];
      if (!chunk) return controller.close();
      const object = await bucket.get(chunk.key);
      // Erased while the file was being read: the length promised in the header cannot be met.
      if (!object) return controller.error(new Error(`recording chunk ${chunk.key} is gone`));
      controller.enqueue(new Uint8Array(await object.arrayBuffer()));
    },
  });
}

/** Erases every recording of the call (rows and R2 objects). */
export async function eraseRecordings(
  env: Env,
  callId: string,
  principal: Principal,
  requestId?: string,
): Promise<{ deleted: number; objects: number }> {
  await authorizeCall(env, callId, principal);
  const erased = callValue(await callSession(env, callId).eraseRecordings());
  log({
    event: "call.recording",
    request_id: requestId,
    call_id: callId,
    outcome: "erased",
    recordings: erased.deleted,
    objects: erased.objects,
  });
  return erased;
}
