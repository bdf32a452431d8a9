/**
 * The recorder as an AudioListener, fed frames directly inside a real call object (its SQLite),
 * with a stand-in bucket where the test needs R2 to fail or to be slow: consent (only participants
 * whose page was told), a chunk listed only once its put succeeded (retried, then given up), and a
 * put still in flight when the recordings are erased removing its own object.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Recorder } from "../../durable-objects/call-session/recorder";
import { listRecordings } from "../../durable-objects/call-session/recordings-store";
import { call } from "../helpers/api";
import { addParticipant, createCall } from "../helpers/calls";

const SECOND = 16_000; // samples

/** An in-memory bucket whose `put` runs `before(key, attempt)` first (throw to fail, await to stall). */
function standInBucket(before: (key: string, attempt: number) => Promise<void> | void = () => undefined) {
  const objects = new Map<string, Uint8Array>();
  const attempts = new Map<string, number>();
  const written: string[] = [];
  const bucket = {
    async put(key: string, value: Uint8Array) {
      const attempt = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, attempt);
      await before(key, attempt);
      objects.set(key, value);
      written.push(key);
      return {};
    },
    async delete(keys: string | string[]) {
      for (const key of [keys].flat()) objects.delete(key);
    },
    async list(opts: { prefix: string }) {
      return { objects: [...objects.keys()].filter((k) => k.startsWith(opts.prefix)).map((key) => ({ key })) };
    },
  };
  return { bucket: bucket as unknown as R2Bucket, objects, attempts, written };
}

async function recordedCall(people: string[]) {
  const c = await createCall({ recording_enabled: true });
  expect((await call(`/api/v2/calls/${c.call_id}/start`, { body: {} })).status).toBe(200);
  const ids: string[] = [];
  for (const name of people) ids.push((await addParticipant(c.call_id, name)).participant.participant_id);
  return { callId: c.call_id, ids, stub: env.CALL_SESSION.getByName(c.call_id) };
}

const frame = (participant_id: string, samples: number) => ({ participant_id, pcm: new Int16Array(samples).fill(1000), at: Date.now() });

async function until(what: string, probe: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("the recorder", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("records only participants whose page was told the call is recorded", async () => {
    const { ids, stub } = await recordedCall(["told", "untold"]);
    const [told, untold] = ids as [string, string];
    const { bucket, objects } = standInBucket();
    await runInDurableObject(stub, async (_instance, state) => {
      const recorder = new Recorder({ ctx: state, env: { ...env, RECORDINGS: bucket }, chunkSeconds: 1, isTold: (id) => id === told });
      recorder.frame(frame(told, 1.5 * SECOND));
      recorder.frame(frame(untold, 1.5 * SECOND));
      recorder.flushAll();
      await until("both chunks of the told participant", () => listRecordings(state.storage.sql)[0]?.duration_seconds === 1.5);
      expect(listRecordings(state.storage.sql).map((r) => r.participant_id)).toEqual([told]);
    });
    expect([...objects.keys()].every((k) => !k.includes(untold))).toBe(true);
    expect(objects.size).toBe(2);
  });

  it("lists a chunk only once its put succeeded: a failing put is retried, and given up (logged) after three tries", async () => {
    const { ids, stub } = await recordedCall(["flaky"]);
    const warn = vi.spyOn(console, "warn");
    // Chunk 0 fails twice then works; chunk 1 never works; chunk 2 works at once.
    const { bucket, attempts } = standInBucket((key, attempt) => {
      if ((key.endsWith("/000000") && attempt <= 2) || key.endsWith("/000001")) throw new Error("R2 is having a bad day");
    });
    await runInDurableObject(stub, async (_instance, state) => {
      const recorder = new Recorder({ ctx: state, env: { ...env, RECORDINGS: bucket }, chunkSeconds: 1, isTold: () => true });
      recorder.frame(frame(ids[0]!, 3 * SECOND));
      await until("chunks 0 and 2 listed", () => listRecordings(state.storage.sql)[0]?.duration_seconds === 2);
      await until("chunk 1 given up", () => warn.mock.calls.some((c) => String(c[0]).includes('"outcome":"chunk_lost"')));
      const rows = state.storage.sql
        .exec<{ chunk_index: number }>("SELECT chunk_index FROM recording_chunks ORDER BY chunk_index")
        .toArray();
      expect(rows.map((r) => r.chunk_index)).toEqual([0, 2]);
    });
    expect([...attempts.entries()].map(([k, n]) => [k.slice(-6), n])).toEqual([
      ["000000", 3],
      ["000001", 3],
      ["000002", 1],
    ]);
  });

  it("after a restart (a new recorder on the same object) the participant's recording goes on at the next chunk", async () => {
    const { ids, stub } = await recordedCall(["steady"]);
    const { bucket, objects } = standInBucket();
    await runInDurableObject(stub, async (_instance, state) => {
      const deps = { ctx: state, env: { ...env, RECORDINGS: bucket }, chunkSeconds: 1, isTold: () => true };
      new Recorder(deps).frame(frame(ids[0]!, SECOND));
      await until("the first chunk listed", () => listRecordings(state.storage.sql)[0]?.duration_seconds === 1);
      const again = new Recorder(deps);
      again.frame(frame(ids[0]!, SECOND));
      await until("the second chunk listed", () => listRecordings(state.storage.sql)[0]?.duration_seconds === 2);
      expect(listRecordings(state.storage.sql)).toHaveLength(1);
    });
    expect([...objects.keys()].map((k) => k.slice(-6))).toEqual(["000000", "000001"]);
  });

  it("a put still in flight when the recordings are erased deletes its own object", async () => {
    const { callId, ids, stub } = await recordedCall(["slow"]);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { bucket, objects, written } = standInBucket(() => gate);
    await runInDurableObject(stub, async (_instance, state) => {
      const recorder = new Recorder({ ctx: state, env: { ...env, RECORDINGS: bucket }, chunkSeconds: 1, isTold: () => true });
      recorder.frame(frame(ids[0]!, SECOND)); // one full chunk: its put starts and waits
      expect(await recorder.erase(callId)).toEqual({ deleted: 0, objects: 0 });
      release();
      await until("the late put to land", () => written.length === 1);
      await until("its object to be removed", () => objects.size === 0);
      expect(listRecordings(state.storage.sql)).toEqual([]);
    });
  });
});
