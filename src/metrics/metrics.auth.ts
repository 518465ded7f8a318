/**
 * Who may scrape /metrics: the holder of METRICS_TOKEN (a static bearer
 * secret for the scraper, compared in constant time) or the operator
 * credential (a token of this server carrying the operator claim). A tenant's
 * token never may, whatever its access level: the metrics describe every
 * tenant's traffic. Without METRICS_TOKEN and without an operator token the
 * endpoint is closed, on any host: nothing about it is open by default.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Principal } from "../auth/principal.js";
import type { TokenVerifier } from "../auth/tokens.js";
import { AppError } from "../errors.js";

const BEARER = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)\s*$/i;

export interface ScrapeAuth {
  /** METRICS_TOKEN, or null when the operator did not set one. */
  token: string | null;
  verify: TokenVerifier;
}

/** The operator credential: `operator: true` on a verified principal. A tenant's `root` token is not one. */
export function isOperator(p: Principal): boolean {
  return (p as Principal & { operator?: unknown }).operator === true;
}

const digest = (s: string) => createHash("sha256").update(s).digest();

function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

function howTo(a: ScrapeAuth): string {
  return a.token
    ? "send `Authorization: Bearer <METRICS_TOKEN>` with the value the server was started with"
    : "make a secret with `openssl rand -hex 32`, start the server with METRICS_TOKEN set to it, and send `Authorization: Bearer <METRICS_TOKEN>`";
}

/** Resolves when the Authorization header may scrape; throws AUTH_REQUIRED / AUTH_INVALID (401) or FORBIDDEN (403). */
export async function authorizeScrape(header: string | undefined, a: ScrapeAuth): Promise<void> {
  if (!header) throw new AppError("AUTH_REQUIRED", `/metrics needs a credential: ${howTo(a)}`);
  const m = BEARER.exec(header);
  if (!m || m[1]!.length > 8192) throw new AppError("AUTH_INVALID", "Authorization must be `Bearer <token>`");
  const given = m[1]!;
  if (a.token !== null && sameSecret(given, a.token)) return;
  if (given.split(".").length === 3) {
    // A JWT: verified like any other (a bad one is 401 with the verifier's reason), then it must be the operator's.
    const principal = await a.verify(given);
    if (isOperator(principal)) return;
    throw new AppError("FORBIDDEN", `a tenant's token cannot read /metrics, whatever its access level; ${howTo(a)}`);
  }
  throw new AppError("AUTH_INVALID", `this is not the metrics token; ${howTo(a)}`);
}
