/**
 * The single error renderer: every failure leaves the Worker as RFC 9457 problem+json.
 * A client mistake is never a 5xx; an unexpected error is logged with the request id and
 * answered with a generic 500 that leaks no stack.
 */
import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { HTTPException } from "hono/http-exception";
import { logError } from "../lib/log";
import { AppError, PROBLEMS, problemDocument, type ProblemCode } from "../lib/problem";
import type { AppEnv } from "./app-env";

function codeForStatus(status: number): ProblemCode {
  const hit = (Object.keys(PROBLEMS) as ProblemCode[]).find((code) => PROBLEMS[code].status === status);
  return hit ?? (status >= 500 ? "internal_error" : "malformed_request");
}

/** Any thrown value as the problem it is answered with (MCP tool errors use the same mapping). */
export function toAppError(err: Error): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof HTTPException)
    return new AppError(codeForStatus(err.status), err.message || PROBLEMS[codeForStatus(err.status)].title);
  return new AppError("internal_error", "An unexpected error occurred; the request id identifies it in the logs.", { cause: err });
}

export const renderError: ErrorHandler<AppEnv> = (err, c) => {
  const appError = toAppError(err);
  if (appError.status >= 500) {
    logError({
      event: "http.error",
      request_id: c.var.requestId,
      status: appError.status,
      code: appError.code,
      method: c.req.method,
      path: c.req.path,
      error: err instanceof AppError ? err.message : String((err as Error).stack ?? err),
    });
  }
  return problem(c, appError);
};

export const renderNotFound: NotFoundHandler<AppEnv> = (c: Context<AppEnv>) =>
  problem(c, new AppError("not_found", `No route for ${c.req.method} ${c.req.path}.`));

/**
 * Built through the context, so headers that middleware set before the failure (X-Request-Id,
 * CORS) stay on the problem response.
 */
function problem(c: Context<AppEnv>, err: AppError): Response {
  c.set("problemCode", err.code);
  const body = JSON.stringify(problemDocument(err, c.req.path, c.var.requestId));
  return c.newResponse(body, err.status as ContentfulStatusCode, { ...err.headers, "Content-Type": "application/problem+json" });
}
