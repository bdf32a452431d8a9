/**
 * The Realtime SFU proxy (SFU mode, docs/calls-and-speech.md) through the Worker, with a fake SFU at the fetch
 * boundary that checks each request against the documented API (test/helpers/fake-sfu.ts).
 * Every refusal also checks that the SFU was not called and that nothing was recorded.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { CallParticipant, CallSession } from "../../src/calls/model";
import { callSession } from "../../src/calls/service";
import { JOIN_AUDIENCE } from "../../src/calls/tokens";
import { call, callWith, json, mintToken, problem } from "../helpers/api";
import { addParticipant, createCall, join } from "../helpers/calls";
import { FakeSfu, SFU_APP_ID, SFU_ENV } from "../helpers/fake-sfu";
import { joinToken, linkToken } from "../helpers/tokens";

const UNKNOWN_CALL = "call_ffffffffffffffffffffffff";
const UNKNOWN_PART = "part_ffffffffffffffffffffffff";
/** An endpoint offer with an audio (mid 0) and a video (mid 1) m-section. */
const OFFER = {
  type: "offer" as const,
  sdp: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\n",
};
const ANSWER = { type: "answer" as const, sdp: "v=0\r\no=- browser-answer\r\n" };

let sfu: FakeSfu;
beforeEach(() => {
  sfu = new FakeSfu().install();
});
afterEach(() => {
  expect(sfu.violations).toEqual([]);
  vi.restoreAllMocks();
});

/** A request through the Worker in SFU mode (or with `overrides`), authorized by `token` (a join token, usually). */
function send(
  path: string,
  opts: { method?: string; body?: unknown; token?: string | null } = {},
  overrides: Record<string, unknown> = SFU_ENV,
): Promise<Response> {
  return callWith(overrides, path, {
    method: opts.method ?? (opts.body === undefined ? "GET" : "POST"),
    body: opts.body,
    token: opts.token,
  });
}

const sessions = (callId: string) => `/api/v2/calls/${callId}/sfu/sessions`;

/** A track entry as the proxy takes it (the SFU's own fields, plus the product's `media_type`). */
type Track = { location: "local" | "remote"; mid?: string; trackName: string; sessionId?: string; media_type?: string };

/** A new SFU session for the holder of `token` (answered 201 by the fake); its id. */
async function newSession(callId: string, token: string): Promise<string> {
  return (await json<{ sessionId: string }>(await send(sessions(callId), { body: {}, token }))).sessionId;
}

/** Publishes (or pulls) `tracks` on the session with the standard offer. */
function pushTracks(callId: string, sessionId: string, token: string, tracks: Track[]): Promise<Response> {
  return send(`${sessions(callId)}/${sessionId}/tracks`, { token, body: { sessionDescription: OFFER, tracks } });
}

async function roster(callId: string): Promise<Record<string, CallParticipant>> {
  const c = await json<CallSession>(await call(`/api/v2/calls/${callId}`));
  return Object.fromEntries(c.participants.map((p) => [p.display_name, p]));
}

/** What the call's object recorded for the participant (session and opened mids). */
async function recorded(callId: string, participantId: string) {
  const ctx = await callSession(env, callId).sfuContext(participantId);
  return ctx.ok ? ctx.value.record : ctx;
}

/** A call with alice and bob (join tokens), each with an SFU session; alice publishes audio (mid 0) and video (mid 1). */
async function publishedCall() {
  const c = await createCall();
  const alice = await addParticipant(c.call_id, "alice");
  const bob = await addParticipant(c.call_id, "bob");
  const a = await newSession(c.call_id, alice.join_token);
  const b = await newSession(c.call_id, bob.join_token);
  const res = await pushTracks(c.call_id, a, alice.join_token, [
    { location: "local", mid: "0", trackName: "alice-mic" },
    { location: "local", mid: "1", trackName: "alice-cam" },
  ]);
  expect(res.status).toBe(200);
  return { c, alice, bob, a, b };
}

