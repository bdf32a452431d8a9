/**
 * The built-in task handlers, by task type. A task type not listed here has no built-in
 * handler: it is an external task, executed by a worker that reports through the API.
 */
import type { TaskHandler } from "../handler";
import { dataAnalysis } from "./data-analysis";
import { delay } from "./delay";
import { httpRequest } from "./http-request";
import { noop } from "./noop";
import { sendEmail } from "./send-email";

export const BUILT_IN_HANDLERS: Record<string, TaskHandler> = {
  data_analysis: dataAnalysis,
  http_request: httpRequest,
  noop,
  delay,
  send_email: sendEmail,
};

/** The built-in handler for `taskType`, or undefined for an external task type. */
export function handlerFor(taskType: string): TaskHandler | undefined {
  // Own keys only: "constructor" or "toString" must not resolve to Object.prototype members.
  return Object.hasOwn(BUILT_IN_HANDLERS, taskType) ? BUILT_IN_HANDLERS[taskType] : undefined;
}
