/**
 * The routes the page reads with its join token (`?token=`): the ICE servers, which is also
 * where a refused token shows up first (its problem's `detail` is shown as is), and the transcript.
 * The SFU proxy's calls live with the SFU transport (sfu-transport.ts).
 */
import { callId, event, session } from "./call-state";
import type { IceServersAnswer, Problem } from "./protocol";

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/.test(location.hostname);
const STUN_FALLBACK: RTCIceServer[] = [{ urls: ["stun:stun.cloudflare.com:3478"] }];

/** `GET /api/v2/calls/{call_id}/{what}?token=…`, never from a cache. */
export function getWithToken(what: "ice-servers" | "transcript"): Promise<Response> {
  return fetch(`/api/v2/calls/${callId}/${what}?token=${encodeURIComponent(session.token)}`, { cache: "no-store" });
}

/**
 * The ICE servers for this call; throws the server's reason when it refuses the token. On a
 * loopback origin STUN is dropped: host candidates are all two local tabs need (TURN is kept).
 * A server that cannot answer leaves us with a public STUN server.
 */
export async function fetchIceServers(): Promise<RTCIceServer[]> {
  let res: Response;
  try {
    res = await getWithToken("ice-servers");
  } catch (err) {
    event("ice_servers_unreachable", String(err));
    return LOOPBACK ? [] : STUN_FALLBACK;
  }
  if (res.status >= 400 && res.status < 500) {
    const problem = (await res.json().catch(() => ({}))) as Problem;
    throw new Error(problem.detail || `The server refused the join token (HTTP ${res.status}).`);
  }
  if (!res.ok) return LOOPBACK ? [] : STUN_FALLBACK;
  const body = (await res.json()) as IceServersAnswer;
  // Two tabs on this machine need no STUN; TURN credentials are kept.
  return LOOPBACK && body.source === "stun" ? [] : body.ice_servers;
}