describe("SFU mode: the happy path", () => {
  it("sessions/new records the session as the participant's sfu_session_id and returns the SFU's answer", async () => {
    const c = await createCall();
    const alice = await addParticipant(c.call_id, "alice");
    const bob = await addParticipant(c.call_id, "bob");
    const peer = await join(c.call_id, bob.join_token);
    await peer.next("roster");
    const res = await send(sessions(c.call_id), { body: { sessionDescription: OFFER }, token: alice.join_token });
    expect(res.status).toBe(201);
    const created = await json<{ sessionId: string; sessionDescription: { type: string } }>(res);
    expect(created).toEqual({
      sessionId: "sfu-session-1",
      sessionDescription: { type: "answer", sdp: expect.stringContaining("answer-for-sfu-session-1") },
    });
    expect(sfu.requests).toEqual([{ method: "POST", path: "/sessions/new", body: { sessionDescription: OFFER } }]);
    expect((await roster(c.call_id)).alice!.sfu_session_id).toBe("sfu-session-1");
    expect((await roster(c.call_id)).bob!.sfu_session_id).toBeNull();
    expect(await peer.next("participant_updated")).toMatchObject({
      participant: { participant_id: alice.participant.participant_id, sfu_session_id: "sfu-session-1" },
    });
    // Without an offer the body is omitted, as the API documents.
    const bare = await send(sessions(c.call_id), { body: {}, token: bob.join_token });
    expect(await json(bare)).toEqual({ sessionId: "sfu-session-2" });
    expect(sfu.requests[1]).toEqual({ method: "POST", path: "/sessions/new", body: undefined });
  });

  it("tracks/new publishes local tracks, records their mids, adds media streams and tells the others", async () => {
    const c = await createCall();
    const alice = await addParticipant(c.call_id, "alice");
    const bob = await addParticipant(c.call_id, "bob");
    const sessionId = await newSession(c.call_id, alice.join_token);
    const peer = await join(c.call_id, bob.join_token);
    await peer.next("roster");
    const res = await pushTracks(c.call_id, sessionId, alice.join_token, [
      { location: "local", mid: "0", trackName: "alice-mic" },
      { location: "local", mid: "1", trackName: "alice-screen", media_type: "screen_share" },
    ]);
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({
      requiresImmediateRenegotiation: false,
      sessionDescription: { type: "answer", sdp: expect.stringContaining("sfu-answer") },
      tracks: [
        { location: "local", mid: "0", trackName: "alice-mic" },
        { location: "local", mid: "1", trackName: "alice-screen" },
      ],
    });
    // The SFU got exactly its documented fields (media_type is ours and stays here).
    expect(sfu.requests.at(-1)).toEqual({
      method: "POST",
      path: `/sessions/${sessionId}/tracks/new`,
      body: {
        sessionDescription: OFFER,
        tracks: [
          { location: "local", mid: "0", trackName: "alice-mic" },
          { location: "local", mid: "1", trackName: "alice-screen" },
        ],
      },
    });
    expect(await recorded(c.call_id, alice.participant.participant_id)).toEqual({ sessionId, mids: ["0", "1"] });
    expect((await roster(c.call_id)).alice!.media_streams).toEqual([
      { stream_id: "alice-mic", media_type: "audio", enabled: true, codec: null, track_name: "alice-mic" },
      { stream_id: "alice-screen", media_type: "screen_share", enabled: true, codec: null, track_name: "alice-screen" },
    ]);
    const published = await peer.next("track_published");
    expect(published).toEqual({
      type: "track_published",
      participant_id: alice.participant.participant_id,
      sfu_session_id: sessionId,
      stream: { stream_id: "alice-mic", media_type: "audio", enabled: true, codec: null, track_name: "alice-mic" },
    });
    expect(await peer.next("track_published")).toMatchObject({ stream: { track_name: "alice-screen" } });
    expect(await peer.next("participant_updated")).toMatchObject({
      participant: { sfu_session_id: sessionId, media_streams: [{ track_name: "alice-mic" }, { track_name: "alice-screen" }] },
    });
  });

  it("pulls a track of the call, renegotiates, reads the state and closes, each on the own session", async () => {
    const { c, alice, bob, a, b } = await publishedCall();
    // Without media_type, the kind comes from the offer's m-line of that mid.
    expect((await roster(c.call_id)).alice!.media_streams.map((s) => [s.track_name, s.media_type])).toEqual([
      ["alice-mic", "audio"],
      ["alice-cam", "video"],
    ]);
    const peer = await join(c.call_id, bob.join_token);
    await peer.next("roster");

    const pull = await send(`${sessions(c.call_id)}/${b}/tracks`, {
      token: bob.join_token,
      body: { tracks: [{ location: "remote", sessionId: a, trackName: "alice-mic" }] },
    });
    expect(pull.status).toBe(200);
    const pulled = await json<{ requiresImmediateRenegotiation: boolean; sessionDescription: { type: string }; tracks: { mid: string }[] }>(
      pull,
    );
    expect(pulled).toMatchObject({
      requiresImmediateRenegotiation: true,
      sessionDescription: { type: "offer" },
      tracks: [{ location: "remote", sessionId: a, trackName: "alice-mic" }],
    });
    const pulledMid = pulled.tracks[0]!.mid;
    expect(await recorded(c.call_id, bob.participant.participant_id)).toEqual({ sessionId: b, mids: [pulledMid] });
    // A pull is not a publication: bob's media streams stay empty.
    expect((await roster(c.call_id)).bob!.media_streams).toEqual([]);

    const reneg = await send(`${sessions(c.call_id)}/${b}/renegotiate`, {
      method: "PUT",
      token: bob.join_token,
      body: { sessionDescription: ANSWER },
    });
    expect(reneg.status).toBe(200);
    expect(await json(reneg)).toEqual({});
    expect(sfu.requests.at(-1)).toEqual({ method: "PUT", path: `/sessions/${b}/renegotiate`, body: { sessionDescription: ANSWER } });

    const state = await send(`${sessions(c.call_id)}/${b}`, { token: bob.join_token });
    expect(state.status).toBe(200);
    expect(await json(state)).toEqual({
      tracks: [{ location: "remote", mid: pulledMid, trackName: "alice-mic", sessionId: a, status: "active" }],
      dataChannels: [],
    });
    expect(sfu.requests.at(-1)).toEqual({ method: "GET", path: `/sessions/${b}`, body: undefined });

    // Alice closes her camera: forgotten, out of her media streams, bob is told.
    const close = await send(`${sessions(c.call_id)}/${a}/tracks/close`, {
      method: "PUT",
      token: alice.join_token,
      body: { tracks: [{ mid: "1" }] },
    });
    expect(close.status).toBe(200);
    expect(await json(close)).toEqual({ requiresImmediateRenegotiation: false, tracks: [{ mid: "1" }] });
    expect(sfu.requests.at(-1)).toEqual({
      method: "PUT",
      path: `/sessions/${a}/tracks/close`,
      body: { tracks: [{ mid: "1" }], force: true },
    });
    expect(await recorded(c.call_id, alice.participant.participant_id)).toEqual({ sessionId: a, mids: ["0"] });
    expect((await roster(c.call_id)).alice!.media_streams.map((s) => s.track_name)).toEqual(["alice-mic"]);
    expect(await peer.next("track_closed")).toEqual({
      type: "track_closed",
      participant_id: alice.participant.participant_id,
      sfu_session_id: a,
      stream_id: "alice-cam",
    });

    // Bob may close the mid he pulled on his own session.
    const unsubscribe = await send(`${sessions(c.call_id)}/${b}/tracks/close`, {
      method: "PUT",
      token: bob.join_token,
      body: { tracks: [{ mid: pulledMid }] },
    });
    expect(unsubscribe.status).toBe(200);
    expect(await recorded(c.call_id, bob.participant.participant_id)).toEqual({ sessionId: b, mids: [] });
  });

  it("a second sessions/new replaces the first: its tracks are forgotten and it can no longer be used", async () => {
    const { c, alice, bob, a } = await publishedCall();
    const peer = await join(c.call_id, bob.join_token);
    await peer.next("roster");
    const again = await newSession(c.call_id, alice.join_token);
    expect(again).not.toBe(a);
    expect(await recorded(c.call_id, alice.participant.participant_id)).toEqual({ sessionId: again, mids: [] });
    const now = (await roster(c.call_id)).alice!;
    expect(now).toMatchObject({ sfu_session_id: again, media_streams: [] });
    expect(await peer.next("track_closed")).toMatchObject({ sfu_session_id: a, stream_id: "alice-mic" });
    expect(await peer.next("track_closed")).toMatchObject({ sfu_session_id: a, stream_id: "alice-cam" });
    const before = sfu.requests.length;
    const doc = await problem(await send(`${sessions(c.call_id)}/${a}`, { token: alice.join_token }), 403);
    expect(doc.detail).toContain("another participant");
    expect(sfu.requests.length).toBe(before);
  });

  it("API credentials with calls:write may act for a named participant", async () => {
    const c = await createCall();
    const alice = await addParticipant(c.call_id, "alice");
    const res = await send(`${sessions(c.call_id)}?participant_id=${alice.participant.participant_id}`, { body: {} });
    expect(res.status).toBe(201);
    const { sessionId } = await json<{ sessionId: string }>(res);
    expect((await roster(c.call_id)).alice!.sfu_session_id).toBe(sessionId);
    // Without naming the participant: 422, nothing asked of the SFU.
    const doc = await problem(await send(sessions(c.call_id), { body: {} }), 422);
    expect(doc.errors).toEqual([{ path: "query.participant_id", message: "required" }]);
    expect(sfu.count("POST", /sessions\/new/)).toBe(1);
  });

  it("works when join tokens are signed with CALL_SIGNING_SECRET, not JWT_SECRET", async () => {
    const overrides = { ...SFU_ENV, CALL_SIGNING_SECRET: "a-separate-call-signing-secret-0123456789" };
    const c = await createCall();
    const res = await callWith(overrides, `/api/v2/calls/${c.call_id}/participants`, {
      body: { user_id: "u-alice", display_name: "alice" },
    });
    const alice = await json<{ join_token: string; participant: CallParticipant }>(res);
    expect((await send(sessions(c.call_id), { body: {}, token: alice.join_token }, overrides)).status).toBe(201);
    // Under the default settings that token is forged.
    await problem(await send(sessions(c.call_id), { body: {}, token: alice.join_token }), 401);
    expect(sfu.count()).toBe(1);
  });
});

