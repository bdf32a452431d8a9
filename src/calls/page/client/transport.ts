/**
 * How media travels, behind one small interface; the page's `data-media` (set by the server)
 * picks one:
 * - `p2p` (p2p-mesh.ts): one RTCPeerConnection per remote participant, negotiated over the
 *   call's socket.
 * - `sfu` (sfu-transport.ts): one RTCPeerConnection to the Cloudflare Realtime SFU, negotiated
 *   through the Worker's proxy.
 * Mute and camera toggle the shared local tracks, so neither transport needs to know about them.
 */
import { createP2pMesh } from "./p2p-mesh";
import type { SignalFrame } from "./protocol";
import { createSfuTransport } from "./sfu-transport";

/** What `stats()` reports: by remote participant id (p2p), or `{ sfu: … }`. */
export type TransportStats = Record<string, object>;

export interface Transport {
  readonly kind: "p2p" | "sfu";
  /** A participant in the call (from the roster, or one who joined): exchange media with it. */
  addPeer(id: string): void;
  /** A participant left: stop exchanging media with it and drop its tile. */
  removePeer(id: string): void;
  /** A frame for the transport (offer/answer/ice, or the SFU's track announcements). */
  signal(frame: SignalFrame): Promise<void> | void;
  stats(): Promise<TransportStats>;
  /** Cleans up on the server's side before the `leave` frame (the SFU's tracks). */
  leave(): Promise<void>;
  /** Closes every connection and drops every remote tile. */
  close(): void;
}

export function createTransport(mode: string | undefined, iceServers: RTCIceServer[]): Transport {
  return mode === "sfu" ? createSfuTransport(iceServers) : createP2pMesh(iceServers);
}
