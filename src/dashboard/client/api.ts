/**
 * The one way the dashboard talks to the API: JSON requests with the signed-in credential as a
 * bearer token. Any answer outside 2xx becomes an ApiError carrying the problem's `title` and
 * `detail` (problem+json, docs/api.md), which every view shows as it is. No DOM here: the
 * sign-in test drives it with the Worker's own fetch.
 */

/** A problem document (application/problem+json), as far as the dashboard reads it. */
export interface Problem {
  type?: string;
  title: string;
  status: number;
  detail?: string;
  code?: string;
  errors?: { path: string; message: string }[];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly problem: Problem | null = null,
  ) {
    super(detail ? `${title}: ${detail}` : title);
    this.name = "ApiError";
  }
}

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Statuses outside 2xx that are an answer here, not an error (GET /health's 503). */
  alsoOk?: readonly number[];
}

export interface Answer<T> {
  status: number;
  headers: Headers;
  data: T;
}

export interface ApiClient {
  /** A JSON request; resolves with the parsed body, throws ApiError for anything but 2xx. */
  request<T>(method: string, path: string, options?: RequestOptions): Promise<Answer<T>>;
  get<T>(path: string, signal?: AbortSignal): Promise<T>;
  post<T>(path: string, body?: unknown, headers?: Record<string, string>): Promise<T>;
  /** An open event stream (text/event-stream), checked like any answer. */
  stream(path: string, signal: AbortSignal, lastEventId?: string): Promise<Response>;
}

function isProblem(value: unknown): value is Problem {
  return typeof value === "object" && value !== null && typeof (value as Problem).title === "string";
}

/** The ApiError for a non-2xx answer: the problem's title and detail, or the status and some text. */
export async function errorOf(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => "");
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON: the text is the detail.
  }
  if (isProblem(parsed)) {
    // Field errors the detail does not already spell out are added to it.
    const base = parsed.detail ?? "";
    const fields = (parsed.errors ?? []).map((e) => `${e.path}: ${e.message}`).filter((f) => !base.includes(f));
    const detail = [base, fields.join("; ")].filter(Boolean).join(" ");
    return new ApiError(res.status, parsed.title, detail, parsed);
  }
  return new ApiError(res.status, `HTTP ${res.status} ${res.statusText}`.trim(), text.slice(0, 300));
}

/**
 * A client that sends `credential` as `Authorization: Bearer` (API keys and tokens alike); with
 * null, none (the public routes, before signing in). `onUnauthorized` hears of every 401.
 */
export function apiClient(
  credential: string | null,
  fetchFn: FetchLike = (input, init) => fetch(input, init),
  onUnauthorized?: (err: ApiError) => void,
): ApiClient {
  async function send(method: string, path: string, accept: string, options: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { Accept: accept, ...options.headers };
    if (credential) headers.Authorization = `Bearer ${credential}`;
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    let res: Response;
    try {
      res = await fetchFn(path, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        cache: "no-store",
        signal: options.signal,
      });
    } catch (err) {
      if (options.signal?.aborted) throw err;
      throw new ApiError(0, "The server did not answer", err instanceof Error ? err.message : String(err));
    }
    if (!res.ok && !options.alsoOk?.includes(res.status)) {
      const err = await errorOf(res);
      // The credential stopped working (revoked, expired): whoever holds the session ends it.
      if (res.status === 401 && credential) onUnauthorized?.(err);
      throw err;
    }
    return res;
  }

  async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<Answer<T>> {
    const res = await send(method, path, "application/json", options);
    const text = await res.text();
    return { status: res.status, headers: res.headers, data: (text ? JSON.parse(text) : null) as T };
  }

  return {
    request,
    get: async <T>(path: string, signal?: AbortSignal) => (await request<T>("GET", path, { signal })).data,
    post: async <T>(path: string, body?: unknown, headers?: Record<string, string>) =>
      (await request<T>("POST", path, { body, headers })).data,
    stream: (path, signal, lastEventId) =>
      send("GET", path, "text/event-stream", { signal, headers: lastEventId ? { "Last-Event-ID": lastEventId } : {} }),
  };
}

/** `path?name=value&…`, leaving out undefined and empty values. */
export function withQuery(path: string, query: Record<string, string | number | undefined | null>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(name, String(value));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

/** A path segment, escaped (ids come from the user's input and from the API). */
export const seg = (value: string) => encodeURIComponent(value);
