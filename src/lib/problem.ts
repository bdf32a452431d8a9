/**
 * The one error type of the application and its RFC 9457 rendering.
 *
 * Services throw `AppError`; `app.onError` renders it (and anything else) as
 * `application/problem+json`. The `code` names a documented problem type, served at
 * `/problems/{code}`, so a client can branch on it without parsing prose.
 * @see https://www.rfc-editor.org/rfc/rfc9457
 */

/** One invalid field: where it is (`path`, e.g. `state_data` or `query.limit`) and why. */
export interface FieldError {
  path: string;
  message: string;
}

/** Every problem the API can answer with; `status` is its HTTP status, `title` its fixed summary. */
export const PROBLEMS = {
  malformed_request: { status: 400, title: "Malformed request" },
  unauthenticated: { status: 401, title: "Authentication required" },
  forbidden: { status: 403, title: "Not allowed" },
  not_found: { status: 404, title: "Not found" },
  method_not_allowed: { status: 405, title: "Method not allowed" },
  conflict: { status: 409, title: "Conflicting state" },
  precondition_failed: { status: 412, title: "Precondition failed" },
  payload_too_large: { status: 413, title: "Payload too large" },
  unsupported_media_type: { status: 415, title: "Unsupported media type" },
  validation_failed: { status: 422, title: "Validation failed" },
  rate_limited: { status: 429, title: "Too many requests" },
  internal_error: { status: 500, title: "Internal error" },
  bad_gateway: { status: 502, title: "Bad gateway" },
  service_unavailable: { status: 503, title: "Service unavailable" },
} as const satisfies Record<string, { status: number; title: string }>;

export type ProblemCode = keyof typeof PROBLEMS;

export interface AppErrorOptions {
  errors?: FieldError[];
  /** Extra response headers, e.g. `Retry-After` or `WWW-Authenticate`. */
  headers?: Record<string, string>;
  /** Extension members merged into the problem document (RFC 9457 §3.2). */
  extensions?: Record<string, unknown>;
  cause?: unknown;
}

export class AppError extends Error {
  readonly code: ProblemCode;
  readonly status: number;
  readonly errors?: FieldError[];
  readonly headers: Record<string, string>;
  readonly extensions: Record<string, unknown>;

  constructor(code: ProblemCode, detail: string, options: AppErrorOptions = {}) {
    super(detail, { cause: options.cause });
    this.name = "AppError";
    this.code = code;
    this.status = PROBLEMS[code].status;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
    this.extensions = options.extensions ?? {};
  }
}

export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  code: ProblemCode;
  request_id?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

export function problemDocument(err: AppError, instance: string, requestId?: string): ProblemDocument {
  return {
    ...err.extensions,
    type: `/problems/${err.code}`,
    title: PROBLEMS[err.code].title,
    status: err.status,
    detail: err.message,
    instance,
    code: err.code,
    ...(requestId ? { request_id: requestId } : {}),
    ...(err.errors ? { errors: err.errors } : {}),
  };
}
