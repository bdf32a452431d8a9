/**
 * CallSessionDO: one per WebRTC call (roster, signalling WebSockets, transcript). Declared now so
 * the binding and its SQLite storage class exist from the first deploy; its behaviour arrives
 * with the calls feature (SPEC §6).
 */
import { DurableObject } from "cloudflare:workers";

export class CallSessionDO extends DurableObject<Env> {}
