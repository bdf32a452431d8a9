// Development JWTs: HS256 tokens signed with the server's JWT_SECRET, carrying a role and
// optionally the agents the token is limited to. One definition for `npm run token`, the
// benchmark and the tests (Node side and inside workerd).
// Plain JavaScript with JSDoc types: node scripts import it as it is and TypeScript checks it.
import { SignJWT } from "jose";

/** @typedef {"guest" | "user" | "developer" | "admin" | "super_admin"} Role */

/** @type {readonly Role[]} */
export const ROLES = ["guest", "user", "developer", "admin", "super_admin"];

/**
 * @param {string} secret the server's JWT_SECRET
 * @param {{ sub: string, role: Role, agents?: string[] }} claims
 * @param {{ ttl?: string | number, alg?: string }} [options]
 *   `ttl`: a jose time span ("15m", "12h") or an absolute expiry in seconds since the epoch;
 *   `alg`: another header algorithm, for tests of tokens the server must refuse.
 * @returns {Promise<string>}
 */
export function mintDevToken(secret, { sub, role, agents }, { ttl = "15m", alg = "HS256" } = {}) {
  return new SignJWT({ role, ...(agents ? { agents } : {}) })
    .setProtectedHeader({ alg })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(ttl)
    .sign(new TextEncoder().encode(secret));
}
