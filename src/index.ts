/**
 * The Worker: one deployable serving HTTP (fetch) and task execution (queue). Durable Object
 * classes are exported from here because wrangler binds them by class name on the main module.
 */
import { createApp } from "./app";
import { handleInboundEmail } from "../workers/email-inbound";
import { consumeTaskBatch } from "../workers/task-consumer";

export { AgentDO } from "../durable-objects/agent";
export { CallSessionDO } from "../durable-objects/call-session";

const app = createApp();

// `satisfies` keeps the handlers' exact types, so tests can call `worker.queue()` directly.
export default {
  fetch: app.fetch,
  queue: consumeTaskBatch,
  email: (message, env) => handleInboundEmail(message, env),
} satisfies ExportedHandler<Env>;
