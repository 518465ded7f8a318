/**
 * Usage kept per model call. Every ended turn and every summary by a model
 * records, inside its final transaction (a turn's: the one that writes its
 * `agent:turn_end`), one room_usage row (who, which model, tokens, cost) and
 * its share of the tenant's day and model (token_usage_daily). The room
 * record's `usage` is the running total of its rows, so GET
 * /llm/room/:id/usage sums to it. Costs are what the runtime computed from
 * the model catalogue's prices (USD per million tokens, the operator's or
 * pi-ai's known ones); `local/echo` costs 0.
 */
import type { EventTx } from "../events/event.log.js";
import { addDailyUsage } from "../runtime/budget.store.js";
import type { TenantDb } from "../storage/tenant-db.js";
import { insertUsage } from "../usage/usage.store.js";
import { blockedPayload, exceededLimit, type Budget } from "./room.budget.js";
import type { Usage } from "./room.schemas.js";

/** Who made a model call and for what. */
export interface UsageSource {
  kind: "turn" | "summary";
  turnId: string | null;
  messageId: string | null;
  agentId: string;
  provider: string;
  model: string;
}

/** Writes one model call's usage (ledger row and daily rollup); returns the ledger row's id. */
export function recordUsage(t: TenantDb, tx: EventTx, roomId: string, source: UsageSource, usage: Usage): number {
  addDailyUsage(t, tx.nowIso.slice(0, 10), {
    provider: source.provider,
    model: source.model,
    input: usage.input,
    output: usage.output,
    tokens: usage.totalTokens,
    costUsd: usage.cost.total,
  });
  return insertUsage(t, {
    roomId,
    kind: source.kind,
    turnId: source.turnId,
    messageId: source.messageId,
    agentId: source.agentId,
    provider: source.provider,
    model: source.model,
    input: usage.input,
    output: usage.output,
    totalTokens: usage.totalTokens,
    costUsd: usage.cost.total,
    createdAt: tx.nowIso,
  });
}

/**
 * Emits `room:budget_blocked` when the room's usage went from within its
 * budget to past it (`before` to `after`); once per crossing, so a room
 * that stays blocked says so once.
 */
export function noteBudgetCrossing(tx: EventTx, roomId: string, budget: Budget | null, before: Usage, after: Usage, turnId: string | null): void {
  const limit = exceededLimit(budget, after);
  if (!limit || exceededLimit(budget, before)) return;
  tx.emit(roomId, { event_type: "room:budget_blocked", payload: blockedPayload(budget!, limit, after, turnId), turn_id: turnId });
}
