/** Task helpers over the real Worker: create, read, list, wait for a status. */
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { call, json } from "./api";

export interface Task {
  task_id: string;
  agent_id: string;
  task_type: string;
  status: string;
  progress: number;
  progress_message: string | null;
  result: unknown;
  error_message: string | null;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  metadata: Record<string, unknown>;
  attempts: number;
  max_attempts: number;
  timeout_seconds: number;
  instance_id: string | null;
}

/** Creates a task and returns its id (asserting 202). */
export async function createTask(agentId: string, body: Record<string, unknown>, headers?: Record<string, string>): Promise<string> {
  const res = await call(`/api/v2/agents/${agentId}/tasks`, { body, headers });
  if (res.status !== 202) throw new Error(`create: expected 202, got ${res.status}: ${await res.text()}`);
  return (await json<{ task_id: string }>(res)).task_id;
}

export async function getTask(taskId: string): Promise<Task> {
  const res = await call(`/api/v2/tasks/${taskId}`);
  if (res.status !== 200) throw new Error(`get: expected 200, got ${res.status}: ${await res.text()}`);
  return json<Task>(res);
}

export async function listTasks(agentId: string, query = ""): Promise<{ tasks: Task[]; next_cursor: string | null }> {
  const res = await call(`/api/v2/agents/${agentId}/tasks${query}`);
  if (res.status !== 200) throw new Error(`list: expected 200, got ${res.status}: ${await res.text()}`);
  return json(res);
}

/** Polls the task until its status is one of `statuses`; returns it. */
export async function waitForStatus(taskId: string, statuses: string[], timeout = 10_000): Promise<Task> {
  let task: Task | undefined;
  await expect
    .poll(
      async () => {
        task = await getTask(taskId);
        return task.status;
      },
      { timeout, interval: 50 },
    )
    .toSatisfy((s: string) => statuses.includes(s));
  return task!;
}

/** Rows of D1's dead_letters for a task id. */
export async function deadLettersFor(taskId: string) {
  const { results } = await env.DB.prepare("SELECT * FROM dead_letters WHERE task_id = ?").bind(taskId).all<{
    message_id: string;
    task_id: string | null;
    agent_id: string | null;
    error: string | null;
    attempts: number | null;
    body: string;
  }>();
  return results;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
