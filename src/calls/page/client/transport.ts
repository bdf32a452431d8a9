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
import { createSfuTransport } from "./sfu-transport";
import type { Transport } from "./media-types";

export function createTransport(mode: string | undefined, iceServers: RTCIceServer[]): Transport {
  return mode === "sfu" ? createSfuTransport(iceServers) : createP2pMesh(iceServers);
}
