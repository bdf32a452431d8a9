/** Signalling over the call's hibernatable WebSockets: roster, relay, impersonation, errors, hibernation. */
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { CallSession } from "../../src/calls/model";
import { callSession } from "../../src/calls/service";
import { call, json } from "../helpers/api";
import { addParticipant, createCall, join, type Peer } from "../helpers/calls";

async function twoPeers(extra = false) {
  const c = await createCall();
  const a = await addParticipant(c.call_id, "alice");
  const b = await addParticipant(c.call_id, "bob");
  const alice = await join(c.call_id, a.join_token);
  const aliceRoster = await alice.next("roster");
  const bob = await join(c.call_id, b.join_token);
  const out = {
    c,
    a: a.participant.participant_id,
    b: b.participant.participant_id,
    alice,
    bob,
    aliceRoster,
    carol: undefined as Peer | undefined,
    cId: "",
  };
  if (extra) {
    const k = await addParticipant(c.call_id, "carol");
    out.carol = await join(c.call_id, k.join_token);
    out.cId = k.participant.participant_id;
    await out.carol.next("roster");
  }
  return out;
}

/** Waits until the server has handled everything `peer` sent before (an error frame comes back in order). */
async function barrier(peer: Peer) {
  peer.send("not json");
  expect(await peer.next("error")).toMatchObject({ code: "invalid_json" });
}

describe("joining", () => {
  it("a newcomer gets the roster; the others get joined", async () => {
    const { c, a, b, alice, bob, aliceRoster } = await twoPeers();
    expect(aliceRoster).toMatchObject({ call_id: c.call_id, status: "pending" });
    expect(
      (aliceRoster.participants as { participant_id: string; connected: boolean }[]).map((p) => [p.participant_id, p.connected]),
    ).toEqual([
      [a, true],
      [b, false],
    ]);
    const bobRoster = await bob.next("roster");
    expect((bobRoster.participants as { connected: boolean }[]).map((p) => p.connected)).toEqual([true, true]);
    expect(await alice.next("joined")).toMatchObject({ participant: { participant_id: b, display_name: "bob", connected: true } });
    expect(bob.inbox).toEqual([]);
  });

  it("a closed socket is reported as disconnected without leaving the roster", async () => {
    const { b, alice, bob } = await twoPeers();
    bob.ws.close(1000, "bye");
    expect(await alice.next("left")).toEqual({ type: "left", participant_id: b, reason: "disconnected" });
  });

  it("a close without a code (1005 on the server) is handled, never echoed", async () => {
    const { b, alice, bob } = await twoPeers();
    bob.ws.close();
    expect(await alice.next("left")).toEqual({ type: "left", participant_id: b, reason: "disconnected" });
    await barrier(alice);
  });
});

