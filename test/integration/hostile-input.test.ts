/**
 * A seeded barrage of hostile requests over every route the OpenAPI document lists (so a new
 * route is covered the day it is declared), plus the approval landing pages: wrong types, deep
 * nesting, huge numbers, unicode and traversal ids, repeated members, wrong content types, bytes
 * that are not UTF-8, missing and foreign credentials. No answer may be a 5xx (except a 503 that
 * names a provider this test environment does not configure), and a canary agent that only ever
 * receives requests that must be refused keeps its state.
 *
 * Every URL the generator can produce is on loopback, so nothing it creates (an http_request
 * task, an approval callback) can reach another machine even if a policy were broken.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { call, json, mintToken } from "../helpers/api";
import { load, save } from "../helpers/state";

const SEED = 20261202;
const REQUESTS = 400;
const CANARY = "canary-agent";

/** mulberry32: small, fast, and the same sequence on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = prng(SEED);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const chance = (p: number) => random() < p;
const hex = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join("");

const HOSTILE_STRINGS = [
  "",
  " ",
  "x".repeat(10_000),
  "ünïcødé ✓",
  "😀".repeat(40),
  "\u0000",
  "\u202eevil",
  "\ud800",
  "../../etc/passwd",
  "<script>alert(1)</script>",
  "' OR 1=1 --",
  "${jndi:ldap://127.0.0.1/a}",
  "%00",
  "a\r\nX-Injected: 1",
  "http://127.1/",
  "http://[::1]:1/",
];
const HOSTILE_NUMBERS = [0, -1, 1.5, 2 ** 53 + 1, 1e308, -1e308, Number.MIN_VALUE, 4294967296];
/** Path segments, already URL-encoded where they need it. */
const HOSTILE_SEGMENTS = [
  "%F0%9F%98%80",
  "%C3%A4gent",
  "x".repeat(300),
  "..%2F..%2Fhealth",
  "a%2Fb",
  "%00",
  "%252e%252e",
  "%20space",
  "%E2%80%AE",
  "task_",
  "-leading",
];
const CONTENT_TYPES = ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml"];

function deepText(levels: number): string {
  return `${'{"k":['.repeat(levels)}1${"]}".repeat(levels)}`;
}

function hostileValue(depth = 0): unknown {
  switch (Math.floor(random() * 7)) {
    case 0:
      return pick(HOSTILE_STRINGS);
    case 1:
      return pick(HOSTILE_NUMBERS);
    case 2:
      return pick([true, false, null]);
    case 3:
      return depth > 2 ? [] : Array.from({ length: 1 + Math.floor(random() * 3) }, () => hostileValue(depth + 1));
    case 4:
      return depth > 2
        ? {}
        : { [pick(HOSTILE_STRINGS).slice(0, 40) || "k"]: hostileValue(depth + 1), headers: { Authorization: "Bearer x" } };
    case 5:
      return JSON.parse(deepText(20 + Math.floor(random() * 30)));
    default:
      return { url: pick(["http://127.0.0.1:1/", "http://localhost:1/", "http://2130706433/", "http://[::ffff:127.0.0.1]/"]) };
  }
}

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
}

/** A body shaped like the operation's schema, with some members hostile, dropped or added. */
function shapedBody(schema: JsonSchema | undefined): unknown {
  const out: Record<string, unknown> = {};
  for (const [name, prop] of Object.entries(schema?.properties ?? {})) {
    if (chance(0.15)) continue;
    if (chance(0.5)) out[name] = hostileValue();
    else if (prop.enum) out[name] = pick(prop.enum);
    else out[name] = plausible(prop);
  }
  if (chance(0.2)) out[pick(["unknown_member", "__proto__", "constructor"])] = hostileValue();
  return out;
}

function plausible(schema: JsonSchema): unknown {
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case "string":
      return pick(["x", "fuzz@example.com", "approve", "task_0", "noop"]);
    case "number":
    case "integer":
      return pick([1, 3, 100]);
    case "boolean":
      return true;
    case "array":
      return ["x"];
    default:
      return { a: 1 };
  }
}

