/** Idempotency key rows, in the tenant's own database. */
import { and, eq } from "drizzle-orm";
import { idempotencyKeys } from "../storage/schema.js";
import type { TenantDb } from "../storage/tenant-db.js";

export type IdempotencyRow = typeof idempotencyKeys.$inferSelect;

export function findKey(t: TenantDb, scope: string): IdempotencyRow | undefined {
  return t.db.select().from(idempotencyKeys).where(eq(idempotencyKeys.scope, scope)).get();
}

export function insertKey(t: TenantDb, row: IdempotencyRow): void {
  t.db.insert(idempotencyKeys).values(row).run();
}

export function saveResponse(t: TenantDb, scope: string, status: number, body: string): void {
  t.db.update(idempotencyKeys).set({ status, body }).where(eq(idempotencyKeys.scope, scope)).run();
}

export function deleteKey(t: TenantDb, scope: string, requestHash: string): void {
  t.db.delete(idempotencyKeys).where(and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.requestHash, requestHash))).run();
}

/** Drops keys past their retention; bounded so one call never stalls. */
export function purgeExpired(t: TenantDb, nowIso: string): number {
  return t.sqlite.prepare("DELETE FROM idempotency_keys WHERE scope IN (SELECT scope FROM idempotency_keys WHERE expires_at < ? LIMIT 500)").run(nowIso).changes;
}

