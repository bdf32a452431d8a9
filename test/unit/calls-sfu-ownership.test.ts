/** The SFU proxy's ownership checks: own session only, close only own mids, pull only within the call. */
import { describe, expect, it } from "vitest";
import { checkCloseTracks, checkNewTracks, checkSessionOwner, type ParticipantSfuRecord } from "../../src/calls/sfu-ownership";

const alice: ParticipantSfuRecord = { sessionId: "s-alice", mids: ["0", "1"] };
const fresh: ParticipantSfuRecord = { sessionId: null, mids: [] };

describe("sfu ownership", () => {
  it("a participant may only touch its own session", () => {
    expect(checkSessionOwner(alice, "s-alice")).toEqual({ ok: true });
    expect(checkSessionOwner(alice, "s-bob")).toEqual({ ok: false, reason: "this SFU session belongs to another participant" });
    expect(checkSessionOwner(fresh, "s-alice")).toEqual({ ok: false, reason: "this participant has no SFU session yet" });
  });

  it("close: only mids it published, on its own session", () => {
    expect(checkCloseTracks(alice, { sessionId: "s-alice", mids: ["1"] })).toEqual({ ok: true });
    expect(checkCloseTracks(alice, { sessionId: "s-alice", mids: ["0", "1"] })).toEqual({ ok: true });
    expect(checkCloseTracks(alice, { sessionId: "s-alice", mids: ["1", "7", "8"] })).toEqual({
      ok: false,
      reason: "mids not published by this participant: 7, 8",
    });
    expect(checkCloseTracks(alice, { sessionId: "s-bob", mids: ["0"] })).toMatchObject({ ok: false });
    expect(checkCloseTracks(alice, { sessionId: "s-alice", mids: [] })).toEqual({ ok: false, reason: "no mids to close" });
    expect(checkCloseTracks(fresh, { sessionId: "s-alice", mids: ["0"] })).toMatchObject({ ok: false });
  });

  it("tracks/new: own session; pulls only from sessions of the same call", () => {
    const callSessions = ["s-alice", "s-bob"];
    expect(checkNewTracks(alice, { sessionId: "s-alice", tracks: [{ location: "local" }] }, callSessions)).toEqual({ ok: true });
    expect(checkNewTracks(alice, { sessionId: "s-alice", tracks: [{ location: "remote", sessionId: "s-bob" }] }, callSessions)).toEqual({
      ok: true,
    });
    expect(checkNewTracks(alice, { sessionId: "s-alice", tracks: [{ location: "remote", sessionId: "s-mallory" }] }, callSessions)).toEqual(
      {
        ok: false,
        reason: "session s-mallory is not part of this call",
      },
    );
    expect(checkNewTracks(alice, { sessionId: "s-bob", tracks: [{ location: "local" }] }, callSessions)).toMatchObject({ ok: false });
  });
});
