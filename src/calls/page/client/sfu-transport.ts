/**
 * SFU mode: one RTCPeerConnection to the Cloudflare Realtime SFU, negotiated through the Worker's
 * proxy (`/api/v2/calls/{id}/sfu/sessions…`, `Authorization: Bearer <join token>`).
 *
 * sessions/new, then the local tracks are pushed (sendonly transceivers, offer → tracks/new with
 * `{location:"local", mid, trackName}` → answer). Every other participant's published track (the
 * roster's `sfu_session_id` + `media_streams`, later `track_published` frames) is pulled
 * (`{location:"remote", sessionId, trackName}`); the SFU then sends an offer
 * (`requiresImmediateRenegotiation`) that is answered with PUT …/renegotiate. `track_closed` and
 * `left` close the pulled mids (transceivers stopped, offer → tracks/close `force:false` →
 * answer); leaving closes every own mid (`force:true`) before the `leave` frame.
 *
 * Every negotiation (push, pull, renegotiate, close) runs on one promise chain: the SFU session
 * has one offer/answer state machine, and a renegotiation must finish before the next change.
 */
import { callId, event, fail, hooks, session, state } from "./call-state";
import { errorMessage, notice } from "./dom";
import { attachRemote, removeAllTiles, removeTile } from "./media-tiles";
import type { SignalFrame } from "./protocol";
import { readStats, type ConnectionStats } from "./rtc-stats";
import { sfuProxyClient, type SfuAnswer } from "./sfu-proxy-client";
import type { PublishedTrack, PulledTrack, SfuView, Transport } from "./media-types";

export type SfuStats = ConnectionStats & {
  sessionId: string | null;
  connectionState: RTCPeerConnectionState;
  iceConnectionState: RTCIceConnectionState;
  signalingState: RTCSignalingState;
  published: PublishedTrack[];
  pulled: Pick<PulledTrack, "peer" | "trackName" | "mid" | "state" | "via">[];
};

