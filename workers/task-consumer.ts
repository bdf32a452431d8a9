/**
 * Consumer of the `agent-tasks` queue and its dead-letter queue. Task execution arrives with the
 * long-running tasks feature (SPEC §3). Until then nothing produces task messages; should one
 * arrive, it is retried rather than acknowledged, so no task is ever silently dropped.
 */
export async function consumeTaskBatch(batch: MessageBatch<unknown>): Promise<void> {
  console.warn(JSON.stringify({ level: "warn", event: "tasks.consumer_not_ready", queue: batch.queue, messages: batch.messages.length }));
  batch.retryAll({ delaySeconds: 60 });
}
