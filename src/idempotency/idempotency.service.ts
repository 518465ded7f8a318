/**
 * The idempotency verbs the HTTP middleware needs, over the tenant's own
 * key rows: what to do with an incoming key, and recording the final answer.
 */
import type { LifecycleFeature } from "../runtime/lifecycle.js";
import type { TenantDb } from "../storage/tenant-db.js";
import { deleteKey, findKey, purgeExpired, saveResponse } from "./idempotency.store.js";

export type KeyDecision = { kind: "fresh" } | { kind: "replay"; status: number; body: string; headers: Record<string, string> } | { kind: "reused" };

/**
 * The stored answer is its body, or, when it had headers to replay, a first
 * line `@headers <JSON>` before the body: a JSON body never starts with `@`,
 * and rows written before headers were kept read back as a body alone.
 */
const HEADERS_PREFIX = "@headers ";

function encodeAnswer(body: string, headers: Record<string, string>): string {
  return Object.keys(headers).length === 0 ? body : `${HEADERS_PREFIX}${JSON.stringify(headers)}\n${body}`;
}

/** A stored answer read back: its body and the headers a replay repeats. */
export function decodeAnswer(stored: string): { body: string; headers: Record<string, string> } {
  if (!stored.startsWith(HEADERS_PREFIX)) return { body: stored, headers: {} };
  const nl = stored.indexOf("\n");
  return { body: stored.slice(nl + 1), headers: JSON.parse(stored.slice(HEADERS_PREFIX.length, nl)) as Record<string, string> };
}

/** Looks the key up; an expired key counts as fresh (and is removed). */
export function decide(t: TenantDb, scope: string, requestHash: string, nowMs: number): KeyDecision {
  const row = findKey(t, scope);
  if (!row) return { kind: "fresh" };
  if (Date.parse(row.expiresAt) < nowMs) {
    deleteKey(t, scope, row.requestHash);
    return { kind: "fresh" };
  }
  if (row.requestHash !== requestHash) return { kind: "reused" };
  return { kind: "replay", status: row.status, ...decodeAnswer(row.body) };
}

/** Replaces the provisional answer with the response the caller actually got. */
export function recordResponse(t: TenantDb, scope: string, status: number, body: string, headers: Record<string, string> = {}): void {
  saveResponse(t, scope, status, encodeAnswer(body, headers));
}

/** Drops keys past their retention (bounded per call). */
export function purge(t: TenantDb, nowMs: number): void {
  purgeExpired(t, new Date(nowMs).toISOString());
}

/** How often the lifecycle sweep purges each open tenant's expired keys. */
export const PURGE_EVERY_MS = 60_000;

/**
 * Expired keys are purged by the lifecycle (each open tenant once a minute,
 * and each file as it opens), not by the requests that carry keys: no
 * per-tenant bookkeeping lives in memory, however many tenants come and go.
 */
export function idempotencyLifecycle(now: () => number): LifecycleFeature {
  return { name: "idempotency", sweepEveryMs: PURGE_EVERY_MS, sweep: (t) => purge(t, now()) };
}