export function createSfuTransport(iceServers: RTCIceServer[]): Transport {
  const pc = new RTCPeerConnection({ iceServers, bundlePolicy: "max-bundle" });
  const sfu: SfuView = { sessionId: null, published: [], pulled: new Map(), closed: false, negotiations: [] };
  const byMid = new Map<string, PulledTrack>();
  let chain: Promise<void> = Promise.resolve();
  const api = sfuProxyClient(callId, sfu.negotiations);
  hooks.pcs.set("sfu", pc);
  hooks.sfu = sfu;

  pc.onconnectionstatechange = () => {
    event("pc_state", { peer: "sfu", state: pc.connectionState });
    if (pc.connectionState === "failed" && !sfu.closed) notice("The media connection to the SFU failed; press Leave and join again.");
  };
  pc.ontrack = (ev) => {
    const entry = ev.transceiver.mid === null ? undefined : byMid.get(ev.transceiver.mid);
    if (!entry) return event("sfu_unknown_track", ev.transceiver.mid);
    attachRemote(entry.peer, ev.track, null);
  };

  /** Runs job after every earlier negotiation; a failure is shown, and the chain goes on. */
  function queue(what: string, job: () => Promise<void>): Promise<void> {
    const run = chain.then(() => (sfu.closed ? undefined : job()));
    chain = run.catch((err: unknown) => {
      if (!sfu.closed) fail(new Error(`SFU ${what}: ${errorMessage(err)}`));
    });
    return run;
  }

  function sessionPath(rest: string): string {
    return `/${encodeURIComponent(sfu.sessionId ?? "")}${rest}`;
  }

  /** The local description just made, as the proxy's `sessionDescription`. */
  function localOffer(): { type: "offer"; sdp: string } {
    const d = pc.localDescription;
    if (!d || d.type !== "offer") throw new Error(`Expected a local offer, have ${d ? d.type : "none"}.`);
    return { type: "offer", sdp: d.sdp };
  }

  /** The SFU's description: an answer to apply, or an offer to answer (PUT …/renegotiate). */
  async function applySfuDescription(resp: SfuAnswer | null): Promise<void> {
    const sd = resp?.sessionDescription;
    if (!sd) return;
    if (resp.requiresImmediateRenegotiation || sd.type === "offer") {
      await pc.setRemoteDescription(sd);
      await pc.setLocalDescription(await pc.createAnswer());
      await api("PUT", sessionPath("/renegotiate"), { sessionDescription: { type: "answer", sdp: pc.localDescription?.sdp } });
    } else {
      await pc.setRemoteDescription(sd);
    }
  }

  function stillHere(id: string): boolean {
    const p = state.participants.get(id);
    return !!p && !p.left_at;
  }

  /** sessions/new, then push the microphone and camera (if any) as sendonly transceivers. */
  void queue("session", async () => {
    const created = await api("POST", "", {});
    if (!created?.sessionId) throw new Error("The SFU proxy answered without a sessionId.");
    sfu.sessionId = created.sessionId;
    event("sfu_session", sfu.sessionId);
    const stream = session.localStream;
    const tracks = stream ? stream.getTracks() : [];
    if (!stream || tracks.length === 0) return;
    const added = tracks.map((t) => ({ track: t, transceiver: pc.addTransceiver(t, { direction: "sendonly", streams: [stream] }) }));
    await pc.setLocalDescription(await pc.createOffer());
    const wanted = added.map((a) => ({
      location: "local",
      mid: a.transceiver.mid,
      trackName: `${state.me}-${a.track.kind}`,
      media_type: a.track.kind,
    }));
    const resp = await api("POST", sessionPath("/tracks"), { sessionDescription: localOffer(), tracks: wanted });
    await applySfuDescription(resp);
    for (const w of wanted) {
      const r = (resp?.tracks ?? []).find((t) => t.mid === w.mid);
      if (r && r.errorCode) fail(new Error(`The SFU refused your ${w.media_type}: ${r.errorDescription || r.errorCode}`));
      else if (w.mid !== null) sfu.published.push({ mid: w.mid, trackName: w.trackName, kind: w.media_type });
    }
    event(
      "sfu_published",
      sfu.published.map((p) => p.trackName),
    );
  });

  function pull(peer: string, sessionId: string | null, trackName: string | null, kind: string, via: PulledTrack["via"]): void {
    if (!sessionId || !trackName || peer === state.me) return;
    const key = `${sessionId}|${trackName}`;
    if (sfu.pulled.has(key)) return;
    const entry: PulledTrack = { peer, sessionId, trackName, kind, via, mid: null, state: "pending" };
    sfu.pulled.set(key, entry);
    void queue("pull", async () => {
      if (entry.state !== "pending") return; // closed before its turn
      let resp: SfuAnswer | null;
      try {
        resp = await api("POST", sessionPath("/tracks"), { tracks: [{ location: "remote", sessionId, trackName }] });
      } catch (err) {
        sfu.pulled.delete(key);
        // The publisher left (or replaced its session) meanwhile: nothing to pull any more.
        // (`entry.state` may have changed while the request was in flight.)
        if (!stillHere(peer) || (entry.state as PulledTrack["state"]) === "closed") {
          return event("sfu_pull_skipped", { peer, trackName, error: String((err as Error).message) });
        }
        throw err;
      }
      const r = (resp?.tracks ?? []).find((t) => t.sessionId === sessionId && t.trackName === trackName);
      if (r && r.mid && !r.errorCode) {
        entry.mid = r.mid;
        byMid.set(r.mid, entry);
        if (entry.state === "pending") entry.state = "open";
        else entry.state = "open-closing"; // closed while in flight: the queued close handles it
      } else {
        sfu.pulled.delete(key);
        if (stillHere(peer) && (entry.state as PulledTrack["state"]) !== "closed") {
          fail(new Error(`The SFU refused ${trackName}: ${(r && (r.errorDescription || r.errorCode)) || "no such track"}`));
        }
      }
      await applySfuDescription(resp);
      event("sfu_pulled", { peer, trackName, mid: entry.mid });
    });
  }

  /** Stops pulling the matching tracks: transceivers stopped, offer → tracks/close → answer. */
  function closePulled(match: (e: PulledTrack) => boolean): Promise<void> {
    const entries = Array.from(sfu.pulled.entries()).filter(([, e]) => match(e));
    if (entries.length === 0) return Promise.resolve();
    for (const [key, e] of entries) {
      sfu.pulled.delete(key);
      if (e.state === "pending") e.state = "closed";
    }
    return queue("close", async () => {
      const open = entries.map(([, e]) => e).filter((e) => e.state === "open" || e.state === "open-closing");
      open.forEach((e) => (e.state = "closed"));
      entries.forEach(([, e]) => dropTile(e.peer));
      if (open.length === 0) return;
      for (const e of open) {
        const t = pc.getTransceivers().find((x) => x.mid === e.mid);
        // stop() on a stopped transceiver does nothing, so the direction check only saves a call.
        if (t && t.currentDirection !== "stopped") t.stop();
        if (e.mid !== null) byMid.delete(e.mid);
      }
      await pc.setLocalDescription(await pc.createOffer());
      const resp = await api("PUT", sessionPath("/tracks/close"), {
        tracks: open.map((e) => ({ mid: e.mid })),
        force: false,
        sessionDescription: localOffer(),
      });
      await applySfuDescription(resp);
      event(
        "sfu_closed",
        open.map((e) => e.trackName),
      );
    });
  }

  /** The peer's tile goes once none of its tracks is pulled any more. */
  function dropTile(peer: string): void {
    const still = Array.from(sfu.pulled.values()).some((e) => e.peer === peer);
    if (!still) removeTile(peer);
  }

  /** A participant present when we joined (or joining later): pull what it already publishes. */
  function addPeer(id: string): void {
    const p = state.participants.get(id);
    if (!p || !p.sfu_session_id) return;
    for (const s of p.media_streams || []) pull(id, p.sfu_session_id, s.track_name || s.stream_id, s.media_type, "roster");
  }

  function removePeer(id: string): void {
    void closePulled((e) => e.peer === id);
  }

  function signal(msg: SignalFrame): Promise<void> | void {
    if (msg.type === "track_published") {
      return pull(
        msg.participant_id,
        msg.sfu_session_id,
        msg.stream.track_name || msg.stream.stream_id,
        msg.stream.media_type,
        "track_published",
      );
    }
    if (msg.type === "track_closed") return closePulled((e) => e.sessionId === msg.sfu_session_id && e.trackName === msg.stream_id);
    event("p2p_frame_in_sfu_mode", msg.type);
  }

  async function stats(): Promise<{ sfu?: SfuStats }> {
    if (sfu.closed) return {};
    const s = readStats(await pc.getStats());
    for (const i of s.inbound) {
      const e = i.mid === null ? null : byMid.get(i.mid);
      i.peer = e ? e.peer : null;
      i.trackName = e ? e.trackName : null;
    }
    return {
      sfu: Object.assign(s, {
        sessionId: sfu.sessionId,
        connectionState: pc.connectionState,
        iceConnectionState: pc.iceConnectionState,
        signalingState: pc.signalingState,
        published: sfu.published.slice(),
        pulled: Array.from(sfu.pulled.values()).map((e) => ({
          peer: e.peer,
          trackName: e.trackName,
          mid: e.mid,
          state: e.state,
          via: e.via,
        })),
      }),
    };
  }

  /** Before the leave frame: close every mid of ours at once (no SDP: the connection goes next). */
  function leave(): Promise<void> {
    return queue("leave", async () => {
      const pulledMids = Array.from(sfu.pulled.values()).flatMap((e) => (e.mid ? [e.mid] : []));
      const mids = sfu.published.map((p) => p.mid).concat(pulledMids);
      if (!sfu.sessionId || mids.length === 0) return;
      await api("PUT", sessionPath("/tracks/close"), { tracks: mids.map((mid) => ({ mid })), force: true });
      sfu.published = [];
      sfu.pulled.clear();
      event("sfu_left", mids.length);
    });
  }

  function close(): void {
    if (sfu.closed) return;
    sfu.closed = true;
    pc.close();
    if (hooks.pcs.get("sfu") === pc) hooks.pcs.delete("sfu");
    removeAllTiles();
  }

  return { kind: "sfu", addPeer, removePeer, signal, stats, leave, close };
}