/** Raw body text and its content type: the ways a body can be wrong that a JSON value cannot express. */
function rawBody(schema: JsonSchema | undefined): { body: BodyInit; type: string | null; alwaysRefused: boolean } {
  switch (Math.floor(random() * 8)) {
    case 0:
      return { body: deepText(200 + Math.floor(random() * 4000)), type: "application/json", alwaysRefused: true };
    case 1: {
      const name = Object.keys(schema?.properties ?? { a: {} })[0] ?? "a";
      return { body: `{"${name}":1,"${name}":{"a":2}}`, type: "application/json", alwaysRefused: true };
    }
    case 2:
      return { body: JSON.stringify(shapedBody(schema)), type: pick(CONTENT_TYPES), alwaysRefused: true };
    case 3:
      return { body: new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), type: "application/json", alwaysRefused: true };
    case 4:
      return { body: pick(['{"a":', "[1,2", "nul", '{"a":1e999}', "\u0000"]), type: "application/json", alwaysRefused: true };
    case 5:
      return { body: pick(["[]", '"text"', "42", "null"]), type: "application/json", alwaysRefused: false };
    default:
      return { body: JSON.stringify(shapedBody(schema)), type: chance(0.8) ? "application/json" : null, alwaysRefused: false };
  }
}

interface Operation {
  method: string;
  path: string;
  schema?: JsonSchema;
}

async function operations(): Promise<Operation[]> {
  const doc = await json<{ paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: JsonSchema }> } }>> }>(
    await call("/openapi.json"),
  );
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      ops.push({ method: method.toUpperCase(), path, schema: op.requestBody?.content["application/json"]?.schema });
    }
  }
  // The approval landing pages are HTML, outside the document.
  ops.push({ method: "GET", path: "/approve/{approval_id}" }, { method: "POST", path: "/approve/{approval_id}" });
  return ops;
}

/** A path parameter: a well-formed unknown id, a fuzz agent, or a hostile segment. */
function segment(name: string, canary: boolean): string {
  if (name === "agent_id") return canary ? CANARY : chance(0.6) ? pick(["fuzz-a", "fuzz-b"]) : pick(HOSTILE_SEGMENTS);
  if (chance(0.4)) return pick(HOSTILE_SEGMENTS);
  const prefix: Record<string, string> = {
    task_id: "task_",
    approval_id: "approval_",
    message_id: "msg_",
    template_id: "tmpl_",
    call_id: "call_",
    participant_id: "part_",
    key_id: "key_",
  };
  if (name === "version") return pick(["1", "0", "-1", "99999999999999999999", "1.5"]);
  return `${prefix[name] ?? ""}${hex(24)}`;
}

interface Sent {
  label: string;
  status: number;
  code?: string;
  detail?: string;
}

