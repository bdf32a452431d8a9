/**
 * The call page in SFU mode, in a real browser (docs/calls-and-speech.md): a real `wrangler dev --local` with
 * REALTIME_APP_ID / REALTIME_APP_SECRET set and REALTIME_API_BASE_URL pointing at a fake Realtime
 * SFU on 127.0.0.1 that really relays media (test/e2e/browser/media-sfu.ts: a Node server speaking
 * the documented Connection API, and a third headless Chromium page holding one RTCPeerConnection
 * per SFU session). Two call pages join; their audio and video go page → relay → page, negotiated
 * through the Worker's SFU proxy with their join tokens.
 *
 * Like the peer-to-peer test, it runs test/e2e/browser/sfu-call-runner.ts inside a loopback-only
 * network namespace (test/e2e/helpers/browser-runner.ts) and asserts on the JSON report. Needs
 * Debian's `chromium`, `unshare` and `ip`; missing any of them FAILS the test.
 */
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runBrowserRunner } from "./helpers/browser-runner";
import { PROJECT_ROOT } from "./helpers/local-server";

const RUNNER = join(PROJECT_ROOT, "test/e2e/browser/sfu-call-runner.ts");
const RUN_TIMEOUT_MS = 120_000;
const SIDES = ["alice", "bob"] as const;
const other = (side: (typeof SIDES)[number]) => (side === "alice" ? "bob" : "alice");

let report: any;

beforeAll(async () => {
  report = await runBrowserRunner(RUNNER, RUN_TIMEOUT_MS);
}, RUN_TIMEOUT_MS + 20_000);

const inbound = (snap: any, kind: string) => snap.sfu.inbound.filter((i: any) => i.kind === kind);

