/** `GET /api/v2/tasks/{task_id}/events`: live progress as Server-Sent Events. */
import type { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../http/app-env";
import { defineRoute } from "../http/route";
import { openTaskEvents, resumeAfter } from "./events";
import { TaskParams } from "./schemas";

const EventsQuery = z.object({
  after: z.coerce
    .number()
    .int()
    .min(0)
    .max(Number.MAX_SAFE_INTEGER)
    .optional()
    .describe("Replay only the events after this sequence number."),
});

export function registerTaskEventRoutes(app: Hono<AppEnv>): void {
  defineRoute(
    app,
    {
      method: "get",
      path: "/api/v2/tasks/:task_id/events",
      operationId: "streamTaskEvents",
      summary: "Live progress of a task (Server-Sent Events)",
      description:
        "First the stored changes after `Last-Event-ID` (or `?after=`), then every new one as it happens, each as " +
        "`id: <seq>`, `event: status|progress|approval`, `data: {task_id, seq, type, status, progress, message, at, approval_id, " +
        "waiting_for_approval}` (a terminal status adds `result`, redacted like every task read, and `error_message`; `approval` " +
        "is sent when a gated task's approval is granted). A comment every 15 s keeps the connection open. The stream ends after " +
        "the terminal status (at once if the task already ended). Reconnecting with `Last-Event-ID` resumes without gaps or repeats. " +
        "Open streams are capped per agent (`SSE_MAX_STREAMS_PER_AGENT`, exact) and per credential (`SSE_MAX_STREAMS_PER_CREDENTIAL`, " +
        "counted per Worker isolate): beyond either, 429 with Retry-After and `cap` naming which.",
      tags: ["tasks"],
      permission: "tasks:read",
      params: TaskParams,
      query: EventsQuery,
      headers: { "Last-Event-ID": "Resume after this event (sent by EventSource when it reconnects)." },
      responses: {
        200: { description: "An event stream.", contentType: "text/event-stream" },
        401: { description: "Missing or invalid credentials." },
        403: { description: "The role or the token's agent restriction forbids it." },
        404: { description: "Unknown task." },
        429: {
          description:
            "Rate limited, or too many open streams: `cap` is `per_agent` or `per_credential`, `limit` the configured cap; see Retry-After.",
          headers: { "Retry-After": "Seconds to wait before opening a stream again." },
        },
        503: { description: "The task index (D1) could not be read." },
      },
    },
    async (c, { params, query }) => {
      const res = await openTaskEvents(c.env, params.task_id, c.var.principal, resumeAfter(c.req.header("last-event-id"), query.after));
      // Through the context, so the headers middleware prepared (X-Request-Id) are kept.
      return c.body(res.body ?? "", 200, Object.fromEntries(res.headers));
    },
  );
}