describe("SFU mode: ownership (403, the SFU is not called, nothing recorded)", () => {
  it("participant B cannot touch A's session", async () => {
    const { c, alice, bob, a } = await publishedCall();
    const before = {
      requests: sfu.requests.length,
      alice: await recorded(c.call_id, alice.participant.participant_id),
      roster: await roster(c.call_id),
    };
    const attempts = [
      pushTracks(c.call_id, a, bob.join_token, [{ location: "local", mid: "5", trackName: "evil" }]),
      send(`${sessions(c.call_id)}/${a}/renegotiate`, { method: "PUT", token: bob.join_token, body: { sessionDescription: ANSWER } }),
      send(`${sessions(c.call_id)}/${a}/tracks/close`, { method: "PUT", token: bob.join_token, body: { tracks: [{ mid: "0" }] } }),
      send(`${sessions(c.call_id)}/${a}`, { token: bob.join_token }),
    ];
    for (const res of await Promise.all(attempts)) {
      const doc = await problem(res, 403);
      expect(doc.detail).toBe("this SFU session belongs to another participant");
    }
    // A join token acts only for its own participant, whatever ?participant_id= says.
    await problem(
      await send(`${sessions(c.call_id)}/${a}?participant_id=${alice.participant.participant_id}`, { token: bob.join_token }),
      403,
    );
    expect(sfu.requests.length).toBe(before.requests);
    expect(await recorded(c.call_id, alice.participant.participant_id)).toEqual(before.alice);
    expect(await roster(c.call_id)).toEqual(before.roster);
  });

  it("a participant without a session yet cannot use one", async () => {
    const c = await createCall();
    const alice = await addParticipant(c.call_id, "alice");
    const doc = await problem(await send(`${sessions(c.call_id)}/sfu-session-77`, { token: alice.join_token }), 403);
    expect(doc.detail).toBe("this participant has no SFU session yet");
    expect(sfu.count()).toBe(0);
  });

  it("closing a mid the participant did not open is refused", async () => {
    const { c, alice, a } = await publishedCall();
    const before = sfu.requests.length;
    const doc = await problem(
      await send(`${sessions(c.call_id)}/${a}/tracks/close`, {
        method: "PUT",
        token: alice.join_token,
        body: { tracks: [{ mid: "0" }, { mid: "7" }] },
      }),
      403,
    );
    expect(doc.detail).toBe("mids not published by this participant: 7");
    expect(sfu.requests.length).toBe(before);
    expect(await recorded(c.call_id, alice.participant.participant_id)).toEqual({ sessionId: a, mids: ["0", "1"] });
    expect((await roster(c.call_id)).alice!.media_streams).toHaveLength(2);
  });

  it("pulling from a session outside the call is refused", async () => {
    const { c, bob, b } = await publishedCall();
    const other = await createCall();
    const carol = await addParticipant(other.call_id, "carol");
    const carolSession = await newSession(other.call_id, carol.join_token);
    const before = sfu.requests.length;
    for (const foreign of [carolSession, "sfu-session-never-seen"]) {
      const doc = await problem(
        await send(`${sessions(c.call_id)}/${b}/tracks`, {
          token: bob.join_token,
          body: { tracks: [{ location: "remote", sessionId: foreign, trackName: "carol-mic" }] },
        }),
        403,
      );
      expect(doc.detail).toBe(`session ${foreign} is not part of this call`);
    }
    expect(sfu.requests.length).toBe(before);
    expect(await recorded(c.call_id, bob.participant.participant_id)).toEqual({ sessionId: b, mids: [] });
  });

  it("pulling from a participant who left is refused", async () => {
    const { c, alice, bob, a, b } = await publishedCall();
    await call(`/api/v2/calls/${c.call_id}/participants/${alice.participant.participant_id}`, { method: "DELETE" });
    const before = sfu.requests.length;
    const doc = await problem(
      await send(`${sessions(c.call_id)}/${b}/tracks`, {
        token: bob.join_token,
        body: { tracks: [{ location: "remote", sessionId: a, trackName: "alice-mic" }] },
      }),
      403,
    );
    expect(doc.detail).toContain("not part of this call");
    // And the one who left may no longer use the SFU at all.
    await problem(await send(`${sessions(c.call_id)}/${a}`, { token: alice.join_token }), 409);
    expect(sfu.requests.length).toBe(before);
  });
});

