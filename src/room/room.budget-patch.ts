/**
 * What a PATCH of `budget` does besides storing it, inside the PATCH's
 * transaction: a budget lowered to (or set at) what the room has used blocks
 * it, with `room:budget_blocked`; one raised past it unblocks it, and the
 * message that was queued when the budget ran out begins its turn now, as it
 * would have after the turn before it (wake policy `on_message`, admission
 * permitting; otherwise it waits for POST /wake as any queued message does).
 */
import type { EventTx } from "../events/event.log.js";
import type { TenantDb } from "../storage/tenant-db.js";
import { blockedPayload, exceededLimit, type Budget } from "./room.budget.js";
import { ZERO_USAGE } from "./room.dto.js";
import { beginTurn, type TurnPlan } from "./room.lifecycle.js";
import type { Usage, WakePolicy } from "./room.schemas.js";
import { findMessage, type RoomRow } from "./room.store.js";

/** The admission checks a turn start needs (room.service.ts's TurnAdmission). */
interface Admit {
  checkNewTurn(t: TenantDb): void;
  mayStartQueued(tenant: string): boolean;
}

const RESTING = new Set(["rented", "idle", "sleeping"]);

/** Returns the plan of the queued message's turn when the PATCH unblocked the room and it began; the caller starts it after commit. */
export function budgetPatched(t: TenantDb, tx: EventTx, before: RoomRow, after: RoomRow, admission: Admit): TurnPlan | null {
  const usage = (after.usage as Usage) ?? ZERO_USAGE;
  const wasBlocked = exceededLimit(before.budget as Budget | null, usage);
  const nowBlocked = exceededLimit(after.budget as Budget | null, usage);
  if (nowBlocked) {
    if (!wasBlocked) tx.emit(after.id, { event_type: "room:budget_blocked", payload: blockedPayload(after.budget as Budget, nowBlocked, usage, null) });
    return null;
  }
  if (!wasBlocked || !after.queuedMessageId || !RESTING.has(after.status)) return null;
  if ((after.wakePolicy as WakePolicy).mode !== "on_message" || !admission.mayStartQueued(t.tenant)) return null;
  const queued = findMessage(t, after.id, after.queuedMessageId);
  if (!queued || queued.status !== "queued") return null;
  try {
    admission.checkNewTurn(t);
  } catch {
    // Over a quota now: the message stays queued for a wake, and the PATCH itself still succeeds.
    return null;
  }
  return beginTurn(t, tx, after, queued);
}
