// A call with an answering agent on a running server, as a page would see it, for the end-to-end
// voice tests (test/e2e/voice-agent.test.ts) and the benchmark's voice group (bench/groups/voice.mjs):
// create the call with `agent`, add a person who talks (Alice), the agent's participant and a
// listener (Bob), start it, and open Alice's and Bob's signalling sockets. A socket keeps every
// frame with the time it arrived, so a caller can wait for one and see when it came.
// Plain JavaScript with JSDoc types: node scripts import it as it is and TypeScript checks it.

/**
 * @typedef {{ type: string, [key: string]: any }} Frame
 * @typedef {{ frame: Frame, at: number }} Arrival
 */

/**
 * A call socket: JSON frames kept in order with their arrival time (performance.now()).
 * @param {string} wsUrl
 */
export async function openCallSocket(wsUrl) {
  const ws = new WebSocket(wsUrl);
  ws.binaryType = "arraybuffer";
  /** @type {Arrival[]} */
  const arrivals = [];
  /** @type {(() => void)[]} */
  let waiters = [];
  ws.addEventListener("message", (e) => {
    if (typeof e.data !== "string") return;
    arrivals.push({ frame: JSON.parse(e.data), at: performance.now() });
    for (const wake of waiters) wake();
    waiters = [];
  });
  await new Promise((resolve, reject) => {
    ws.addEventListener("open", () => resolve(undefined), { once: true });
    ws.addEventListener("error", () => reject(new Error(`could not open ${wsUrl.replace(/token=[^&]+/, "token=…")}`)), { once: true });
  });
  let read = 0;
  return {
    ws,
    arrivals,
    /**
     * The next frame of `type` after those already taken (others are skipped), with its arrival time.
     * @param {string} type
     * @param {number} [timeoutMs]
     * @returns {Promise<Arrival>}
     */
    async next(type, timeoutMs = 15_000) {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const i = arrivals.findIndex((a, index) => index >= read && a.frame.type === type);
        if (i >= 0) {
          read = i + 1;
          return /** @type {Arrival} */ (arrivals[i]);
        }
        const left = deadline - performance.now();
        if (left <= 0)
          throw new Error(
            `no ${type} frame within ${timeoutMs} ms; got: ${
              arrivals
                .slice(read)
                .map((a) => a.frame.type)
                .join(", ") || "nothing"
            }`,
          );
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve(undefined);
          });
        });
      }
    },
    /** Frames of `type` received so far. */
    all(/** @type {string} */ type) {
      return arrivals.filter((a) => a.frame.type === type).map((a) => a.frame);
    },
    close() {
      try {
        ws.close(1000, "done");
      } catch {
        // Already closed.
      }
    },
  };
}

/**
 * Creates a call with an answering agent and opens Alice's and Bob's sockets; the call is started
 * (live audio is taken only while a call is active).
 * @param {{ baseUrl: string, token: string, agentId: string, agent: Record<string, unknown> }} options
 */
export async function startVoiceCall({ baseUrl, token, agentId, agent }) {
  const headers = { Authorization: `Bearer ${token}`, "Content-Type": "application/json" };
  /** @param {string} path @param {unknown} body */
  const post = async (path, body) => {
    const res = await fetch(`${baseUrl}${path}`, { method: "POST", headers, body: JSON.stringify(body ?? {}) });
    const text = await res.text();
    if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${text}`);
    return JSON.parse(text);
  };
  const call = await post("/api/v2/calls", { agent_id: agentId, agent });
  const callId = /** @type {string} */ (call.call_id);
  const alice = await post(`/api/v2/calls/${callId}/participants`, { user_id: "alice", display_name: "Alice" });
  const bot = await post(`/api/v2/calls/${callId}/participants`, { user_id: "agent", display_name: "Agent", is_agent: true });
  const bob = await post(`/api/v2/calls/${callId}/participants`, { user_id: "bob", display_name: "Bob" });
  await post(`/api/v2/calls/${callId}/start`, {});
  // ws_url names PUBLIC_BASE_URL; the server under test may listen elsewhere.
  const wsUrl = (/** @type {{ join_token: string }} */ p) =>
    `${baseUrl.replace(/^http/, "ws")}/api/v2/calls/${callId}/ws?token=${encodeURIComponent(p.join_token)}`;
  const aliceSocket = await openCallSocket(wsUrl(alice));
  const bobSocket = await openCallSocket(wsUrl(bob));
  await bobSocket.next("roster");
  await aliceSocket.next("roster");
  return {
    call,
    callId,
    alice: /** @type {string} */ (alice.participant.participant_id),
    bot: /** @type {string} */ (bot.participant.participant_id),
    bob: /** @type {string} */ (bob.participant.participant_id),
    aliceSocket,
    bobSocket,
    /**
     * Sends `wav` as Alice's finished utterance through POST …/transcribe; resolves with the
     * response and when the request was sent (performance.now()).
     * @param {Uint8Array} wav
     */
    async transcribe(wav) {
      const sentAt = performance.now();
      const res = await fetch(`${baseUrl}/api/v2/calls/${callId}/transcribe?participant_id=${alice.participant.participant_id}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "audio/wav" },
        body: wav,
      });
      return { status: res.status, body: await res.json(), sentAt };
    },
    async transcript() {
      const res = await fetch(`${baseUrl}/api/v2/calls/${callId}/transcript`, { headers });
      const body = /** @type {{ transcript: { participant_id: string | null, text: string, source: string }[] }} */ (await res.json());
      return body.transcript;
    },
    close() {
      aliceSocket.close();
      bobSocket.close();
    },
  };
}

/**
 * `ms` of a 300 Hz tone as 16 kHz mono s16le frames of 100 ms: what a microphone sends while its
 * owner talks (`amplitude` 0 is the silence it keeps sending afterwards).
 * @param {number} ms
 * @param {number} [amplitude]
 */
export function toneFrames(ms, amplitude = 12_000) {
  /** @type {Uint8Array[]} */
  const frames = [];
  for (let start = 0; start < ms; start += 100) {
    const pcm = new Int16Array(1600);
    for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(amplitude * Math.sin((2 * Math.PI * 300 * (start * 16 + i)) / 16_000));
    frames.push(new Uint8Array(pcm.buffer));
  }
  return frames;
}
