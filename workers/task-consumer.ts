/**
 * The Worker's `queue()` handler: it parses what arrives and hands it to the tasks capability.
 * `agent-tasks` carries one attempt of one task per message, grouped here per agent for the
 * runner (src/tasks/runner.ts); `agent-tasks-dlq` carries what failed for good, recorded in D1
 * (src/tasks/dead-letters.ts).
 */
import { z } from "zod";
import { deadLetterMalformed, recordDeadLetters } from "../src/tasks/dead-letters";
import { runAttempts } from "../src/tasks/runner";

export const TASK_QUEUE_NAME = "agent-tasks";
export const DEAD_LETTER_QUEUE_NAME = "agent-tasks-dlq";

const TaskMessageSchema = z.object({ task_id: z.string().min(1), agent_id: z.string().min(1) });

export async function consumeTaskBatch(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  if (batch.queue === DEAD_LETTER_QUEUE_NAME) {
    await recordDeadLetters(
      env,
      batch.messages.map((m) => ({ id: m.id, body: m.body })),
    );
    batch.ackAll();
    return;
  }
  const byAgent = new Map<string, { message: Message<unknown>; taskId: string }[]>();
  for (const message of batch.messages) {
    const parsed = TaskMessageSchema.safeParse(message.body);
    if (!parsed.success) {
      await deadLetterMalformed(env, message.body);
      message.ack();
      continue;
    }
    const list = byAgent.get(parsed.data.agent_id) ?? [];
    list.push({ message, taskId: parsed.data.task_id });
    byAgent.set(parsed.data.agent_id, list);
  }
  await Promise.all(
    [...byAgent].map(async ([agentId, items]) => {
      const verdicts = await runAttempts(
        env,
        agentId,
        items.map((i) => i.taskId),
      );
      items.forEach(({ message }, i) => {
        const verdict = verdicts[i]!;
        if (verdict.ack) message.ack();
        else message.retry({ delaySeconds: verdict.retryAfterSeconds });
      });
    }),
  );
}
