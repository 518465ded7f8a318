/**
 * The usage reads: a room's usage by actor and by model (its room_usage
 * ledger), and the tenant's by UTC day and model (token_usage_daily). Both
 * are cold paths, built per call; neither touches a turn.
 */
import { authorize } from "../auth/actor.js";
import { AppError } from "../errors.js";
import { exceededLimit, type Budget, type BudgetLimit } from "../room/room.budget.js";
import { ZERO_USAGE } from "../room/room.dto.js";
import type { RoomCtx } from "../room/room.service.js";
import type { Usage } from "../room/room.schemas.js";
import { findRoom } from "../room/room.store.js";
import { dailyUsage, utcDay } from "../runtime/budget.store.js";
import { usageByActor, usageByModel, type UsageSums } from "./usage.store.js";
import { MAX_USAGE_DAYS } from "./usage.schemas.js";

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DAY_MS = 86_400_000;

interface Tokens {
  input: number;
  output: number;
  totalTokens: number;
  cost: { total: number };
}
export type UsageLine = Tokens & { turns: number; summaries: number };

export interface RoomUsageReport {
  room_id: string;
  totals: UsageLine;
  by_actor: Array<{ agent_id: string } & UsageLine>;
  by_model: Array<{ provider: string | null; model: string | null } & UsageLine>;
  budget: Budget | null;
  budget_exceeded: BudgetLimit | null;
}

export interface TenantUsageReport {
  from: string;
  to: string;
  totals: Tokens;
  days: Array<{ day: string } & Tokens & { by_model: Array<{ provider: string | null; model: string | null } & Tokens> }>;
}

/** Dollars summed in floating point, rounded as the room record's running total is (room.lifecycle.ts addUsage). */
const usd = (n: number) => Math.round(n * 1e9) / 1e9;

function line(s: UsageSums): UsageLine {
  return { input: s.input, output: s.output, totalTokens: s.totalTokens, cost: { total: usd(s.costUsd) }, turns: s.turns, summaries: s.summaries };
}

function add<T extends Tokens>(into: T, u: Tokens): T {
  into.input += u.input;
  into.output += u.output;
  into.totalTokens += u.totalTokens;
  into.cost.total = usd(into.cost.total + u.cost.total);
  return into;
}

export class UsageService {
  constructor(private readonly now: () => number) {}

  /** GET /llm/room/:id/usage: totals, by actor and by model; the totals equal the room record's `usage`. */
  roomUsage(ctx: RoomCtx, id: string): RoomUsageReport {
    authorize(ctx.actor, ctx.tdb.tenant, "read");
    const room = UUID_RE.test(id) ? findRoom(ctx.tdb, id) : undefined;
    if (!room) throw new AppError("ROOM_NOT_FOUND", "no such room for this tenant (ids are never shared across tenants); list yours with GET /llm/room");
    const byActor = usageByActor(ctx.tdb, id).map((s) => ({ agent_id: s.agentId, ...line(s) }));
    // '' is what the 0007 backfill wrote for an actor no longer in the roster.
    const byModel = usageByModel(ctx.tdb, id).map((s) => ({ provider: s.provider === "" ? null : s.provider, model: s.model === "" ? null : s.model, ...line(s) }));
    const totals = byActor.reduce<UsageLine>(
      (acc, a) => {
        add(acc, a);
        acc.turns += a.turns;
        acc.summaries += a.summaries;
        return acc;
      },
      { input: 0, output: 0, totalTokens: 0, cost: { total: 0 }, turns: 0, summaries: 0 },
    );
    const budget = (room.budget as Budget | null) ?? null;
    return { room_id: id, totals, by_actor: byActor, by_model: byModel, budget, budget_exceeded: exceededLimit(budget, (room.usage as Usage) ?? ZERO_USAGE) };
  }

  /** GET /llm/usage: the tenant's usage per UTC day and model over [from, to]. */
  tenantUsage(ctx: RoomCtx, q: { from?: string | undefined; to?: string | undefined }): TenantUsageReport {
    authorize(ctx.actor, ctx.tdb.tenant, "read");
    const to = q.to ?? utcDay(this.now());
    const from = q.from ?? utcDay(Date.parse(`${to}T00:00:00.000Z`) - 29 * DAY_MS);
    if (from > to) {
      throw new AppError("VALIDATION_FAILED", `from (${from}) is after to (${to}); send from <= to, e.g. ?from=${to}&to=${to}`, { details: [{ path: "from", message: "after to" }] });
    }
    const span = (Date.parse(`${to}T00:00:00.000Z`) - Date.parse(`${from}T00:00:00.000Z`)) / DAY_MS + 1;
    if (span > MAX_USAGE_DAYS) {
      const earliest = utcDay(Date.parse(`${to}T00:00:00.000Z`) - (MAX_USAGE_DAYS - 1) * DAY_MS);
      throw new AppError("VALIDATION_FAILED", `from..to covers ${span} days; ask for at most ${MAX_USAGE_DAYS} at a time, e.g. ?from=${earliest}&to=${to}`, {
        details: [{ path: "from", message: `range longer than ${MAX_USAGE_DAYS} days` }],
      });
    }
    const totals: Tokens = { input: 0, output: 0, totalTokens: 0, cost: { total: 0 } };
    const days: TenantUsageReport["days"] = [];
    for (const r of dailyUsage(ctx.tdb, from, to)) {
      const u: Tokens = { input: r.input, output: r.output, totalTokens: r.tokens, cost: { total: usd(r.costUsd) } };
      let day = days[days.length - 1];
      if (!day || day.day !== r.day) {
        day = { day: r.day, input: 0, output: 0, totalTokens: 0, cost: { total: 0 }, by_model: [] };
        days.push(day);
      }
      add(day, u);
      add(totals, u);
      day.by_model.push({ provider: r.provider === "" ? null : r.provider, model: r.model === "" ? null : r.model, ...u });
    }
    return { from, to, totals, days };
  }
}