describe("SFU mode: per-track errors and SFU failures", () => {
  it("a track the SFU refused is not recorded; the rest is", async () => {
    const c = await createCall();
    const alice = await addParticipant(c.call_id, "alice");
    const sessionId = await newSession(c.call_id, alice.join_token);
    const res = await pushTracks(c.call_id, sessionId, alice.join_token, [
      { location: "local", mid: "0", trackName: "alice-mic" },
      { location: "local", mid: "1", trackName: "bad-cam" },
    ]);
    expect(res.status).toBe(200);
    expect((await json<{ tracks: unknown[] }>(res)).tracks).toEqual([
      { location: "local", mid: "0", trackName: "alice-mic" },
      { location: "local", mid: "1", trackName: "bad-cam", errorCode: "invalid_track", errorDescription: "Track refused by the fake" },
    ]);
    expect(await recorded(c.call_id, alice.participant.participant_id)).toEqual({ sessionId, mids: ["0"] });
    expect((await roster(c.call_id)).alice!.media_streams.map((s) => s.track_name)).toEqual(["alice-mic"]);
    // So it cannot be closed through the proxy either.
    await problem(
      await send(`${sessions(c.call_id)}/${sessionId}/tracks/close`, {
        method: "PUT",
        token: alice.join_token,
        body: { tracks: [{ mid: "1" }] },
      }),
      403,
    );
  });

  it("a pull the SFU refused per track is not recorded", async () => {
    const { c, bob, a, b } = await publishedCall();
    const res = await send(`${sessions(c.call_id)}/${b}/tracks`, {
      token: bob.join_token,
      body: { tracks: [{ location: "remote", sessionId: a, trackName: "no-such-track" }] },
    });
    expect(res.status).toBe(200);
    expect((await json<{ tracks: { errorCode?: string }[] }>(res)).tracks[0]!.errorCode).toBe("not_found");
    expect(await recorded(c.call_id, bob.participant.participant_id)).toEqual({ sessionId: b, mids: [] });
  });

  it("a mid the SFU could not close stays recorded; the others are forgotten", async () => {
    const { c, alice, a } = await publishedCall();
    // The SFU lost mid 1 on its side (e.g. the transceiver went away): it answers errorCode for it.
    sfu.sessions.set(
      a,
      sfu.sessions.get(a)!.filter((t) => t.mid !== "1"),
    );
    const res = await send(`${sessions(c.call_id)}/${a}/tracks/close`, {
      method: "PUT",
      token: alice.join_token,
      body: { tracks: [{ mid: "0" }, { mid: "1" }] },
    });
    expect(res.status).toBe(200);
    expect((await json<{ tracks: unknown[] }>(res)).tracks).toEqual([
      { mid: "0" },
      { mid: "1", errorCode: "not_found", errorDescription: "No such mid" },
    ]);
    expect(await recorded(c.call_id, alice.participant.participant_id)).toEqual({ sessionId: a, mids: ["1"] });
    expect((await roster(c.call_id)).alice!.media_streams.map((s) => s.track_name)).toEqual(["alice-cam"]);
  });

  it("an SFU refusal is 502 with the SFU's message, and nothing is recorded", async () => {
    const { c, alice, bob, a } = await publishedCall();
    const before = { alice: await recorded(c.call_id, alice.participant.participant_id), roster: await roster(c.call_id) };
    sfu.refuseNext = { status: 400, errorCode: "invalid_sdp", errorDescription: "Offer has no ICE credentials" };
    const doc = await problem(
      await pushTracks(c.call_id, a, alice.join_token, [{ location: "local", mid: "2", trackName: "alice-extra" }]),
      502,
    );
    expect(doc).toMatchObject({ code: "bad_gateway", sfu_status: 400, sfu_error_code: "invalid_sdp", transient: false });
    expect(doc.detail).toContain("Offer has no ICE credentials");
    sfu.refuseNext = { status: 503, errorCode: "unavailable", errorDescription: "Try later" };
    const failed = await send(sessions(c.call_id), { body: {}, token: bob.join_token });
    expect(failed.headers.get("retry-after")).toBe("2");
    expect((await problem(failed, 502)).detail).toContain("Try later");
    sfu.refuseNext = { status: 400, errorCode: "bad", errorDescription: "cannot close" };
    await problem(
      await send(`${sessions(c.call_id)}/${a}/tracks/close`, { method: "PUT", token: alice.join_token, body: { tracks: [{ mid: "0" }] } }),
      502,
    );
    expect(await recorded(c.call_id, alice.participant.participant_id)).toEqual(before.alice);
    expect(await roster(c.call_id)).toEqual(before.roster);
  });
});

