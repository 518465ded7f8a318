/** Idempotency key rows, in the tenant's own database. Each runs once per keyed request: named prepared statements (storage/repository.ts). */
import { and, eq, inArray, lt, sql } from "drizzle-orm";
import { statement } from "../storage/repository.js";
import { idempotencyKeys } from "../storage/schema.js";
import type { TenantDb } from "../storage/tenant-db.js";

export type IdempotencyRow = typeof idempotencyKeys.$inferSelect;

const q = {
  find: statement("idempotency.find", ({ db }) =>
    db
      .select()
      .from(idempotencyKeys)
      .where(eq(idempotencyKeys.scope, sql.placeholder("scope")))
      .prepare(),
  ),
  insert: statement("idempotency.insert", ({ db }) =>
    db
      .insert(idempotencyKeys)
      .values({
        scope: sql.placeholder("scope"),
        requestHash: sql.placeholder("requestHash"),
        status: sql.placeholder("status"),
        body: sql.placeholder("body"),
        createdAt: sql.placeholder("createdAt"),
        expiresAt: sql.placeholder("expiresAt"),
      })
      .prepare(),
  ),
  saveResponse: statement("idempotency.saveResponse", ({ db }) =>
    db
      .update(idempotencyKeys)
      .set({ status: sql`${sql.placeholder("status")}`, body: sql`${sql.placeholder("body")}` })
      .where(eq(idempotencyKeys.scope, sql.placeholder("scope")))
      .prepare(),
  ),
  delete: statement("idempotency.delete", ({ db }) =>
    db
      .delete(idempotencyKeys)
      .where(and(eq(idempotencyKeys.scope, sql.placeholder("scope")), eq(idempotencyKeys.requestHash, sql.placeholder("requestHash"))))
      .prepare(),
  ),
  // Bounded so one call never stalls.
  purgeExpired: statement("idempotency.purgeExpired", ({ db }) =>
    db
      .delete(idempotencyKeys)
      .where(
        inArray(
          idempotencyKeys.scope,
          db
            .select({ scope: idempotencyKeys.scope })
            .from(idempotencyKeys)
            .where(lt(idempotencyKeys.expiresAt, sql.placeholder("now")))
            .limit(500),
        ),
      )
      .prepare(),
  ),
};

export function findKey(t: TenantDb, scope: string): IdempotencyRow | undefined {
  return q.find.on(t).get({ scope });
}

export function insertKey(t: TenantDb, row: IdempotencyRow): void {
  q.insert.on(t).run(row);
}

export function saveResponse(t: TenantDb, scope: string, status: number, body: string): void {
  q.saveResponse.on(t).run({ scope, status, body });
}

export function deleteKey(t: TenantDb, scope: string, requestHash: string): void {
  q.delete.on(t).run({ scope, requestHash });
}

/** Drops keys past their retention, at most 500 per call; returns how many. */
export function purgeExpired(t: TenantDb, nowIso: string): number {
  return q.purgeExpired.on(t).run({ now: nowIso }).changes;
}
