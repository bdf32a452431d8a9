/** The numbers both transports report from `getStats()`: the selected candidate pair and the inbound streams. */

/** The fields read from a stats report's entries (each entry has only those of its type). */
interface StatsEntry {
  id: string;
  type: string;
  mid?: string;
  kind?: string;
  packetsReceived?: number;
  bytesReceived?: number;
  totalAudioEnergy?: number;
  framesDecoded?: number;
  selectedCandidatePairId?: string;
  state?: string;
  localCandidateId?: string;
  remoteCandidateId?: string;
  address?: string;
  ip?: string;
  port?: number;
  candidateType?: string;
}

export interface InboundStream {
  mid: string | null;
  kind: string | undefined;
  packetsReceived: number | undefined;
  bytesReceived: number | undefined;
  totalAudioEnergy: number;
  framesDecoded: number;
  /** SFU mode: whose track this is. */
  peer?: string | null;
  trackName?: string | null;
}

export interface ConnectionStats {
  audio: { packetsReceived: number | undefined; bytesReceived: number | undefined; totalAudioEnergy: number } | null;
  video: { packetsReceived: number | undefined; framesDecoded: number } | null;
  pair: {
    state: string | undefined;
    local: string | undefined;
    remote: string | undefined;
    localPort: number | undefined;
    remotePort: number | undefined;
    localType: string | undefined;
    remoteType: string | undefined;
  } | null;
  inbound: InboundStream[];
}

export function readStats(report: RTCStatsReport): ConnectionStats {
  const byId = new Map<string, StatsEntry>();
  report.forEach((r: StatsEntry) => byId.set(r.id, r));
  const out: ConnectionStats = { audio: null, video: null, pair: null, inbound: [] };
  byId.forEach((r) => {
    if (r.type === "inbound-rtp") {
      const s: InboundStream = {
        mid: r.mid === undefined ? null : r.mid,
        kind: r.kind,
        packetsReceived: r.packetsReceived,
        bytesReceived: r.bytesReceived,
        totalAudioEnergy: r.totalAudioEnergy || 0,
        framesDecoded: r.framesDecoded || 0,
      };
      out.inbound.push(s);
      if (r.kind === "audio" && !out.audio)
        out.audio = { packetsReceived: r.packetsReceived, bytesReceived: r.bytesReceived, totalAudioEnergy: r.totalAudioEnergy || 0 };
      if (r.kind === "video" && !out.video) out.video = { packetsReceived: r.packetsReceived, framesDecoded: r.framesDecoded || 0 };
    }
    if (r.type === "transport" && r.selectedCandidatePairId) {
      const pair = byId.get(r.selectedCandidatePairId);
      const local = pair?.localCandidateId === undefined ? undefined : byId.get(pair.localCandidateId);
      const remote = pair?.remoteCandidateId === undefined ? undefined : byId.get(pair.remoteCandidateId);
      if (pair) {
        out.pair = {
          state: pair.state,
          local: local && (local.address || local.ip),
          remote: remote && (remote.address || remote.ip),
          localPort: local && local.port,
          remotePort: remote && remote.port,
          localType: local && local.candidateType,
          remoteType: remote && remote.candidateType,
        };
      }
    }
  });
  return out;
}