describe("SFU mode: who may call", () => {
  const sign = (claims: { cid: string; sub: string }, exp: number | string, secret?: string) =>
    joinToken({ callId: claims.cid, participantId: claims.sub, exp, secret });

  it("refuses missing, forged and expired join tokens with 401", async () => {
    const c = await createCall();
    const alice = await addParticipant(c.call_id, "alice");
    const claims = { cid: c.call_id, sub: alice.participant.participant_id };
    const [h, , s] = alice.join_token.split(".");
    const tampered = btoa(JSON.stringify({ cid: c.call_id, sub: UNKNOWN_PART, aud: JOIN_AUDIENCE, exp: 9_999_999_999 })).replace(/=+$/, "");
    const cases: [string | null, string][] = [
      [null, "join token"],
      ["garbage", "invalid"],
      [await sign(claims, "5m", "someone-elses-secret-0123456789abcdef"), "not valid"],
      [await sign(claims, Math.floor(Date.now() / 1000) - 120), "expired"],
      [`${h}.${tampered}.${s}`, "not valid"],
    ];
    for (const [token, detail] of cases) {
      const doc = await problem(await send(sessions(c.call_id), { body: {}, token }), 401);
      expect(doc.detail).toContain(detail);
    }
    expect(sfu.count()).toBe(0);
    expect((await roster(c.call_id)).alice!.sfu_session_id).toBeNull();
  });

  it("refuses a token of another call, and API credentials without calls:write, with 403", async () => {
    const one = await createCall();
    const two = await createCall();
    const alice = await addParticipant(one.call_id, "alice");
    const bob = await addParticipant(two.call_id, "bob");
    expect((await problem(await send(sessions(two.call_id), { body: {}, token: alice.join_token }), 403)).detail).toContain("another call");
    const guest = await mintToken({ role: "guest" });
    await problem(await send(`${sessions(two.call_id)}?participant_id=${bob.participant.participant_id}`, { body: {}, token: guest }), 403);
    const limited = await mintToken({ role: "developer", agents: ["some-other-agent"] });
    await problem(
      await send(`${sessions(two.call_id)}?participant_id=${bob.participant.participant_id}`, { body: {}, token: limited }),
      403,
    );
    expect(sfu.count()).toBe(0);
  });

  it("a join token is not an API credential elsewhere", async () => {
    const c = await createCall();
    const alice = await addParticipant(c.call_id, "alice");
    await problem(await call(`/api/v2/calls/${c.call_id}`, { token: alice.join_token }), 401);
    await problem(await call("/api/v2/agents", { token: alice.join_token }), 401);
  });

  it("takes only the join token as its bearer: an approval link token is refused (401), the SFU is not called", async () => {
    const c = await createCall();
    const alice = await addParticipant(c.call_id, "alice");
    const link = await linkToken({ approvalId: "approval_000000000000000000000001", action: "approve" });
    const res = await send(`${sessions(c.call_id)}?participant_id=${alice.participant.participant_id}`, { body: {}, token: link });
    await problem(res, 401);
    expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
    expect(sfu.count()).toBe(0);
    expect((await roster(c.call_id)).alice!.sfu_session_id).toBeNull();
  });

  it("answers 404 for an unknown call or participant", async () => {
    const c = await createCall();
    const doc = await problem(await send(`${sessions(UNKNOWN_CALL)}?participant_id=${UNKNOWN_PART}`, { body: {} }), 404);
    expect(doc.detail).toContain(UNKNOWN_CALL);
    await problem(await send(`${sessions(c.call_id)}?participant_id=${UNKNOWN_PART}`, { body: {} }), 404);
    // A validly signed token naming no participant of the call.
    await problem(await send(sessions(c.call_id), { body: {}, token: await sign({ cid: c.call_id, sub: UNKNOWN_PART }, "5m") }), 404);
    expect(sfu.count()).toBe(0);
  });
});

