/**
 * The dead-letter queue's records: tasks that exhausted their attempts, and queue messages that
 * could never run (an older or foreign producer), kept in D1 `dead_letters` for an operator.
 */
import { z } from "zod";
import { log } from "../lib/log";

const DeadLetterSchema = z.object({ task_id: z.string(), agent_id: z.string(), error: z.string(), attempts: z.number() }).partial();

/** Sends a message the consumer can never run to the dead-letter queue, out of the way. */
export async function deadLetterMalformed(env: Env, body: unknown): Promise<void> {
  await env.TASK_DLQ.send({ error: "malformed task message", body });
}

/** Records a batch of the dead-letter queue in D1 (a redelivered message is recorded once). */
export async function recordDeadLetters(env: Env, letters: { id: string; body: unknown }[]): Promise<void> {
  const now = Date.now();
  const statements = letters.map((letter) => {
    const body = DeadLetterSchema.safeParse(letter.body);
    const info = body.success ? body.data : {};
    log({ event: "task.dead_lettered", agent_id: info.agent_id, task_id: info.task_id, error: info.error ?? "unknown" });
    return env.DB.prepare(
      "INSERT OR IGNORE INTO dead_letters (message_id, task_id, agent_id, error, attempts, body, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    ).bind(
      letter.id,
      info.task_id ?? null,
      info.agent_id ?? null,
      info.error ?? null,
      info.attempts ?? null,
      JSON.stringify(letter.body),
      now,
    );
  });
  if (statements.length > 0) await env.DB.batch(statements);
}
