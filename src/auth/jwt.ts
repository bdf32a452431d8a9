/**
 * JWT verification with jose. Each algorithm family has exactly one key source: HS256 only with
 * `JWT_SECRET`, ES256/RS256 only with the JWKS at `JWT_JWKS_URL`. That closes algorithm
 * confusion (an RS256 public key used as an HMAC secret) and `alg: none` (never accepted).
 *
 * The audience rule: a token whose `aud` names one of the server's purpose audiences
 * (`approval-link`, `call-join`: src/auth/purpose-tokens.ts) is always refused, whatever the
 * configuration. With `JWT_AUDIENCE` set, `aud` is required and must contain it; without it, `aud`
 * is not checked. `JWT_ISSUER`, when set, is required and must match.
 */
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTVerifyGetKey } from "jose";
import { z } from "zod";
import type { Config } from "../lib/config";
import { Role, type Principal } from "./principal";
import { namesPurposeAudience } from "./purpose-tokens";

const ASYMMETRIC = ["ES256", "RS256"];

const Claims = z.object({
  sub: z.string().min(1).max(256),
  role: Role.default("guest"),
  agents: z.array(z.string().min(1).max(128)).max(1000).optional(),
  exp: z.number(),
});

const jwksByUrl = new Map<string, JWTVerifyGetKey>();

/** Why a token was refused; logged, never shown to the client. */
export class JwtRefused extends Error {}

/**
 * The JWKS could not be fetched or read (network, timeout, non-200, malformed set). That is our
 * dependency being down, not the client's token being bad: answered 503, not 401.
 */
export class JwksUnavailable extends Error {}

function remoteJwks(url: string): JWTVerifyGetKey {
  let jwks = jwksByUrl.get(url);
  if (!jwks) {
    const remote = createRemoteJWKSet(new URL(url), { cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 });
    jwks = async function jwksKey(header, token) {
      try {
        return await remote(header, token);
      } catch (err) {
        // No/ambiguous key for the token's kid, or an alg the set cannot serve: the token's fault.
        // (jwtVerify itself iterates the candidates of JWKSMultipleMatchingKeys, so pass it on as is.)
        if (
          err instanceof errors.JWKSNoMatchingKey ||
          err instanceof errors.JWKSMultipleMatchingKeys ||
          err instanceof errors.JOSENotSupported
        ) {
          throw err;
        }
        throw new JwksUnavailable(`JWT_JWKS_URL could not be used: ${(err as Error).message}`, { cause: err });
      }
    };
    jwksByUrl.set(url, jwks);
  }
  return jwks;
}

export async function verifyJwt(token: string, config: Config, nowMs: number): Promise<Principal & { exp: number }> {
  let alg: string | undefined;
  let aud: unknown;
  try {
    alg = decodeProtectedHeader(token).alg;
    aud = decodeJwt(token).aud;
  } catch {
    throw new JwtRefused("not a JWT");
  }
  // Before any key is used: a purpose token is refused as such, whoever signed it.
  if (namesPurposeAudience(aud)) throw new JwtRefused(`a purpose token (aud ${JSON.stringify(aud)}) is not an API credential`);
  const options = {
    requiredClaims: config.jwtAudience ? ["exp", "sub", "aud"] : ["exp", "sub"],
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    currentDate: new Date(nowMs),
  };
  let payload: unknown;
  try {
    if (alg === "HS256" && config.jwtSecret) {
      ({ payload } = await jwtVerify(token, new TextEncoder().encode(config.jwtSecret), { ...options, algorithms: ["HS256"] }));
    } else if (alg && ASYMMETRIC.includes(alg) && config.jwtJwksUrl) {
      ({ payload } = await jwtVerify(token, remoteJwks(config.jwtJwksUrl), { ...options, algorithms: ASYMMETRIC }));
    } else {
      throw new JwtRefused(`algorithm ${alg ?? "(none)"} is not accepted by this configuration`);
    }
  } catch (err) {
    if (err instanceof JwtRefused || err instanceof JwksUnavailable) throw err;
    throw new JwtRefused((err as Error).message);
  }
  const claims = Claims.safeParse(payload);
  if (!claims.success) throw new JwtRefused(`claims: ${claims.error.issues[0]?.message}`);
  const { sub, role, agents, exp } = claims.data;
  return { id: sub, role, agents, via: "jwt", exp };
}
