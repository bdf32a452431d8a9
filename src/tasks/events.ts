/**
 * Live task events (SPEC §3): the Worker resolves the task's agent (from the task id's prefix,
 * with the caller's agent restriction: agentOfTask) and forwards to the agent's Durable Object,
 * whose fetch handler streams Server-Sent Events (durable-objects/agent/event-stream.ts).
 */
import type { Principal } from "../auth/principal";
import { AppError } from "../lib/problem";
import { agentOfTask } from "./service";

/** Last-Event-ID (a reconnect) wins over `?after=`; an unreadable id replays from the start. */
export function resumeAfter(lastEventId: string | undefined, after: number | undefined): number {
  if (lastEventId !== undefined && /^\d{1,15}$/.test(lastEventId.trim())) return Number(lastEventId.trim());
  return after ?? 0;
}

export async function openTaskEvents(env: Env, taskId: string, principal: Principal, afterSeq: number): Promise<Response> {
  const agentId = await agentOfTask(env, taskId, principal);
  const res = await env.AGENT.getByName(agentId).fetch(`https://agent.internal/tasks/${encodeURIComponent(taskId)}/events?after=${afterSeq}`);
  if (res.status === 404) throw new AppError("not_found", `No task '${taskId}'.`);
  return res;
}
