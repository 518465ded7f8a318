/** Per-tenant daily token usage (UTC days), for the optional daily budget. */
import { eq, sql } from "drizzle-orm";
import { tokenUsageDaily } from "../storage/schema.js";
import type { TenantDb } from "../storage/tenant-db.js";

export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function tokensUsedOn(t: TenantDb, day: string): number {
  return t.db.select({ tokens: tokenUsageDaily.tokens }).from(tokenUsageDaily).where(eq(tokenUsageDaily.day, day)).get()?.tokens ?? 0;
}

/** Adds a turn's tokens to its day; runs inside the turn's final transaction. */
export function addTokens(t: TenantDb, day: string, tokens: number): void {
  if (tokens <= 0) return;
  t.db
    .insert(tokenUsageDaily)
    .values({ day, tokens })
    .onConflictDoUpdate({ target: tokenUsageDaily.day, set: { tokens: sql`${tokenUsageDaily.tokens} + ${tokens}` } })
    .run();
}
