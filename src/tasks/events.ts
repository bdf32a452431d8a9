/**
 * Live task events: the Worker resolves the task's agent (from the task id's prefix, with the
 * caller's agent restriction: agentOfTask) and forwards to the agent's Durable Object, whose
 * fetch handler streams Server-Sent Events (durable-objects/agent/event-stream.ts).
 *
 * Open streams are capped twice, each cap a 429 with Retry-After naming it:
 * - per agent (SSE_MAX_STREAMS_PER_AGENT), counted by the agent's Durable Object: exact;
 * - per credential (SSE_MAX_STREAMS_PER_CREDENTIAL), counted here, per isolate. An exact count
 *   across agents would need one global counter that every stream open and close goes through,
 *   and a close that never reaches it (an isolate evicted mid-stream) would hold a slot until
 *   some lease expired. The isolate's own count costs nothing, cannot leak (it ends with the
 *   isolate) and bounds what one credential holds in the isolate serving it; with several
 *   isolates a credential may hold up to the cap in each. The per-agent cap stays exact either way.
 */
import type { Principal } from "../auth/principal";
import { getConfig } from "../lib/config";
import { AppError } from "../lib/problem";
import { agentOfTask } from "./service";

/** A stream usually ends within seconds of its task; this is when a refused client may try again. */
export const STREAM_RETRY_AFTER_SECONDS = 5;

/** Last-Event-ID (a reconnect) wins over `?after=`; an unreadable id replays from the start. */
export function resumeAfter(lastEventId: string | undefined, after: number | undefined): number {
  if (lastEventId !== undefined && /^\d{1,15}$/.test(lastEventId.trim())) return Number(lastEventId.trim());
  return after ?? 0;
}

/** Open streams per credential in this isolate. */
const openByCredential = new Map<string, number>();

function credentialKey(principal: Principal): string {
  return `${principal.via}:${principal.id}`;
}

/** This isolate's open streams of `principal` (for tests and diagnostics). */
export function openStreamsOf(principal: Principal): number {
  return openByCredential.get(credentialKey(principal)) ?? 0;
}

function tooMany(cap: "per_credential" | "per_agent", setting: string, limit: number, detail: string): AppError {
  return new AppError("rate_limited", `${detail} (${setting} = ${limit}); close one or retry later.`, {
    headers: { "Retry-After": String(STREAM_RETRY_AFTER_SECONDS) },
    extensions: { cap, limit },
  });
}

/** Takes one of the credential's stream slots; the returned release gives it back (once). */
function takeCredentialSlot(principal: Principal, limit: number): () => void {
  const key = credentialKey(principal);
  const open = openByCredential.get(key) ?? 0;
  if (open >= limit) {
    throw tooMany("per_credential", "SSE_MAX_STREAMS_PER_CREDENTIAL", limit, `This credential already has ${open} open task event streams`);
  }
  openByCredential.set(key, open + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const left = (openByCredential.get(key) ?? 1) - 1;
    if (left <= 0) openByCredential.delete(key);
    else openByCredential.set(key, left);
  };
}

export async function openTaskEvents(env: Env, taskId: string, principal: Principal, afterSeq: number): Promise<Response> {
  const config = getConfig(env);
  const agentId = await agentOfTask(env, taskId, principal);
  const release = takeCredentialSlot(principal, config.sseMaxStreamsPerCredential);
  try {
    const max = config.sseMaxStreamsPerAgent;
    const res = await env.AGENT.getByName(agentId).fetch(
      `https://agent.internal/tasks/${encodeURIComponent(taskId)}/events?after=${afterSeq}&max=${max}`,
    );
    if (res.status === 404) throw new AppError("not_found", `No task '${taskId}'.`);
    if (res.status === 429) {
      const { open } = (await res.json()) as { open: number };
      throw tooMany("per_agent", "SSE_MAX_STREAMS_PER_AGENT", max, `Agent '${agentId}' already has ${open} open task event streams`);
    }
    if (!res.ok || !res.body) throw new Error(`The agent's event stream answered ${res.status}`);
    return new Response(releasing(res.body, release), { headers: res.headers });
  } catch (err) {
    release();
    throw err;
  }
}

/** Passes `body` through and calls `release` once it ends: read to the end, failed, or cancelled by the client. */
function releasing(body: ReadableStream<Uint8Array>, release: () => void): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await reader.read();
        if (next.done) {
          release();
          controller.close();
        } else controller.enqueue(next.value);
      } catch (err) {
        release();
        controller.error(err);
      }
    },
    async cancel(reason) {
      release();
      await reader.cancel(reason);
    },
  });
}
