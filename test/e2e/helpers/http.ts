/** Node-side HTTP helpers for end-to-end tests: development JWTs and a small JSON client. */
import { mintDevToken, type Role } from "../../../scripts/lib/dev-token.mjs";

export type { Role };

/** An HS256 JWT signed with the server's JWT_SECRET, as `npm run token` mints them. */
export function mintJwt(secret: string, claims: { sub: string; role: Role; agents?: string[] }, ttl = "15m"): Promise<string> {
  return mintDevToken(secret, claims, { ttl });
}

export interface Answer<T = any> {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed body, or undefined when it is not JSON. */
  body: T;
}

export interface Client {
  get<T = any>(path: string, headers?: Record<string, string>): Promise<Answer<T>>;
  post<T = any>(path: string, body: unknown, headers?: Record<string, string>): Promise<Answer<T>>;
  del<T = any>(path: string, headers?: Record<string, string>): Promise<Answer<T>>;
}

export function client(baseUrl: string, token: string): Client {
  async function send(method: string, path: string, body: unknown, extra: Record<string, string> = {}): Promise<Answer> {
    const headers: Record<string, string> = { Authorization: `Bearer ${token}`, ...extra };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: res.status, headers: res.headers, text, body: parsed };
  }
  return {
    get: (path, headers) => send("GET", path, undefined, headers),
    post: (path, body, headers) => send("POST", path, body, headers),
    del: (path, headers) => send("DELETE", path, undefined, headers),
  };
}

/** Retries `probe` until it returns true or `timeoutMs` passes; returns whether it succeeded. */
export async function eventually(probe: () => Promise<boolean>, timeoutMs: number, intervalMs = 250): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
