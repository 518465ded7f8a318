/**
 * Idempotency-Key on POST, PATCH and DELETE (after Stripe and the IETF httpapi
 * draft). Scope: tenant (the file) + caller + method + path + key. Same key
 * and same request: the first answer is replayed with Idempotent-Replayed:
 * true. Same key, other request: 422. Same key while the first is still
 * running: 409. Runs before the handler, so a retry of a write that already
 * succeeded replays its 2xx instead of failing an If-Match check.
 *
 * A request is compared by what it means, not how it is spelled: the path
 * without trailing slashes (`/llm/room/` reaches the same route as
 * `/llm/room`), `If-Match: 1`, `"1"` and `W/"1"` as one version, the JSON
 * body by value. A replay carries the first answer's `Location` and `ETag`.
 */
import { createHash } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { AppError } from "../../errors.js";
import { runWithIdempotency, type IdempotencyContext } from "../../idempotency/idempotency.context.js";
import { decide, recordResponse } from "../../idempotency/idempotency.service.js";
import type { MetricsRecorder } from "../../metrics/metrics.recorder.js";
import type { AppEnv } from "../context.js";

const KEY_PATTERN = /^[\x21-\x7E]{1,255}$/;

function sha256(parts: string[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(p).update("\u0000");
  return h.digest("base64url");
}

/** JSON bodies are compared by meaning (key order and spacing do not matter); anything else byte for byte. */
function canonicalBody(text: string): string {
  if (text.trim() === "") return "";
  try {
    return JSON.stringify(JSON.parse(text), (_k, v) =>
      v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
    );
  } catch {
    return `raw:${text}`;
  }
}

/** Trailing slashes do not change the route (the router is not strict), so they do not change the scope. */
function canonicalPath(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  return trimmed === "" ? "/" : trimmed;
}

/** `3`, `"3"` and `W/"3"` name the same version; anything else is compared as sent. */
function canonicalIfMatch(header: string | undefined): string {
  if (header === undefined) return "";
  const m = /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/.exec(header);
  return m ? String(Number(m[1])) : header.trim();
}

/** Headers of the first answer that a replay repeats. */
const REPLAYED_HEADERS = ["location", "etag"] as const;

function replayedHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of REPLAYED_HEADERS) {
    const v = headers.get(name);
    if (v !== null) out[name] = v;
  }
  return out;
}

export function idempotency(now: () => number, metrics: Pick<MetricsRecorder, "idempotentReplay">): MiddlewareHandler<AppEnv> {
  // Expired keys are purged by the lifecycle sweep (idempotency.service.ts), not here.
  const inFlight = new Set<string>();
  return async (c, next) => {
    const method = c.req.method;
    if (method !== "POST" && method !== "PATCH" && method !== "DELETE") return next();
    const key = c.req.header("idempotency-key");
    if (key === undefined) return next();
    if (!KEY_PATTERN.test(key)) {
      throw new AppError("VALIDATION_FAILED", "Idempotency-Key must be 1 to 255 visible ASCII characters (for example a UUID)", {
        details: [{ path: "Idempotency-Key", message: "invalid key" }],
      });
    }
    const principal = c.get("principal");
    const t = c.get("tenantDb");
    const path = canonicalPath(new URL(c.req.url).pathname);
    // A DELETE's meaning is its path and If-Match; its body (unread, and not size-limited for DELETE) plays no part.
    const body = method === "DELETE" ? "" : await c.req.text();
    const scope = sha256([principal.sub, method, path, key]);
    const requestHash = sha256([method, path, canonicalIfMatch(c.req.header("if-match")), canonicalBody(body)]);
    const flightKey = `${t.tenant}/${scope}`;
    const nowMs = now();

    const decision = decide(t, scope, requestHash, nowMs);
    if (decision.kind === "reused") {
      throw new AppError("IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key was used for a different request; use a new key for a new request");
    }
    if (inFlight.has(flightKey)) {
      throw new AppError("IDEMPOTENCY_IN_PROGRESS", "a request with this Idempotency-Key is still being handled; retry after it finishes", { retryAfterS: 1 });
    }
    if (decision.kind === "replay") {
      metrics.idempotentReplay();
      return new Response(decision.body, {
        status: decision.status,
        headers: { ...decision.headers, "content-type": "application/json", "idempotent-replayed": "true", "x-request-id": c.get("requestId") },
      });
    }

    const ctx: IdempotencyContext = { tenant: t.tenant, scope, requestHash, successStatus: 200, claimed: false, nowMs };
    inFlight.add(flightKey);
    try {
      await runWithIdempotency(ctx, () => next());
      if (ctx.claimed && (c.res.headers.get("content-type") ?? "").includes("application/json")) {
        recordResponse(t, scope, c.res.status, await c.res.clone().text(), replayedHeaders(c.res.headers));
      }
    } finally {
      inFlight.delete(flightKey);
    }
  };
}