describe("relay", () => {
  it("offer, answer and ice go, in order, to the named peer only, from the server-set sender", async () => {
    const { a, b, alice, bob, carol, cId } = await twoPeers(true);
    await alice.next("joined");
    alice.send({ type: "offer", to: b, sdp: "v=0 offer" });
    for (let i = 0; i < 5; i++)
      alice.send({ type: "ice", to: b, candidate: { candidate: `candidate:${i}`, sdpMid: "0", sdpMLineIndex: 0 } });
    alice.send({ type: "ice", to: b, candidate: null });
    expect(await bob.next("offer")).toEqual({ type: "offer", to: b, from: a, sdp: "v=0 offer" });
    const ice = [];
    for (let i = 0; i < 6; i++) ice.push(await bob.next("ice"));
    expect(ice.map((f) => (f.candidate as { candidate: string } | null)?.candidate ?? null)).toEqual([
      "candidate:0",
      "candidate:1",
      "candidate:2",
      "candidate:3",
      "candidate:4",
      null,
    ]);
    expect(ice.every((f) => f.from === a)).toBe(true);
    bob.send({ type: "answer", to: a, sdp: "v=0 answer" });
    expect(await alice.next("answer")).toEqual({ type: "answer", to: a, from: b, sdp: "v=0 answer" });
    await barrier(carol!);
    expect(carol!.inbox.filter((f) => ["offer", "answer", "ice"].includes(f.type))).toEqual([]);
    expect(cId).toMatch(/^part_/);
  });

  it("refuses impersonation and unreachable peers with an error frame, socket open", async () => {
    const { a, b, alice, bob } = await twoPeers();
    await alice.next("joined");
    bob.send({ type: "offer", from: a, to: a, sdp: "forged" });
    expect(await bob.next("error")).toMatchObject({ code: "impersonation", ref: "offer" });
    bob.send({ type: "mute", from: a, muted: true });
    expect(await bob.next("error")).toMatchObject({ code: "impersonation", ref: "mute" });
    bob.send({ type: "offer", from: b, to: "part_ffffffffffffffffffffffff", sdp: "x" });
    expect(await bob.next("error")).toMatchObject({ code: "peer_unavailable" });
    bob.send({ type: "offer", to: b, sdp: "to myself" });
    expect(await bob.next("error")).toMatchObject({ code: "peer_unavailable" });
    await barrier(alice);
    expect(alice.inbox).toEqual([]);
    expect(bob.closed).toBeNull();
  });

  it("invalid JSON, unknown types, bad fields and binary frames get error frames", async () => {
    const { b, bob } = await twoPeers();
    bob.send("{nope");
    expect(await bob.next("error")).toMatchObject({ code: "invalid_json" });
    bob.send({ type: "teleport" });
    expect(await bob.next("error")).toMatchObject({ code: "invalid_message", ref: "teleport" });
    bob.send({ type: "offer", to: b });
    expect(await bob.next("error")).toMatchObject({ code: "invalid_message", message: expect.stringContaining("sdp") });
    bob.send({ type: "mute", muted: "loud" });
    expect(await bob.next("error")).toMatchObject({ code: "invalid_message" });
    bob.ws.send(new Uint8Array([1, 2, 3]));
    expect(await bob.next("error")).toMatchObject({ code: "invalid_message" });
    bob.send(JSON.stringify({ type: "offer", to: b, sdp: "x".repeat(300_000) }));
    expect(await bob.next("error")).toMatchObject({ code: "too_large" });
    expect(bob.closed).toBeNull();
  });
});

