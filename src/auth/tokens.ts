/**
 * Signing and verifying bearer tokens (JWT). Verification pins algorithms,
 * requires exp and sub, caps how long a token may still live, checks issuer
 * and audience with a bounded clock skew, validates the tenant claim, and can
 * trust one external issuer through its JWKS. A token without an `access`
 * claim gets least privilege (`read`; the operator picks the external
 * issuer's default). The operator claim counts only from this server's own
 * key, or from the external issuer for exactly one configured subject. No
 * hono here: the HTTP layer maps AuthError to 401.
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
  /** Adds the operator claim (operator routes such as the global stop). */
  operator?: boolean;
}

/** How a caller on this machine gets a token; error messages quote it, so it must stay copy-paste correct. */
export const MINT_HINT = "`npm run -s token -- --tenant acme` (run in the repository, with DATA_DIR set as the server has it)";

export interface TokenSettings {
  issuer: string;
  audience: string;
}

/** Signs a token with the service's own key. */
export async function signToken(key: SigningKey, settings: TokenSettings, req: TokenRequest): Promise<string> {
  if (!TENANT_PATTERN.test(req.tenant)) throw new Error(`tenant must match ${TENANT_PATTERN}`);
  return new SignJWT(req.operator ? { tenant: req.tenant, access: req.access, operator: true } : { tenant: req.tenant, access: req.access })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT" })
    .setSubject(req.sub)
    .setIssuer(settings.issuer)
    .setAudience(settings.audience)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + req.ttlS)
    .sign(key.privateKey);
}

export interface ExternalIssuer {
  jwksUrl: string;
  issuer: string;
  audience: string;
  /** Access of its tokens that carry no `access` claim. */
  defaultAccess: Access;
  /** The one `sub` whose tokens may carry the operator claim; null: none. */
  operatorSubject: string | null;
}

export interface VerifierOptions extends TokenSettings {
  key: SigningKey;
  clockSkewS: number;
  /** A token whose exp is further than this from now is refused. */
  maxTokenTtlS: number;
  external: ExternalIssuer | null;
  /** Verified tokens are cached until they expire; this bounds the cache. */
  cacheSize?: number;
  now?: () => number;
}

export type TokenVerifier = (token: string) => Promise<Principal>;

function principalFrom(payload: JWTPayload, from: { defaultAccess: Access; operatorSubject: string | null; local: boolean }): Principal {
  const tenant = payload["tenant"];
  if (typeof tenant !== "string" || !TENANT_PATTERN.test(tenant)) throw new AuthError("AUTH_INVALID", "token has no valid tenant claim");
  if (typeof payload.sub !== "string" || payload.sub.length === 0 || payload.sub.length > 255) {
    throw new AuthError("AUTH_INVALID", "token has no valid sub claim");
  }
  const rawAccess = payload["access"] ?? from.defaultAccess;
  if (typeof rawAccess !== "string" || !(ACCESS_LEVELS as readonly string[]).includes(rawAccess)) {
    throw new AuthError("AUTH_INVALID", `token has an unknown access level; use one of ${ACCESS_LEVELS.join(", ")}`);
  }
  const operator = payload["operator"] === true && (from.local || (from.operatorSubject !== null && payload.sub === from.operatorSubject));
  return { tenant, sub: payload.sub, access: rawAccess as Access, exp: payload.exp as number, operator };
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
    let payload: JWTPayload;
    try {
      ({ payload } = external
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
          }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw new AuthError("AUTH_INVALID", `token has expired; get a new one: ${external ? "ask your identity provider" : MINT_HINT}`);
      if (err instanceof joseErrors.JWTClaimValidationFailed) throw new AuthError("AUTH_INVALID", `token claim "${err.claim}" is invalid`);
      if (err instanceof joseErrors.JWKSNoMatchingKey && !external) {
        throw new AuthError(
          "AUTH_INVALID",
          `token was signed by a key this server does not know (a token minted with another DATA_DIR makes its own key); mint one with ${MINT_HINT}`,
        );
      }
      if (err instanceof joseErrors.JOSEError) throw new AuthError("AUTH_INVALID", "token signature or algorithm is not accepted");
      throw err;
    }
    const leftS = (payload.exp as number) - now() / 1000;
    if (leftS > opts.maxTokenTtlS + opts.clockSkewS) {
      throw new AuthError(
        "AUTH_INVALID",
        `token lives too long: this server accepts tokens that expire within ${opts.maxTokenTtlS} s (AUTH_MAX_TOKEN_TTL_S); get one with a shorter lifetime`,
      );
    }
    return principalFrom(
      payload,
      external
        ? { defaultAccess: opts.external!.defaultAccess, operatorSubject: opts.external!.operatorSubject, local: false }
        : { defaultAccess: "read", operatorSubject: null, local: true },
    );
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
