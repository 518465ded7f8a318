/**
 * Idempotency that survives a crash. A request carrying an Idempotency-Key
 * runs inside this context; the first durable effect it commits (an
 * EventLog transaction) also writes the key's row, in the same transaction,
 * holding a provisional answer built from that transaction's result. When
 * the handler finishes, the row is updated with the exact response. So a
 * crash can never leave an effect without its key, nor a key without its
 * effect: a retry after a crash replays the provisional answer instead of
 * doing the work twice.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { TenantDb } from "../storage/tenant-db.js";
import { insertKey } from "./idempotency.store.js";

export const IDEMPOTENCY_RETENTION_MS = 24 * 3600 * 1000;

export interface IdempotencyContext {
  tenant: string;
  scope: string;
  requestHash: string;
  /** Status the route answers on success; set by the route before calling its service. */
  successStatus: number;
  /** Set once the key row exists (written with the first effect). */
  claimed: boolean;
  nowMs: number;
}

const storage = new AsyncLocalStorage<IdempotencyContext>();

export function runWithIdempotency<T>(ctx: IdempotencyContext, fn: () => Promise<T>): Promise<T> {
  return storage.run(ctx, fn);
}

export function currentIdempotency(): IdempotencyContext | undefined {
  return storage.getStore();
}

/** Lets a route declare its success status (e.g. 201 for a note, 202 for a message) before the effect commits. */
export function setSuccessStatus(status: number): void {
  const ctx = storage.getStore();
  if (ctx) ctx.successStatus = status;
}

/**
 * EventLog hook, called inside every transaction before commit: writes the
 * key row with the provisional answer on the request's first effect.
 */
export function claimInTransaction(t: TenantDb, result: unknown): void {
  const ctx = storage.getStore();
  if (!ctx || ctx.claimed || ctx.tenant !== t.tenant) return;
  insertKey(t, {
    scope: ctx.scope,
    requestHash: ctx.requestHash,
    status: ctx.successStatus,
    body: JSON.stringify({ success: true, data: result ?? null }),
    createdAt: new Date(ctx.nowMs).toISOString(),
    expiresAt: new Date(ctx.nowMs + IDEMPOTENCY_RETENTION_MS).toISOString(),
  });
  ctx.claimed = true;
}

/** Runs `fn` outside any request's idempotency context (background work a request merely started). */
export function outsideRequest<T>(fn: () => T): T {
  return storage.exit(fn);
}
