/**
 * The room_usage ledger: one row per model call a room paid for (an ended
 * turn, a summary by a model). Written with one named prepared statement in
 * the call's final transaction; read by GET /llm/room/:id/usage and by the
 * summary refresh, which counts the turns since the last summary.
 */
import { and, count, eq, gt, sql } from "drizzle-orm";
import { statement } from "../storage/repository.js";
import { roomUsage } from "../storage/schema.js";
import type { TenantDb } from "../storage/tenant-db.js";

export type UsageRow = typeof roomUsage.$inferSelect;
export type NewUsageRow = Omit<typeof roomUsage.$inferInsert, "id">;

const q = {
  insert: statement("usage.insert", ({ db }) =>
    db
      .insert(roomUsage)
      .values({
        roomId: sql.placeholder("roomId"),
        kind: sql.placeholder("kind"),
        turnId: sql.placeholder("turnId"),
        messageId: sql.placeholder("messageId"),
        agentId: sql.placeholder("agentId"),
        provider: sql.placeholder("provider"),
        model: sql.placeholder("model"),
        input: sql.placeholder("input"),
        output: sql.placeholder("output"),
        totalTokens: sql.placeholder("totalTokens"),
        costUsd: sql.placeholder("costUsd"),
        createdAt: sql.placeholder("createdAt"),
      })
      .returning({ id: roomUsage.id })
      .prepare(),
  ),
  turnsAfter: statement("usage.turnsAfter", ({ db }) =>
    db
      .select({ n: count() })
      .from(roomUsage)
      .where(and(eq(roomUsage.roomId, sql.placeholder("roomId")), gt(roomUsage.id, sql.placeholder("afterId")), eq(roomUsage.kind, "turn")))
      .prepare(),
  ),
  lastId: statement("usage.lastId", ({ db }) =>
    db
      .select({ id: sql<number | null>`max(${roomUsage.id})` })
      .from(roomUsage)
      .where(eq(roomUsage.roomId, sql.placeholder("roomId")))
      .prepare(),
  ),
};

/** Inserts one ledger row; returns its id. */
export function insertUsage(t: TenantDb, row: NewUsageRow): number {
  return q.insert.on(t).get({
    roomId: row.roomId,
    kind: row.kind,
    turnId: row.turnId ?? null,
    messageId: row.messageId ?? null,
    agentId: row.agentId,
    provider: row.provider,
    model: row.model,
    input: row.input,
    output: row.output,
    totalTokens: row.totalTokens,
    costUsd: row.costUsd,
    createdAt: row.createdAt,
  })!.id;
}

/** Turns of the room recorded after ledger row `afterId` (0: all of them). */
export function turnsAfter(t: TenantDb, roomId: string, afterId: number): number {
  return q.turnsAfter.on(t).get({ roomId, afterId })?.n ?? 0;
}

/** The room's newest ledger id, 0 when it has none. */
export function lastUsageId(t: TenantDb, roomId: string): number {
  return q.lastId.on(t).get({ roomId })?.id ?? 0;
}

export interface UsageSums {
  input: number;
  output: number;
  totalTokens: number;
  costUsd: number;
  turns: number;
  summaries: number;
}

const sums = {
  input: sql<number>`coalesce(sum(${roomUsage.input}), 0)`,
  output: sql<number>`coalesce(sum(${roomUsage.output}), 0)`,
  totalTokens: sql<number>`coalesce(sum(${roomUsage.totalTokens}), 0)`,
  costUsd: sql<number>`coalesce(sum(${roomUsage.costUsd}), 0)`,
  turns: sql<number>`coalesce(sum(${roomUsage.kind} = 'turn'), 0)`,
  summaries: sql<number>`coalesce(sum(${roomUsage.kind} = 'summary'), 0)`,
};

/** The room's usage summed by actor, in the order each actor first used something. A cold path. */
export function usageByActor(t: TenantDb, roomId: string): Array<UsageSums & { agentId: string }> {
  return t.db
    .select({ agentId: roomUsage.agentId, ...sums })
    .from(roomUsage)
    .where(eq(roomUsage.roomId, roomId))
    .groupBy(roomUsage.agentId)
    .orderBy(sql`min(${roomUsage.id})`)
    .all();
}

/** The room's usage summed by provider and model, in the order each was first used. A cold path. */
export function usageByModel(t: TenantDb, roomId: string): Array<UsageSums & { provider: string; model: string }> {
  return t.db
    .select({ provider: roomUsage.provider, model: roomUsage.model, ...sums })
    .from(roomUsage)
    .where(eq(roomUsage.roomId, roomId))
    .groupBy(roomUsage.provider, roomUsage.model)
    .orderBy(sql`min(${roomUsage.id})`)
    .all();
}
