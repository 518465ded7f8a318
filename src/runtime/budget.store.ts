/** Per-tenant daily token usage (UTC days), for the optional daily budget. Both queries run once per turn: named prepared statements (storage/repository.ts). */
import { eq, sql } from "drizzle-orm";
import { statement } from "../storage/repository.js";
import { tokenUsageDaily } from "../storage/schema.js";
import type { TenantDb } from "../storage/tenant-db.js";

const q = {
  tokensUsedOn: statement("budget.tokensUsedOn", ({ db }) =>
    db
      .select({ tokens: tokenUsageDaily.tokens })
      .from(tokenUsageDaily)
      .where(eq(tokenUsageDaily.day, sql.placeholder("day")))
      .prepare(),
  ),
  addTokens: statement("budget.addTokens", ({ db }) =>
    db
      .insert(tokenUsageDaily)
      .values({ day: sql.placeholder("day"), tokens: sql.placeholder("tokens") })
      .onConflictDoUpdate({ target: tokenUsageDaily.day, set: { tokens: sql`${tokenUsageDaily.tokens} + ${sql.placeholder("tokens")}` } })
      .prepare(),
  ),
};

export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function tokensUsedOn(t: TenantDb, day: string): number {
  return q.tokensUsedOn.on(t).get({ day })?.tokens ?? 0;
}

/** Adds a turn's tokens to its day; runs inside the turn's final transaction. */
export function addTokens(t: TenantDb, day: string, tokens: number): void {
  if (tokens <= 0) return;
  q.addTokens.on(t).run({ day, tokens });
}
