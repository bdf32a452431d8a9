/**
 * A recorded call survives a SIGKILL of the server (docs/voice.md#recordings): audio
 * streamed into the call is stored in R2 in chunks while the call runs, so after the crash every
 * chunk stored before it reads back (the download is exactly the start of what was sent) and at most
 * the chunk being filled is lost. The participant then reconnects and the same recording goes on.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseWav } from "../../src/calls/recordings/wav";
import { client, eventually, mintJwt, type Client } from "./helpers/http";
import { startLocalServer, type LocalServer } from "./helpers/local-server";

const CHUNK_SECONDS = 2;
const FRAME_SAMPLES = 1600; // 100 ms at 16 kHz
let server: LocalServer;
let api: Client;

beforeAll(async () => {
  server = await startLocalServer({ vars: { RECORDING_CHUNK_SECONDS: String(CHUNK_SECONDS) } });
  api = client(server.baseUrl, await mintJwt(server.jwtSecret, { sub: "recordings-durability", role: "developer" }));
}, 120_000);

afterAll(async () => {
  await server?.dispose();
});

/** A known tone, so the download can be compared sample for sample with what was sent. */
const tone = (samples: number) =>
  Int16Array.from({ length: samples }, (_, i) => Math.round(6000 * Math.sin((2 * Math.PI * 440 * i) / 16_000)));

/** Opens the participant's socket and waits for the roster (which must announce the recording). */
async function connect(callId: string, token: string): Promise<WebSocket> {
  const ws = new WebSocket(`${server.baseUrl.replace(/^http/, "ws")}/api/v2/calls/${callId}/ws?token=${encodeURIComponent(token)}`);
  const roster = await new Promise<Record<string, unknown>>((resolve, reject) => {
    ws.addEventListener("message", (e) => {
      const frame = JSON.parse(String(e.data)) as Record<string, unknown>;
      if (frame.type === "roster") resolve(frame);
    });
    ws.addEventListener("error", () => reject(new Error("socket failed")));
    setTimeout(() => reject(new Error("no roster within 15 s")), 15_000);
  });
  expect(roster.recording).toBe(true);
  return ws;
}

async function listed(callId: string): Promise<{ recording_id: string; duration_seconds: number; bytes: number }[]> {
  return (await api.get(`/api/v2/calls/${callId}`)).body.recordings;
}

describe("a recorded call survives a SIGKILL of the server", () => {
  it("keeps every chunk stored before the crash, loses at most the one being filled, and goes on recording after it", async () => {
    const callId = (await api.post("/api/v2/calls", { agent_id: "recorded-agent", recording_enabled: true })).body.call_id as string;
    expect((await api.post(`/api/v2/calls/${callId}/start`, {})).status).toBe(200);
    const joined = (await api.post(`/api/v2/calls/${callId}/participants`, { user_id: "u-1", display_name: "Ann" })).body;
    const ws = await connect(callId, joined.join_token);

    // Stream audio a little faster than real time until three chunks are stored.
    const audio = tone(16_000 * 20);
    let sent = 0;
    let streaming = true;
    const sender = (async () => {
      while (streaming && sent < audio.length && ws.readyState === WebSocket.OPEN) {
        ws.send(audio.slice(sent, sent + FRAME_SAMPLES));
        sent += FRAME_SAMPLES;
        await new Promise((r) => setTimeout(r, 85));
      }
    })();
    const stored = await eventually(async () => ((await listed(callId))[0]?.duration_seconds ?? 0) >= 3 * CHUNK_SECONDS, 30_000, 100);
    expect(stored).toBe(true);
    streaming = false;
    await sender;
    const sentSeconds = sent / 16_000;
    const before = (await listed(callId))[0]!;
    // Killed at once (well within the 1.5 s after which a quiet track is written out): the audio
    // after the last full chunk is only in the object's memory.
    server = await server.restart("SIGKILL");

    const after = await listed(callId);
    expect(after).toHaveLength(1);
    expect(after[0]!.recording_id).toBe(before.recording_id);
    // Nothing stored before the crash is gone; what is lost is less than one chunk of what was sent.
    expect(after[0]!.duration_seconds).toBeGreaterThanOrEqual(before.duration_seconds);
    expect(after[0]!.duration_seconds % CHUNK_SECONDS).toBe(0);
    expect(sentSeconds - after[0]!.duration_seconds).toBeLessThanOrEqual(CHUNK_SECONDS + 0.5);

    const file = await fetch(`${server.baseUrl}/api/v2/calls/${callId}/recordings/${before.recording_id}`, {
      headers: { Authorization: `Bearer ${await mintJwt(server.jwtSecret, { sub: "listener", role: "guest" })}` },
    });
    expect(file.status).toBe(200);
    const bytes = new Uint8Array(await file.arrayBuffer());
    const wav = parseWav(bytes)!;
    expect(wav).toMatchObject({ channels: 1, sampleRate: 16_000, bitsPerSample: 16, durationSeconds: after[0]!.duration_seconds });
    const samples = new Int16Array(bytes.slice(wav.dataOffset).buffer);
    expect(samples).toEqual(audio.slice(0, samples.length));

    // The page reconnects to the restarted server; its audio continues the same recording.
    const again = await connect(callId, joined.join_token);
    const more = tone(16_000 * 1.5);
    for (let at = 0; at < more.length; at += FRAME_SAMPLES) {
      again.send(more.slice(at, at + FRAME_SAMPLES));
      await new Promise((r) => setTimeout(r, 85));
    }
    expect((await api.post(`/api/v2/calls/${callId}/end`, {})).status).toBe(200);
    const grown = await eventually(async () => (await listed(callId))[0]?.duration_seconds === after[0]!.duration_seconds + 1.5, 15_000);
    expect(grown).toBe(true);
    expect((await listed(callId)).map((r) => r.recording_id)).toEqual([before.recording_id]);
    again.close();
  }, 180_000);
});