describe("two Chromium pages in an SFU-mode call through a media-relaying fake SFU", () => {
  it("are served in SFU mode and use it (no peer-to-peer fallback notice)", () => {
    expect(report.pageMode).toEqual({ alice: "sfu", bob: "sfu" });
    for (const side of SIDES) {
      expect(report.media.second[side].notice).toBeNull();
      expect(report.media.second[side].mediaMode).toBe("sfu");
    }
  });

  it("receive each other's audio (packets rising, energy) and video through the SFU", () => {
    for (const side of SIDES) {
      const peer = report.ids[other(side)];
      const [firstAudio] = inbound(report.media.first[side], "audio");
      const [audio] = inbound(report.media.second[side], "audio");
      const [video] = inbound(report.media.second[side], "video");
      expect(report.media.second[side].sfu.connectionState).toBe("connected");
      expect(audio).toMatchObject({ peer, trackName: `${peer}-audio` });
      expect(firstAudio.packetsReceived).toBeGreaterThan(0);
      expect(audio.packetsReceived).toBeGreaterThan(firstAudio.packetsReceived);
      expect(audio.totalAudioEnergy).toBeGreaterThan(0);
      expect(video).toMatchObject({ peer, trackName: `${peer}-video` });
      expect(video.framesDecoded).toBeGreaterThan(0);
      expect(report.media.second[side].tiles).toEqual([{ peer, audio: true, audioPlaying: true, video: true }]);
    }
  });

  it("pull tracks found in the roster (Bob joined after Alice published) and announced by track_published (Alice)", () => {
    expect(report.media.second.bob.sfu.pulled.map((p: any) => p.via)).toEqual(["roster", "roster"]);
    expect(report.media.second.alice.sfu.pulled.map((p: any) => p.via)).toEqual(["track_published", "track_published"]);
  });

  it("each hold exactly one RTCPeerConnection, to the SFU relay over 127.0.0.1, not to each other", () => {
    const relay = report.relay.stats;
    for (const side of SIDES) {
      const snap = report.media.second[side];
      expect(snap.pcsCreated).toEqual([{ connectionState: "connected" }]);
      expect(Object.keys(snap.stats)).toEqual(["sfu"]);
      const pair = snap.sfu.pair;
      expect(pair).toMatchObject({ local: "127.0.0.1", remote: "127.0.0.1" });
      // A working pair shows "in-progress" while its periodic consent check is outstanding (the
      // media assertions prove it carries packets), so either state is fine; "failed" is not.
      expect(["succeeded", "in-progress"]).toContain(pair.state);
      // The far end of the page's pair is the relay's connection for this page's SFU session ...
      const mine = relay[snap.sfu.sessionId];
      expect(mine.connectionState).toBe("connected");
      expect(mine.pair).toMatchObject({ local: "127.0.0.1", localPort: pair.remotePort, remote: "127.0.0.1", remotePort: pair.localPort });
      // ... and not the other page.
      expect(pair.remotePort).not.toBe(report.media.second[other(side)].sfu.pair.localPort);
    }
  });

  it("relays: the fake SFU's connection of each session receives the page's media and sends it the other page's", () => {
    const relay = report.relay.stats;
    for (const side of SIDES) {
      const r = relay[report.media.second[side].sfu.sessionId];
      expect(r.inbound.map((i: any) => i.kind).sort()).toEqual(["audio", "video"]);
      expect(r.outbound.map((o: any) => o.kind).sort()).toEqual(["audio", "video"]);
      for (const i of r.inbound) expect(i.packetsReceived).toBeGreaterThan(0);
      for (const o of r.outbound) expect(o.packetsSent).toBeGreaterThan(0);
    }
  });

  it("go through the Worker's proxy: the call records each participant's SFU session and published tracks", () => {
    const participants = Object.fromEntries(report.apiView.participants.map((p: any) => [p.participant_id, p]));
    for (const side of SIDES) {
      const id = report.ids[side];
      const snap = report.media.second[side];
      const sessionId = snap.sfu.sessionId;
      expect(participants[id].sfu_session_id).toBe(sessionId);
      expect(participants[id].media_streams).toEqual([
        { stream_id: `${id}-audio`, media_type: "audio", enabled: true, codec: null, track_name: `${id}-audio` },
        { stream_id: `${id}-video`, media_type: "video", enabled: true, codec: null, track_name: `${id}-video` },
      ]);
      // The fake SFU's view of the session matches: two published tracks, two pulled from the other session.
      const otherId = report.ids[other(side)];
      const otherSession = report.media.second[other(side)].sfu.sessionId;
      expect(report.relay.sessions[sessionId].tracks).toEqual([
        { location: "local", mid: "0", trackName: `${id}-audio` },
        { location: "local", mid: "1", trackName: `${id}-video` },
        { location: "remote", mid: "2", trackName: `${otherId}-audio`, sessionId: otherSession },
        { location: "remote", mid: "3", trackName: `${otherId}-video`, sessionId: otherSession },
      ]);
    }
  });

  it("speak the SFU API as documented: no contract violations, every pull answered by PUT renegotiate", () => {
    expect(report.violations).toEqual([]);
    const requests: any[] = report.sfuRequests;
    expect(requests.every((r) => r.status < 400)).toBe(true);
    expect(requests.filter((r) => r.path === "/sessions/new")).toHaveLength(2);
    for (const side of SIDES) {
      const sessionId = report.media.second[side].sfu.sessionId;
      const mine = requests
        .filter((r) => r.path.startsWith(`/sessions/${sessionId}/`))
        .map((r) => `${r.method} ${r.path.slice(`/sessions/${sessionId}`.length)} ${r.summary}`);
      const id = report.ids[side];
      const otherId = report.ids[other(side)];
      expect(mine.slice(0, 5)).toEqual([
        `POST /tracks/new sdp:offer local:${id}-audio local:${id}-video`,
        `POST /tracks/new remote:${otherId}-audio`,
        "PUT /renegotiate sdp:answer",
        `POST /tracks/new remote:${otherId}-video`,
        "PUT /renegotiate sdp:answer",
      ]);
    }
  });

  it("close tracks on leave: the leaver's mids with force, the other page's pulls by renegotiating", () => {
    const { alice, bob, apiView, sessions } = report.afterLeave;
    const aliceSession = report.media.second.alice.sfu.sessionId;
    const bobSession = report.media.second.bob.sfu.sessionId;
    expect(alice.phase).toBe("left");
    expect(alice.pcsCreated).toEqual([{ connectionState: "closed" }]);
    const closes = report.sfuRequests.filter((r: any) => r.path.endsWith("/tracks/close"));
    expect(closes).toContainEqual({
      method: "PUT",
      path: `/sessions/${aliceSession}/tracks/close`,
      status: 200,
      summary: "mid:0 mid:1 mid:2 mid:3 force:true",
    });
    const bobCloses = closes.filter((r: any) => r.path === `/sessions/${bobSession}/tracks/close`).map((r: any) => r.summary);
    expect(bobCloses.sort()).toEqual(["sdp:offer mid:2 force:false", "sdp:offer mid:3 force:false"]);
    expect(sessions[aliceSession].tracks).toEqual([]);
    expect(sessions[bobSession].tracks.map((t: any) => t.location)).toEqual(["local", "local"]);
    expect(bob.sfu.pulled).toEqual([]);
    expect(bob.sfu.connectionState).toBe("connected");
    expect(bob.tiles).toEqual([]);
    const byId = Object.fromEntries(apiView.participants.map((p: any) => [p.participant_id, p]));
    expect(byId[report.ids.alice].left_at).not.toBeNull();
    expect(byId[report.ids.alice].media_streams).toEqual([]);
    expect(byId[report.ids.bob].media_streams).toHaveLength(2);
  });

  it("show no errors on either page", () => {
    for (const side of SIDES) expect(report.afterLeave[side].errors).toEqual([]);
    expect(report.pageErrors).toEqual([]);
  });
});
