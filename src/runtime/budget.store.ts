/**
 * The tenant's usage per UTC day and model (token_usage_daily): the daily
 * token budget sums a day's rows, GET /llm/usage reads a range of days. The
 * per-turn queries are named prepared statements (storage/repository.ts).
 */
import { and, asc, eq, gte, lte, sql } from "drizzle-orm";
import { statement } from "../storage/repository.js";
import { tokenUsageDaily } from "../storage/schema.js";
import type { TenantDb } from "../storage/tenant-db.js";

const q = {
  tokensUsedOn: statement("budget.tokensUsedOn", ({ db }) =>
    db
      .select({ tokens: sql<number>`coalesce(sum(${tokenUsageDaily.tokens}), 0)` })
      .from(tokenUsageDaily)
      .where(eq(tokenUsageDaily.day, sql.placeholder("day")))
      .prepare(),
  ),
  addUsage: statement("budget.addUsage", ({ db }) =>
    db
      .insert(tokenUsageDaily)
      .values({
        day: sql.placeholder("day"),
        provider: sql.placeholder("provider"),
        model: sql.placeholder("model"),
        input: sql.placeholder("input"),
        output: sql.placeholder("output"),
        tokens: sql.placeholder("tokens"),
        costUsd: sql.placeholder("cost"),
      })
      .onConflictDoUpdate({
        target: [tokenUsageDaily.day, tokenUsageDaily.provider, tokenUsageDaily.model],
        set: {
          input: sql`${tokenUsageDaily.input} + excluded.input`,
          output: sql`${tokenUsageDaily.output} + excluded.output`,
          tokens: sql`${tokenUsageDaily.tokens} + excluded.tokens`,
          costUsd: sql`${tokenUsageDaily.costUsd} + excluded.cost_usd`,
        },
      })
      .prepare(),
  ),
};

export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Tokens (input + output, every model) the tenant used on a UTC day. */
export function tokensUsedOn(t: TenantDb, day: string): number {
  return q.tokensUsedOn.on(t).get({ day })?.tokens ?? 0;
}

export interface DailyUsageAdd {
  provider: string;
  model: string;
  input: number;
  output: number;
  tokens: number;
  costUsd: number;
}

/** Adds a model call's usage to its day and model; runs inside the call's final transaction. Nothing used, nothing written. */
export function addDailyUsage(t: TenantDb, day: string, u: DailyUsageAdd): void {
  if (u.tokens <= 0 && u.input <= 0 && u.output <= 0 && u.costUsd <= 0) return;
  q.addUsage.on(t).run({ day, provider: u.provider, model: u.model, input: u.input, output: u.output, tokens: u.tokens, cost: u.costUsd });
}

export type DailyUsageRow = typeof tokenUsageDaily.$inferSelect;

/** The rows of days from..to (inclusive, `YYYY-MM-DD`), by day, then provider and model. A cold path: built per call. */
export function dailyUsage(t: TenantDb, from: string, to: string): DailyUsageRow[] {
  return t.db
    .select()
    .from(tokenUsageDaily)
    .where(and(gte(tokenUsageDaily.day, from), lte(tokenUsageDaily.day, to)))
    .orderBy(asc(tokenUsageDaily.day), asc(tokenUsageDaily.provider), asc(tokenUsageDaily.model))
    .all();
}
