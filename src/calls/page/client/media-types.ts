/**
 * The types media code shares with the page's state, in a module of their own (types only), so
 * the state does not import the transports that import it.
 */
import type { SignalFrame } from "./protocol";

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

/** One request of the SFU proxy, recorded for the tests. */
export interface Negotiation {
  method: string;
  path: string;
  status: number;
}

/** A track this page published to the SFU. */
export interface PublishedTrack {
  mid: string;
  trackName: string;
  kind: string;
}

/** A track of another participant: `pending` until the SFU gave it a mid, `open-closing` when closed in flight. */
export interface PulledTrack {
  peer: string;
  sessionId: string;
  trackName: string;
  kind: string;
  via: "roster" | "track_published";
  mid: string | null;
  state: "pending" | "open" | "open-closing" | "closed";
}

/** `window.__call.sfu`: the session and every track and negotiation, for the tests. */
export interface SfuView {
  sessionId: string | null;
  published: PublishedTrack[];
  /** By "sessionId|trackName". */
  pulled: Map<string, PulledTrack>;
  closed: boolean;
  negotiations: Negotiation[];
}