describe("roster updates", () => {
  it("mute, video and tracks update the roster and are broadcast", async () => {
    const { c, a, alice, bob } = await twoPeers();
    await alice.next("joined");
    alice.send({ type: "mute", muted: true });
    expect(await bob.next("participant_updated")).toMatchObject({ participant: { participant_id: a, is_muted: true } });
    expect(await alice.next("participant_updated")).toMatchObject({ participant: { participant_id: a, is_muted: true } });
    alice.send({ type: "track_published", stream: { stream_id: "s1", media_type: "audio", track_name: "mic" } });
    expect(await bob.next("participant_updated")).toMatchObject({
      participant: { media_streams: [{ stream_id: "s1", media_type: "audio", enabled: true, codec: null, track_name: "mic" }] },
    });
    alice.send({ type: "video", enabled: true });
    expect(await bob.next("participant_updated")).toMatchObject({ participant: { is_video_enabled: true } });
    alice.send({ type: "track_closed", stream_id: "s1" });
    expect(await bob.next("participant_updated")).toMatchObject({ participant: { media_streams: [] } });
    const stored = await json<CallSession>(await call(`/api/v2/calls/${c.call_id}`));
    expect(stored.participants[0]).toMatchObject({ is_muted: true, is_video_enabled: true, media_streams: [] });

    const patched = await call(`/api/v2/calls/${c.call_id}/participants/${a}`, { method: "PATCH", body: { is_muted: false } });
    expect(patched.status).toBe(200);
    expect(await bob.next("participant_updated")).toMatchObject({ participant: { participant_id: a, is_muted: false } });
  });

  it("at most 16 streams per participant; a participant marked left while its socket is open is refused and closed", async () => {
    const { c, a, alice, bob } = await twoPeers();
    await alice.next("joined");
    for (let i = 0; i < 16; i++) alice.send({ type: "track_published", stream: { stream_id: `s${i}`, media_type: "audio" } });
    alice.send({ type: "track_published", stream: { stream_id: "s16", media_type: "audio" } });
    expect(await alice.next("error")).toMatchObject({ code: "invalid_message", ref: "track_published" });
    const stored = await json<CallSession>(await call(`/api/v2/calls/${c.call_id}`));
    expect(stored.participants.find((p) => p.participant_id === a)!.media_streams).toHaveLength(16);
    // The record says alice left (as if a removal raced her socket): her next roster change is refused.
    await runInDurableObject(env.CALL_SESSION.getByName(c.call_id), (_i, state) => {
      state.storage.sql.exec("UPDATE participants SET left_at = ? WHERE participant_id = ?", Date.now(), a);
    });
    alice.send({ type: "mute", muted: true });
    expect(await alice.next("error")).toMatchObject({ code: "not_in_call" });
    expect((await alice.waitClosed()).code).toBe(1000);
    await barrier(bob);
  });

  it("leave and removal close the socket and tell the others; the call's end closes all", async () => {
    const { c, a, b, alice, bob, carol, cId } = await twoPeers(true);
    bob.send({ type: "leave" });
    expect(await alice.next("left")).toEqual({ type: "left", participant_id: b, reason: "left" });
    expect((await bob.waitClosed()).code).toBe(1000);
    expect((await call(`/api/v2/calls/${c.call_id}/participants/${cId}`, { method: "DELETE" })).status).toBe(200);
    expect(await alice.next("left")).toEqual({ type: "left", participant_id: cId, reason: "removed" });
    expect((await carol!.waitClosed()).code).toBe(1000);
    await call(`/api/v2/calls/${c.call_id}/start`, { method: "POST" });
    expect(await alice.next("status")).toEqual({ type: "status", status: "active" });
    await call(`/api/v2/calls/${c.call_id}/end`, { method: "POST" });
    expect(await alice.next("status")).toEqual({ type: "status", status: "ended" });
    expect((await alice.waitClosed()).code).toBe(1000);
    const ended = await json<CallSession>(await call(`/api/v2/calls/${c.call_id}`));
    expect(ended.participants.find((p) => p.participant_id === a)!.left_at).toBe(ended.ended_at);
  });
});

describe("hibernation", () => {
  it("sockets survive eviction: relay and roster still work from attachments and SQLite", async () => {
    const { c, a, b, alice, bob } = await twoPeers();
    await alice.next("joined");
    const stub = callSession(env, c.call_id);
    const raw = env.CALL_SESSION.getByName(c.call_id);
    await runInDurableObject(raw, (instance) => void Object.assign(instance, { marker: true }));
    await evictDurableObject(raw, { webSockets: "hibernate" });
    alice.send({ type: "offer", to: b, sdp: "after hibernation" });
    expect(await bob.next("offer")).toEqual({ type: "offer", to: b, from: a, sdp: "after hibernation" });
    bob.send({ type: "offer", from: a, to: a, sdp: "forged" });
    expect(await bob.next("error")).toMatchObject({ code: "impersonation" });
    await evictDurableObject(raw, { webSockets: "hibernate" });
    bob.send({ type: "mute", muted: true });
    expect(await alice.next("participant_updated")).toMatchObject({ participant: { participant_id: b, is_muted: true, connected: true } });
    expect(await stub.connections()).toBe(2);
    // A fresh instance answered: the old one (and any memory it had) is gone.
    expect(await runInDurableObject(raw, (instance) => "marker" in instance)).toBe(false);
  });
});
