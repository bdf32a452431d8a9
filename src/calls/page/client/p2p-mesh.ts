/**
 * Peer-to-peer mode: one RTCPeerConnection per remote participant, "perfect negotiation" over the
 * call's socket (offers, answers and ICE relayed by the call's Durable Object). The participant
 * with the larger id is polite; the impolite one makes the first offer.
 */
import { event, fail, hooks, send, session, state } from "./call-state";
import { attachRemote, removeTile } from "./media-tiles";
import type { SignalFrame } from "./protocol";
import { readStats, type ConnectionStats } from "./rtc-stats";
import type { Transport } from "./media-types";

interface IceCounts {
  sent: number;
  received: number;
  added: number;
  dropped: number;
}

interface Peer {
  pc: RTCPeerConnection;
  polite: boolean;
  makingOffer: boolean;
  ignoreOffer: boolean;
  /** Candidates that arrived before the remote description. */
  pendingIce: RTCIceCandidateInit[];
  ice: IceCounts;
  tracksAdded: boolean;
}

export type PeerStats = ConnectionStats & {
  connectionState: RTCPeerConnectionState;
  iceConnectionState: RTCIceConnectionState;
  signalingState: RTCSignalingState;
  iceGatheringState: RTCIceGatheringState;
  polite: boolean;
  ice: IceCounts;
};

/** The description just set locally, as an offer or answer frame's fields. */
function localDescription(pc: RTCPeerConnection): { type: "offer" | "answer"; sdp: string } {
  const d = pc.localDescription;
  if (!d || (d.type !== "offer" && d.type !== "answer")) throw new Error(`Expected a local offer or answer, have ${d ? d.type : "none"}.`);
  return { type: d.type, sdp: d.sdp };
}

export function createP2pMesh(iceServers: RTCIceServer[]): Transport {
  const peers = new Map<string, Peer>();

  function addPeer(id: string): Peer {
    removePeer(id);
    const pc = new RTCPeerConnection({ iceServers });
    const peer: Peer = {
      pc,
      polite: (state.me ?? "") > id,
      makingOffer: false,
      ignoreOffer: false,
      pendingIce: [],
      ice: { sent: 0, received: 0, added: 0, dropped: 0 },
      tracksAdded: false,
    };
    peers.set(id, peer);
    hooks.pcs.set(id, pc);
    pc.onicecandidate = (ev) => {
      if (ev.candidate) peer.ice.sent++;
      // toJSON() types `candidate` as optional, but an RTCIceCandidate always has one.
      send({ type: "ice", to: id, candidate: ev.candidate ? { ...ev.candidate.toJSON(), candidate: ev.candidate.candidate } : null });
    };
    pc.onicegatheringstatechange = () => event("ice_gathering", { peer: id, state: pc.iceGatheringState });
    pc.onnegotiationneeded = async () => {
      try {
        peer.makingOffer = true;
        await pc.setLocalDescription();
        const d = localDescription(pc);
        send({ type: d.type, to: id, sdp: d.sdp });
      } catch (err) {
        fail(err);
      } finally {
        peer.makingOffer = false;
      }
    };
    pc.ontrack = (ev) => attachRemote(id, ev.track, ev.streams[0]);
    pc.onconnectionstatechange = () => {
      event("pc_state", { peer: id, state: pc.connectionState });
      if (pc.connectionState === "failed") pc.restartIce();
    };
    // Only the impolite side makes the first offer; the polite one adds its tracks when it answers.
    // Both offering at once is handled (perfect negotiation), but after the rollback that glare
    // causes, Chromium sometimes never gathers candidates again (seen in about one call in four).
    if (!peer.polite) {
      addLocalTracks(peer);
      // Offer to receive both kinds even without a microphone or camera, so the other side can send.
      for (const kind of ["audio", "video"]) {
        if (!pc.getTransceivers().some((t) => t.receiver.track.kind === kind)) pc.addTransceiver(kind, { direction: "recvonly" });
      }
    }
    return peer;
  }

  function addLocalTracks(peer: Peer): void {
    const stream = session.localStream;
    if (peer.tracksAdded || !stream) return;
    peer.tracksAdded = true;
    // After an offer, addTrack reuses its transceivers, so the answer carries our media.
    stream.getTracks().forEach((t) => peer.pc.addTrack(t, stream));
  }

  function removePeer(id: string): void {
    const peer = peers.get(id);
    if (!peer) return;
    peer.pc.close();
    peers.delete(id);
    hooks.pcs.delete(id);
    removeTile(id);
  }

  async function signal(msg: SignalFrame): Promise<void> {
    if (msg.type !== "offer" && msg.type !== "answer" && msg.type !== "ice") return event("p2p_ignored_frame", msg.type);
    let peer = peers.get(msg.from);
    if (!peer) {
      if (msg.type !== "offer") return event("signal_for_unknown_peer", msg.type);
      peer = addPeer(msg.from);
    }
    const pc = peer.pc;
    if (msg.type === "ice") {
      if (!msg.candidate) return;
      peer.ice.received++;
      if (!pc.remoteDescription) {
        if (peer.ignoreOffer) peer.ice.dropped++;
        else peer.pendingIce.push(msg.candidate);
        return;
      }
      try {
        await pc.addIceCandidate(msg.candidate);
        peer.ice.added++;
      } catch (err) {
        peer.ice.dropped++;
        if (!peer.ignoreOffer) throw err;
      }
      return;
    }
    const collision = msg.type === "offer" && (peer.makingOffer || pc.signalingState !== "stable");
    peer.ignoreOffer = !peer.polite && collision;
    if (peer.ignoreOffer) return event("offer_ignored", msg.from);
    await pc.setRemoteDescription({ type: msg.type, sdp: msg.sdp });
    for (const c of peer.pendingIce.splice(0)) {
      const p = peer;
      await pc.addIceCandidate(c).then(
        () => void p.ice.added++,
        (err: unknown) => {
          p.ice.dropped++;
          event("late_candidate_refused", String(err));
        },
      );
    }
    if (msg.type === "offer") {
      addLocalTracks(peer);
      await pc.setLocalDescription();
      send({ type: "answer", to: msg.from, sdp: localDescription(pc).sdp });
    }
  }

  async function stats(): Promise<Record<string, PeerStats>> {
    const out: Record<string, PeerStats> = {};
    for (const [id, peer] of peers) {
      const pc = peer.pc;
      const connection = {
        connectionState: pc.connectionState,
        iceConnectionState: pc.iceConnectionState,
        signalingState: pc.signalingState,
        iceGatheringState: pc.iceGatheringState,
        polite: peer.polite,
        ice: peer.ice,
      };
      out[id] = Object.assign(readStats(await pc.getStats()), connection);
    }
    return out;
  }

  function close(): void {
    Array.from(peers.keys()).forEach(removePeer);
  }

  return { kind: "p2p", addPeer, removePeer, signal, stats, leave: () => Promise.resolve(), close };
}