describe("SFU mode: call state and configuration", () => {
  it("answers 409 once the call has ended, and records nothing", async () => {
    const { c, alice, bob, a, b } = await publishedCall();
    await call(`/api/v2/calls/${c.call_id}/end`, { method: "POST" });
    const before = { requests: sfu.requests.length, roster: await roster(c.call_id) };
    const attempts = [
      send(sessions(c.call_id), { body: {}, token: alice.join_token }),
      pushTracks(c.call_id, a, alice.join_token, [{ location: "local", mid: "2", trackName: "late" }]),
      send(`${sessions(c.call_id)}/${b}/renegotiate`, { method: "PUT", token: bob.join_token, body: { sessionDescription: ANSWER } }),
      send(`${sessions(c.call_id)}/${a}/tracks/close`, { method: "PUT", token: alice.join_token, body: { tracks: [{ mid: "0" }] } }),
      send(`${sessions(c.call_id)}/${a}`, { token: alice.join_token }),
    ];
    for (const res of await Promise.all(attempts)) expect(await problem(res, 409)).toMatchObject({ call_status: "ended" });
    expect(sfu.requests.length).toBe(before.requests);
    expect(await roster(c.call_id)).toEqual(before.roster);
  });

  it("answers 503 naming the settings when the SFU is not configured (P2P mode), and records nothing", async () => {
    const c = await createCall();
    const alice = await addParticipant(c.call_id, "alice");
    for (const overrides of [{}, { REALTIME_APP_ID: SFU_APP_ID }, { REALTIME_APP_SECRET: "only-the-secret" }]) {
      const doc = await problem(await send(sessions(c.call_id), { body: {}, token: alice.join_token }, overrides), 503);
      expect(doc.detail).toContain("REALTIME_APP_ID");
      expect(doc.detail).toContain("REALTIME_APP_SECRET");
      expect(doc.settings).toEqual(["REALTIME_APP_ID", "REALTIME_APP_SECRET"]);
    }
    await problem(await send(`${sessions(c.call_id)}/sfu-session-1`, { token: alice.join_token }, {}), 503);
    expect(sfu.count()).toBe(0);
    expect((await roster(c.call_id)).alice!.sfu_session_id).toBeNull();
  });

  it("sends the SFU calls to REALTIME_API_BASE_URL when it is set, and answers 503 for a malformed one", async () => {
    vi.restoreAllMocks();
    const elsewhere = new FakeSfu({ apiBaseUrl: "https://sfu-gateway.example.test/rtc/v1" }).install();
    const c = await createCall();
    const alice = await addParticipant(c.call_id, "alice");
    const res = await send(
      sessions(c.call_id),
      { body: {}, token: alice.join_token },
      { ...SFU_ENV, REALTIME_API_BASE_URL: "https://sfu-gateway.example.test/rtc/v1/" },
    );
    expect(res.status).toBe(201);
    expect(elsewhere.requests.map((r) => `${r.method} ${r.path}`)).toEqual(["POST /sessions/new"]);
    expect(elsewhere.violations).toEqual([]);
    for (const bad of ["rtc.live.cloudflare.com/v1", "ftp://sfu.example.test/v1", "https://sfu.example.test/v1?x=1"]) {
      const doc = await problem(
        await send(sessions(c.call_id), { body: {}, token: alice.join_token }, { ...SFU_ENV, REALTIME_API_BASE_URL: bad }),
        503,
      );
      expect(doc.detail).toContain("REALTIME_API_BASE_URL");
      expect(doc.settings).toEqual(["REALTIME_API_BASE_URL"]);
    }
    expect(elsewhere.count()).toBe(1);
    expect(sfu.count()).toBe(0);
  });

  it("validates bodies before anything else (422)", async () => {
    const c = await createCall();
    const alice = await addParticipant(c.call_id, "alice");
    const path = `${sessions(c.call_id)}/sfu-session-1`;
    await problem(
      await send(`${path}/tracks`, { token: alice.join_token, body: { tracks: [{ location: "local", mid: "0", trackName: "no-offer" }] } }),
      422,
    );
    await problem(await send(`${path}/tracks`, { token: alice.join_token, body: { tracks: [] } }), 422);
    await problem(await send(`${path}/renegotiate`, { method: "PUT", token: alice.join_token, body: { sessionDescription: OFFER } }), 422);
    await problem(
      await send(`${path}/tracks/close`, { method: "PUT", token: alice.join_token, body: { tracks: [{ mid: "0" }], force: false } }),
      422,
    );
    expect(sfu.count()).toBe(0);
  });

  it("is described in the OpenAPI document", async () => {
    const doc = await json<{ paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>> }>(
      await call("/openapi.json", { token: null }),
    );
    const base = "/api/v2/calls/{call_id}/sfu/sessions";
    expect(doc.paths[base]!.post!.operationId).toBe("createCallSfuSession");
    expect(doc.paths[`${base}/{session_id}/tracks`]!.post!.operationId).toBe("newCallSfuTracks");
    expect(doc.paths[`${base}/{session_id}/renegotiate`]!.put!.operationId).toBe("renegotiateCallSfuSession");
    expect(doc.paths[`${base}/{session_id}/tracks/close`]!.put!.operationId).toBe("closeCallSfuTracks");
    expect(Object.keys(doc.paths[`${base}/{session_id}`]!.get!.responses)).toEqual(
      expect.arrayContaining(["200", "401", "403", "404", "409", "502", "503"]),
    );
    // Every proxy route documents acting as a participant: the join token header and ?participant_id.
    const operations = [
      doc.paths[base]!.post,
      doc.paths[`${base}/{session_id}/tracks`]!.post,
      doc.paths[`${base}/{session_id}/renegotiate`]!.put,
      doc.paths[`${base}/{session_id}/tracks/close`]!.put,
      doc.paths[`${base}/{session_id}`]!.get,
    ];
    for (const op of operations as unknown as { parameters: { in: string; name: string }[]; tags: string[] }[]) {
      expect(op.parameters.map((p) => `${p.in}:${p.name}`)).toEqual(
        expect.arrayContaining(["query:participant_id", "header:Authorization"]),
      );
      expect(op.tags).toEqual(["calls"]);
    }
  });
});

describe("SFU mode: the recorded tracks are the SFU's", () => {
  it("a participant with an SFU session cannot rewrite its media_streams with track frames", async () => {
    const { c, alice } = await publishedCall();
    const before = (await roster(c.call_id)).alice!.media_streams;
    const peer = await join(c.call_id, alice.join_token);
    await peer.next("roster");
    peer.send({ type: "track_closed", stream_id: "alice-mic" });
    expect(await peer.next("error")).toMatchObject({ code: "invalid_message", ref: "track_closed" });
    peer.send({ type: "track_published", stream: { stream_id: "made-up", media_type: "audio" } });
    expect(await peer.next("error")).toMatchObject({ code: "invalid_message", ref: "track_published" });
    expect((await roster(c.call_id)).alice!.media_streams).toEqual(before);
  });
});
