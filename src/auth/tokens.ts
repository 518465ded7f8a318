/**
 * Signing and verifying bearer tokens (JWT). Verification pins algorithms,
 * requires exp and sub, checks issuer and audience with a bounded clock skew,
 * validates the tenant claim, and can trust one external issuer through its
 * JWKS. No hono here: the HTTP layer maps AuthError to 401.
 */
import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, errors as joseErrors, jwtVerify, SignJWT, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { TENANT_PATTERN } from "../storage/tenant-db.js";
import type { SigningKey } from "./keys.js";
import { ACCESS_LEVELS, type Access, type Principal } from "./principal.js";

/** Asymmetric algorithms accepted from an external issuer; HS* and none never are. */
const EXTERNAL_ALGS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];

export class AuthError extends Error {
  override name = "AuthError";
  constructor(
    readonly code: "AUTH_REQUIRED" | "AUTH_INVALID",
    message: string,
  ) {
    super(message);
  }
}

export interface TokenRequest {
  tenant: string;
  sub: string;
  access: Access;
  ttlS: number;
}

export interface TokenSettings {
  issuer: string;
  audience: string;
}

/** Signs a token with the service's own key. */
export async function signToken(key: SigningKey, settings: TokenSettings, req: TokenRequest): Promise<string> {
  if (!TENANT_PATTERN.test(req.tenant)) throw new Error(`tenant must match ${TENANT_PATTERN}`);
  return new SignJWT({ tenant: req.tenant, access: req.access })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT" })
    .setSubject(req.sub)
    .setIssuer(settings.issuer)
    .setAudience(settings.audience)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + req.ttlS)
    .sign(key.privateKey);
}

export interface VerifierOptions extends TokenSettings {
  key: SigningKey;
  clockSkewS: number;
  external: { jwksUrl: string; issuer: string; audience: string } | null;
  /** Verified tokens are cached until they expire; this bounds the cache. */
  cacheSize?: number;
  now?: () => number;
}

export type TokenVerifier = (token: string) => Promise<Principal>;

function principalFrom(payload: JWTPayload): Principal {
  const tenant = payload["tenant"];
  if (typeof tenant !== "string" || !TENANT_PATTERN.test(tenant)) throw new AuthError("AUTH_INVALID", "token has no valid tenant claim");
  if (typeof payload.sub !== "string" || payload.sub.length === 0 || payload.sub.length > 255) {
    throw new AuthError("AUTH_INVALID", "token has no valid sub claim");
  }
  const rawAccess = payload["access"] ?? "full";
  if (typeof rawAccess !== "string" || !(ACCESS_LEVELS as readonly string[]).includes(rawAccess)) {
    throw new AuthError("AUTH_INVALID", "token has an unknown access level");
  }
  return { tenant, sub: payload.sub, access: rawAccess as Access, exp: payload.exp as number };
}

/**
 * Builds the verifier. Results are cached per token string until exp (minus
 * nothing: skew only ever extends validity), so the hot path is one Map hit.
 */
export function createVerifier(opts: VerifierOptions): TokenVerifier {
  const localKeys = createLocalJWKSet({ keys: [opts.key.publicJwk] });
  const remote: JWTVerifyGetKey | null = opts.external ? createRemoteJWKSet(new URL(opts.external.jwksUrl)) : null;
  const cacheSize = opts.cacheSize ?? 10_000;
  const now = opts.now ?? Date.now;
  const cache = new Map<string, Principal>();

  async function verifyUncached(token: string): Promise<Principal> {
    let claimedIssuer: unknown;
    try {
      claimedIssuer = decodeJwt(token).iss;
    } catch {
      throw new AuthError("AUTH_INVALID", "token is malformed");
    }
    const external = opts.external && remote && claimedIssuer === opts.external.issuer;
    try {
      const { payload } = external
        ? await jwtVerify(token, remote, {
            algorithms: EXTERNAL_ALGS,
            issuer: opts.external!.issuer,
            audience: opts.external!.audience,
            clockTolerance: opts.clockSkewS,
            requiredClaims: ["exp", "sub"],
            currentDate: new Date(now()),
          })
        : await jwtVerify(token, localKeys, {
            algorithms: [opts.key.alg],
            issuer: opts.issuer,
            audience: opts.audience,
            clockTolerance: opts.clockSkewS,
            requiredClaims: ["exp", "sub"],
            currentDate: new Date(now()),
          });
      return principalFrom(payload);
    } catch (err) {
      if (err instanceof AuthError) throw err;
      if (err instanceof joseErrors.JWTExpired) throw new AuthError("AUTH_INVALID", "token has expired");
      if (err instanceof joseErrors.JWTClaimValidationFailed) throw new AuthError("AUTH_INVALID", `token claim "${err.claim}" is invalid`);
      if (err instanceof joseErrors.JOSEError) throw new AuthError("AUTH_INVALID", "token signature or algorithm is not accepted");
      throw err;
    }
  }

  return async (token: string) => {
    const hit = cache.get(token);
    if (hit) {
      if ((hit.exp + opts.clockSkewS) * 1000 > now()) return hit;
      cache.delete(token);
    }
    const principal = await verifyUncached(token);
    if (cache.size >= cacheSize) cache.delete(cache.keys().next().value as string);
    cache.set(token, principal);
    return principal;
  };
}