describe("a seeded barrage of hostile input", () => {
  it(`${REQUESTS} requests over every route: no 5xx, and the canary agent's state is unchanged`, async () => {
    await save(CANARY, { precious: "do not touch", list: [1, 2, 3] });
    const before = (await load(CANARY)).body;
    expect(before).toMatchObject({ version: 1 });

    const ops = await operations();
    expect(ops.length).toBeGreaterThan(40);
    // Rate limiting is off here: a 429 would end the barrage's reach, not test anything.
    // Webhooks get real verification keys, so hostile posts meet the signature checks rather than
    // a "not configured" 503; speech and the SFU stay unconfigured (their 503 is the contract).
    const sendgridKey = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    const spki = new Uint8Array((await crypto.subtle.exportKey("spki", sendgridKey.publicKey)) as ArrayBuffer);
    const fuzzEnv = {
      ...env,
      RATE_LIMIT: "off",
      SPEECH_BASE_URL: "",
      REALTIME_APP_ID: "",
      SENDGRID_WEBHOOK_PUBLIC_KEY: btoa(String.fromCharCode(...spki)),
      MAILGUN_WEBHOOK_SIGNING_KEY: "fuzz-mailgun-signing-key",
    } as Env;
    const tokens = {
      admin: await mintToken({ role: "super_admin", sub: "fuzz-admin" }),
      limited: await mintToken({ role: "developer", sub: "fuzz-limited", agents: ["fuzz-a"] }),
      guest: await mintToken({ role: "guest", sub: "fuzz-guest" }),
    };
    const sent: Sent[] = [];
    const covered = new Set<string>();

    for (let n = 0; n < REQUESTS; n++) {
      // Every operation at least once, in order, then at random.
      const op = n < ops.length ? ops[n]! : pick(ops);
      const hasBody = op.method !== "GET" && op.method !== "DELETE";
      // The canary only receives requests that must be refused (or that cannot write).
      const raw = hasBody ? rawBody(op.schema) : undefined;
      const credential = pick(["admin", "admin", "admin", "limited", "guest", "none", "garbage"] as const);
      const mustBeRefused =
        op.method === "GET" ||
        (raw?.alwaysRefused ?? false) ||
        credential === "limited" ||
        credential === "guest" ||
        credential === "none" ||
        credential === "garbage";
      const canary = op.path.includes("{agent_id}") && mustBeRefused && chance(0.5);
      const path = op.path.replace(/\{(\w+)\}/g, (_m, name: string) => segment(name, canary));
      const query = chance(0.3)
        ? `?${pick(["limit=-1", "limit=1e9", "cursor=%00", "status=%F0%9F%98%80", "agent_type=worker", "consistency=eventual", "token=x.y.z", "progress=abc", "action=approve&token=a"])}`
        : "";
      const headers = new Headers();
      if (credential === "admin" || credential === "limited" || credential === "guest")
        headers.set("Authorization", `Bearer ${tokens[credential]}`);
      if (credential === "garbage")
        headers.set(
          pick(["Authorization", "X-API-Key"]),
          pick(["Bearer", "Bearer a.b.c", "dmsa_nope", "Basic Zm9vOmJhcg==", "x".repeat(5000)]),
        );
      if (raw?.type) headers.set("content-type", raw.type);
      if (chance(0.1)) headers.set("If-Match", pick(['"1"', "*", "garbage", '"99999999999999999999"']));
      const request = new Request(`http://local.test${path}${query}`, { method: op.method, headers, body: raw?.body });
      const ctx = createExecutionContext();
      const res = await worker.fetch(request, fuzzEnv, ctx);
      const label = `${op.method} ${path}${query} [${credential}]`;
      const entry: Sent = { label, status: res.status };
      if (res.headers.get("content-type")?.startsWith("application/problem+json")) {
        const doc = await json<{ code: string; detail: string }>(res);
        entry.code = doc.code;
        entry.detail = doc.detail;
      } else {
        // An event stream stays open until its task ends: read nothing, close it.
        await res.body?.cancel();
      }
      await waitOnExecutionContext(ctx);
      sent.push(entry);
      covered.add(`${op.method} ${op.path}`);
    }

    const serverErrors = sent.filter(
      (s) =>
        s.status >= 500 &&
        !(s.status === 503 && s.code === "service_unavailable" && /speech|transcribe|speak|sfu|ice-servers/.test(s.label)),
    );
    expect(serverErrors, JSON.stringify(serverErrors.slice(0, 5), null, 2)).toEqual([]);
    expect(covered.size).toBe(ops.length);
    // The barrage reached past the front door: refusals of every kind, and some successes.
    const statuses = new Set(sent.map((s) => s.status));
    for (const status of [400, 401, 403, 404, 415, 422]) expect(statuses, `no ${status} in the barrage`).toContain(status);

    const after = (await load(CANARY)).body;
    expect(after).toEqual(before);
  });
});
