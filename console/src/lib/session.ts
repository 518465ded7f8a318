/**
 * What a token lets the console show. The claims are read without verifying
 * the signature: they only decide which buttons to show; the server verifies
 * every call and answers 401/403 on its own.
 */
import type { Access, Identity } from "./types.js";

export const ACCESS_LEVELS: readonly Access[] = ["read", "edit", "full", "root"];

/** True when `have` is at least `need` on the read < edit < full < root scale. */
export function accessAllows(have: Access, need: Access): boolean {
  return ACCESS_LEVELS.indexOf(have) >= ACCESS_LEVELS.indexOf(need);
}

/** The verbs the console offers, with the access each needs (ROOMS.md; the factory issue: writes edit, create/start/cancel full). */
export const NEEDS = {
  send: "edit",
  interrupt: "edit",
  wake: "edit",
  rent: "full",
  release: "full",
  runCreate: "full",
  runStart: "full",
  runCancel: "full",
  runAdvance: "edit",
  runVerify: "edit",
  runGate: "edit",
} as const satisfies Record<string, Access>;
export type Verb = keyof typeof NEEDS;

export function can(identity: Pick<Identity, "access"> | null, verb: Verb): boolean {
  return identity !== null && accessAllows(identity.access, NEEDS[verb]);
}

function base64UrlDecode(s: string): string {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4);
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new TextDecoder().decode(bytes);
}

/** A pasted token, trimmed; a leading "Bearer " is dropped (people paste whole headers). */
export function normalizeToken(raw: string): string {
  return raw.trim().replace(/^Bearer\s+/i, "").trim();
}

/**
 * The identity a JWT claims, or an error saying why the text is not a
 * usable token. Defaults follow the server: no `access` claim means `read`
 * (GET /api/user/introspect then says what the server really grants).
 */
export function identityFromToken(token: string, nowS: number): { ok: true; identity: Identity } | { ok: false; message: string } {
  const parts = token.split(".");
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p)) || parts[1] === "") {
    return { ok: false, message: "that is not a JWT (three base64url parts separated by dots); get one with `DATA_DIR=./data npm run -s token -- --tenant acme`" };
  }
  let claims: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(base64UrlDecode(parts[1]!));
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not an object");
    claims = parsed as Record<string, unknown>;
  } catch {
    return { ok: false, message: "the token's claims are not readable JSON; paste the whole token" };
  }
  const tenant = claims["tenant"];
  const sub = claims["sub"];
  const access = claims["access"] ?? "read";
  const exp = claims["exp"];
  if (typeof tenant !== "string" || tenant === "") return { ok: false, message: "the token has no `tenant` claim" };
  if (typeof access !== "string" || !(ACCESS_LEVELS as readonly string[]).includes(access)) return { ok: false, message: `the token has an unknown access level "${String(access)}"` };
  if (typeof exp === "number" && exp <= nowS) return { ok: false, message: `the token expired at ${new Date(exp * 1000).toISOString()}; make a new one` };
  return {
    ok: true,
    identity: { tenant, sub: typeof sub === "string" ? sub : "(none)", access: access as Access, expiresAt: typeof exp === "number" ? exp : null, source: "claims" },
  };
}
