// Signalling benchmark clients: two WebSockets (A and B) on one call (product) or one relay room
// (baseline); A sends `ice` frames `to` B and B measures their arrival. Node ≥ 22's global
// WebSocket (undici) is the client. Sender and receiver live in this one process, so send and
// arrival times come from the same clock (performance.now()); the sequence number travels inside
// the ICE candidate string, which both servers carry through unchanged.
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";

const CONNECT_TIMEOUT_MS = 15_000;
const SEQ = / seq (\d+) /;

/** A realistic host candidate (~100 chars), with the sequence number inside the string. */
export function iceFrame(to, seq) {
  return `{"type":"ice","to":"${to}","candidate":{"candidate":"candidate:842163049 1 udp 1677729535 192.0.2.17 54321 typ host seq ${seq} generation 0 ufrag 4ZcD","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"4ZcD"}}`;
}

/** The frames A and B see. Rejects on close/error before `until` holds. */
function openSocket(url, label) {
  if (typeof WebSocket !== "function") throw new Error("needs Node ≥ 22 (global WebSocket); run through `npm run bench`");
  const ws = new WebSocket(url);
  const state = { ws, label, frames: [], onFrame: null, error: null, closed: null };
  ws.onmessage = (event) => {
    const text = typeof event.data === "string" ? event.data : Buffer.from(event.data).toString("utf8");
    if (state.onFrame) state.onFrame(text);
    else state.frames.push(text);
  };
  ws.onerror = (event) => {
    state.error = event.message ?? event.error?.message ?? "WebSocket error";
  };
  ws.onclose = (event) => {
    state.closed = `${event.code} ${event.reason}`;
  };
  return state;
}

async function until(states, predicate, what) {
  const t0 = Date.now();
  while (!predicate()) {
    for (const s of states) {
      if (s.error) throw new Error(`${s.label}: ${s.error} while waiting for ${what}`);
      if (s.closed) throw new Error(`${s.label}: closed (${s.closed}) while waiting for ${what}`);
    }
    if (Date.now() - t0 > CONNECT_TIMEOUT_MS) throw new Error(`no ${what} within ${CONNECT_TIMEOUT_MS / 1000} s`);
    await sleep(5);
  }
}

const hasType = (s, type, test = () => true) =>
  s.frames.some((f) => {
    const m = JSON.parse(f);
    return m.type === type && test(m);
  });

/**
 * Product: a call created over HTTP (role-developer JWT: calls:write), started, two participants
 * added; both sockets open with their join tokens and wait for `roster` (B's roster lists A as
 * connected, and A sees B's `joined`).
 */
export async function connectProduct({ port, auth }) {
  const base = `http://127.0.0.1:${port}`;
  const post = async (path, body) => {
    const res = await fetch(base + path, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify(body ?? {}),
    });
    const text = await res.text();
    if (res.status !== 200 && res.status !== 201) throw new Error(`product POST ${path}: ${res.status} ${text.slice(0, 300)}`);
    return JSON.parse(text);
  };
  const call = await post("/api/v2/calls", { agent_id: "bench-signalling", direction: "outbound" });
  await post(`/api/v2/calls/${call.call_id}/start`);
  const joinA = await post(`/api/v2/calls/${call.call_id}/participants`, { user_id: "bench-a", display_name: "Bench A" });
  const joinB = await post(`/api/v2/calls/${call.call_id}/participants`, { user_id: "bench-b", display_name: "Bench B" });
  const wsUrl = (j) => `ws://127.0.0.1:${port}/api/v2/calls/${call.call_id}/ws?token=${encodeURIComponent(j.join_token)}`;
  const a = openSocket(wsUrl(joinA), "product A");
  await until([a], () => hasType(a, "roster"), "roster on A");
  const b = openSocket(wsUrl(joinB), "product B");
  const idA = joinA.participant.participant_id;
  const idB = joinB.participant.participant_id;
  await until(
    [a, b],
    () =>
      hasType(b, "roster", (m) => m.participants.some((p) => p.participant_id === idA && p.connected)) &&
      hasType(a, "joined", (m) => m.participant.participant_id === idB),
    "roster on B and joined on A",
  );
  return { side: "product", a, b, idA, idB, callId: call.call_id, expectFrom: idA };
}

