/** Requests through the real Worker (`exports.default.fetch`) with test credentials. */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { mintDevToken } from "../../scripts/lib/dev-token.mjs";
import type { Role } from "../../src/auth/principal";
import worker from "../../src/index";
import { ADMIN_KEY, JWT_SECRET } from "../secrets.mjs";

export { ADMIN_KEY, JWT_SECRET };

export async function mintToken(
  claims: { sub?: string; role?: Role; agents?: string[] } = {},
  opts: { expiresIn?: string | number; secret?: string; alg?: string } = {},
): Promise<string> {
  // The same development JWT as `npm run token` mints (scripts/lib/dev-token.mjs).
  return mintDevToken(
    opts.secret ?? JWT_SECRET,
    { sub: claims.sub ?? "tester", role: claims.role ?? "user", ...(claims.agents ? { agents: claims.agents } : {}) },
    { ttl: opts.expiresIn ?? "10m", alg: opts.alg },
  );
}

export interface CallOptions {
  method?: string;
  token?: string | null;
  body?: unknown;
  rawBody?: BodyInit;
  headers?: Record<string, string>;
}

function buildRequest(path: string, opts: CallOptions, token: string | null | undefined): Request {
  const headers = new Headers(opts.headers);
  if (token && !headers.has("authorization")) headers.set("Authorization", `Bearer ${token}`);
  let body: BodyInit | undefined = opts.rawBody;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
  }
  return new Request(`http://local.test${path}`, { method: opts.method ?? (body ? "POST" : "GET"), headers, body });
}

/** The credential a call sends: a super_admin JWT unless one is given (or `null` for none). */
async function tokenFor(opts: CallOptions): Promise<string | null> {
  return opts.token === undefined ? mintToken({ role: "super_admin" }) : opts.token;
}

export async function call(path: string, opts: CallOptions = {}): Promise<Response> {
  return exports.default.fetch(buildRequest(path, opts, await tokenFor(opts)));
}

/** A request through `worker.fetch` with some env settings replaced (a fresh env object, so a fresh config). */
export async function fetchWithEnv(overrides: Record<string, unknown>, request: Request): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(request, { ...env, ...overrides } as Env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

/** Like `call`, with some env settings replaced. */
export async function callWith(overrides: Record<string, unknown>, path: string, opts: CallOptions = {}): Promise<Response> {
  return fetchWithEnv(overrides, buildRequest(path, opts, await tokenFor(opts)));
}

export async function json<T = Record<string, unknown>>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

/** Asserts a problem+json answer and returns its document. */
export async function problem(res: Response, status: number): Promise<Record<string, unknown> & { code: string; detail: string }> {
  const text = await res.text();
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${text}`);
  if (!res.headers.get("content-type")?.startsWith("application/problem+json"))
    throw new Error(`not problem+json: ${res.headers.get("content-type")}`);
  const doc = JSON.parse(text) as Record<string, unknown> & { code: string; detail: string; status: number };
  if (doc.status !== status) throw new Error(`problem status ${doc.status} != ${status}`);
  return doc;
}
