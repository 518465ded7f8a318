/**
 * A room's budget: `{max_tokens, max_cost_usd}`, either limit optional. It is
 * checked against the room's summed `usage` when a turn would start, not
 * while one runs: a turn that started under the budget runs to its end, so a
 * room overshoots by at most that turn (and a summary, which is checked the
 * same way). Whether a room is blocked is computed from the stored budget and
 * usage, never stored apart from them: raising the budget unblocks at once.
 */
import { AppError } from "../errors.js";
import type { Usage } from "./room.schemas.js";

export interface Budget {
  max_tokens: number | null;
  max_cost_usd: number | null;
}

/** What rent and PATCH accept: a field set to null removes that limit; `budget: null` removes both. */
export interface BudgetInput {
  max_tokens?: number | null | undefined;
  max_cost_usd?: number | null | undefined;
}

export type BudgetLimit = "max_tokens" | "max_cost_usd";

/** The budget to store after applying `input` to `current` (null: no budget). */
export function mergeBudget(current: Budget | null, input: BudgetInput | null): Budget | null {
  if (input === null) return null;
  const next: Budget = {
    max_tokens: input.max_tokens !== undefined ? input.max_tokens : (current?.max_tokens ?? null),
    max_cost_usd: input.max_cost_usd !== undefined ? input.max_cost_usd : (current?.max_cost_usd ?? null),
  };
  return next.max_tokens === null && next.max_cost_usd === null ? null : next;
}

/** The limit `usage` has reached (tokens first), or null while within the budget. */
export function exceededLimit(budget: Budget | null | undefined, usage: Usage): BudgetLimit | null {
  if (!budget) return null;
  if (budget.max_tokens !== null && usage.totalTokens >= budget.max_tokens) return "max_tokens";
  if (budget.max_cost_usd !== null && usage.cost.total >= budget.max_cost_usd) return "max_cost_usd";
  return null;
}

/** The payload of `room:budget_blocked`: which limit, its value, and what the room has used. */
export function blockedPayload(budget: Budget, limit: BudgetLimit, usage: Usage, turnId: string | null): Record<string, unknown> {
  return {
    limit,
    max: budget[limit],
    used: { total_tokens: usage.totalTokens, cost_usd: usage.cost.total },
    budget,
    turn_id: turnId,
  };
}

/** A limit that clears what the room has used, for the hint: double the use, rounded up to a readable number. */
function raisedTo(limit: BudgetLimit, usage: Usage): number {
  if (limit === "max_tokens") {
    const want = Math.max(1000, usage.totalTokens * 2);
    const step = 10 ** Math.max(0, Math.floor(Math.log10(want)) - 1);
    return Math.ceil(want / step) * step;
  }
  const want = Math.max(0.01, usage.cost.total * 2);
  return Math.ceil(want * 100) / 100;
}

/** 409 ROOM_BUDGET_EXCEEDED for a room that has reached its budget, with a PATCH that raises it. */
export function budgetExceededError(roomId: string, budget: Budget, limit: BudgetLimit, usage: Usage): AppError {
  const used = limit === "max_tokens" ? `${usage.totalTokens} tokens` : `${usage.cost.total} USD`;
  const max = limit === "max_tokens" ? `${budget.max_tokens} tokens` : `${budget.max_cost_usd} USD`;
  const body = JSON.stringify({ budget: { [limit]: raisedTo(limit, usage) } });
  return new AppError(
    "ROOM_BUDGET_EXCEEDED",
    `this room has used ${used} of its budget of ${max} (budget.${limit}), so it starts no more turns; raise the limit with PATCH /llm/room/${roomId} and the body ${body} (or {"budget":{"${limit}":null}} to remove it), then send again`,
    { details: { limit, max: budget[limit], used: { total_tokens: usage.totalTokens, cost_usd: usage.cost.total }, budget } },
  );
}

/** Throws ROOM_BUDGET_EXCEEDED when the room may start no more turns. */
export function assertWithinBudget(room: { id: string; budget: unknown; usage: unknown }): void {
  const budget = room.budget as Budget | null;
  const usage = room.usage as Usage;
  const limit = exceededLimit(budget, usage);
  if (limit) throw budgetExceededError(room.id, budget!, limit, usage);
}