/** Baseline: one relay room, two sockets tagged with ids shaped like the product's (same frame size). */
export async function connectBaseline({ port, mode = "relay", room }) {
  const idA = `part_${randomBytes(12).toString("hex")}`;
  const idB = `part_${randomBytes(12).toString("hex")}`;
  const url = (peer) => `ws://127.0.0.1:${port}/relay/${room}/ws?peer=${peer}&mode=${mode}`;
  const a = openSocket(url(idA), `baseline(${mode}) A`);
  const b = openSocket(url(idB), `baseline(${mode}) B`);
  await until([a, b], () => a.ws.readyState === WebSocket.OPEN && b.ws.readyState === WebSocket.OPEN, "open sockets");
  return { side: "baseline", mode, a, b, idA, idB, expectFrom: mode === "relay" ? undefined : idA };
}

/** One frame A → B, checked field by field (type, to, from, candidate) before anything is timed. */
export async function checkRelay(pair) {
  pair.a.frames.length = 0;
  pair.b.frames.length = 0;
  pair.a.ws.send(iceFrame(pair.idB, 0));
  await until([pair.a, pair.b], () => pair.b.frames.length > 0 || pair.a.frames.length > 0, "the relayed check frame");
  if (pair.a.frames.length) throw new Error(`${pair.a.label} got ${pair.a.frames[0].slice(0, 300)} instead of B receiving the frame`);
  const m = JSON.parse(pair.b.frames.shift());
  const sent = JSON.parse(iceFrame(pair.idB, 0));
  const ok =
    m.type === "ice" && m.to === pair.idB && m.from === pair.expectFrom && JSON.stringify(m.candidate) === JSON.stringify(sent.candidate);
  if (!ok) throw new Error(`${pair.b.label}: unexpected relayed frame ${JSON.stringify(m).slice(0, 300)}`);
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function latencyStats(samples) {
  const s = Float64Array.from(samples).sort();
  return { p50: percentile(s, 50), p99: percentile(s, 99), mean: s.reduce((a, b) => a + b, 0) / Math.max(1, s.length), samples: s.length };
}

/**
 * Runs A → B for `durationMs` with at most `window` frames in flight (window 1 = sequential:
 * the next frame leaves when B has the previous one). Returns msgs/s (frames that reached B
 * inside the window ÷ duration) and the send→arrival latency of those frames.
 */
export async function relayWindow(pair, { durationMs, window, maxMessages = 500_000 }) {
  const { a, b } = pair;
  a.frames.length = 0;
  b.frames.length = 0;
  const sentAt = new Float64Array(maxMessages + 1);
  const latencies = [];
  let seq = 0;
  let received = 0;
  let receivedInWindow = 0;
  let lastSeq = 0;
  let failure = null;
  const t0 = performance.now();
  const deadline = t0 + durationMs;
  let done;
  const finished = new Promise((resolve) => {
    done = resolve;
  });
  const sendOne = () => {
    seq += 1;
    sentAt[seq] = performance.now();
    a.ws.send(iceFrame(pair.idB, seq));
  };
  const stopped = () => performance.now() >= deadline || seq >= maxMessages;
  b.onFrame = (text) => {
    const now = performance.now();
    const m = SEQ.exec(text);
    if (!m) {
      failure ??= `${b.label}: unexpected frame ${text.slice(0, 200)}`;
      return done();
    }
    const n = Number(m[1]);
    if (n !== lastSeq + 1) failure ??= `${b.label}: frame ${n} arrived after ${lastSeq} (lost or reordered)`;
    lastSeq = n;
    received += 1;
    latencies.push(now - sentAt[n]);
    if (now <= deadline) receivedInWindow += 1;
    if (!stopped()) sendOne();
    else if (received === seq) done();
  };
  a.onFrame = (text) => {
    failure ??= `${a.label}: the server answered the sender: ${text.slice(0, 300)}`;
    done();
  };
  for (let i = 0; i < window; i++) sendOne();
  const drainLimit = sleep(durationMs + 10_000).then(() => {
    failure ??= `${b.label}: ${seq - received} of ${seq} frames never arrived`;
  });
  await Promise.race([finished, drainLimit]);
  const elapsedMs = performance.now() - t0;
  a.onFrame = null;
  b.onFrame = null;
  for (const s of [a, b]) if (s.error || s.closed) failure ??= `${s.label}: ${s.error ?? `closed ${s.closed}`}`;
  if (failure) throw new Error(failure);
  return { window, sent: seq, received, msgsPerS: (receivedInWindow * 1000) / durationMs, elapsedMs, ...latencyStats(latencies) };
}

export function closePair(pair) {
  for (const s of [pair?.a, pair?.b]) {
    try {
      s?.ws.close(1000, "bench done");
    } catch {
      // Already closed.
    }
  }
}
