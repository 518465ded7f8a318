/**
 * Who may scrape /metrics: the holder of METRICS_TOKEN (a static bearer
 * secret for the scraper, compared in constant time) or the operator
 * credential (`npm run -s token -- --operator`). A tenant's token never may,
 * whatever its access level: the metrics describe every tenant's traffic.
 * Nothing is open by default, on any host: without METRICS_TOKEN only an
 * operator token scrapes.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { TokenVerifier } from "../auth/tokens.js";
import { AppError } from "../errors.js";

const BEARER = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)\s*$/i;

export interface ScrapeAuth {
  /** METRICS_TOKEN, or null when the operator did not set one. */
  token: string | null;
  verify: TokenVerifier;
}

const digest = (s: string) => createHash("sha256").update(s).digest();

function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

const OPERATOR_HINT = "an operator token (mint one with `npm run -s token -- --operator`, run in the repository with DATA_DIR set as the server has it)";

function howTo(a: ScrapeAuth): string {
  return a.token
    ? `send \`Authorization: Bearer <METRICS_TOKEN>\` with the value the server was started with, or ${OPERATOR_HINT}`
    : `send ${OPERATOR_HINT}, or start the server with METRICS_TOKEN set (make one with \`openssl rand -hex 32\`) and send \`Authorization: Bearer <METRICS_TOKEN>\``;
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
    if (principal.operator) return;
    throw new AppError("FORBIDDEN", `a tenant's token cannot read /metrics, whatever its access level; ${howTo(a)}`);
  }
  throw new AppError("AUTH_INVALID", `this is not the metrics token; ${howTo(a)}`);
}
