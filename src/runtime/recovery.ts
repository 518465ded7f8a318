/**
 * Boot-time recovery of one tenant's rooms. A turn still marked running was
 * cut off by a crash: it ends `failed` with SERVER_RESTARTED through the same
 * finishTurn as any turn, so it gets exactly one terminal event (none in a
 * released room, whose log ends at `room:released`). A release in progress
 * completes; rooms that were resting come back `sleeping`; a message that was
 * queued when the server stopped gets its turn.
 *
 * Bounded transactions, like the lifecycle sweep: a tenant can hold
 * thousands of idle rooms, and one transaction for all of them held every
 * row, event and dirty page at once. Each batch commits on its own, and the
 * turns it resumed start right after it commits.
 */
import type { EventLog } from "../events/event.log.js";
import { beginTurn, completeRelease, finishTurn, planForTurn, type TurnPlan } from "../room/room.lifecycle.js";
import type { WakePolicy } from "../room/room.schemas.js";
import { findMessage, findRoom, roomIdsInStatus, runningTurns, updateRoom } from "../room/room.store.js";
import type { TenantDb } from "../storage/tenant-db.js";
import type { TurnAdmission } from "../room/room.service.js";
import { SWEEP_BATCH } from "./lifecycle-timers.js";

export interface RecoveryReport {
  failedTurns: number;
  sleeping: number;
  released: number;
  resumed: number;
}

const ZERO = { input: 0, output: 0, totalTokens: 0, cost: { total: 0 } };

const RESTARTED = { code: "SERVER_RESTARTED", message: "the server restarted while this turn ran; POST /wake to retry it" };

/**
 * Recovers the tenant's rooms, `batch` per transaction; `resume` is called
 * with each resumed turn's plan once the transaction that began it has
 * committed. Idempotent: run again after a failure, it picks up what is left.
 */
export function recoverTenant(t: TenantDb, events: EventLog, admission: TurnAdmission, resume: (plan: TurnPlan) => void, batch = SWEEP_BATCH): RecoveryReport {
  const report: RecoveryReport = { failedTurns: 0, sleeping: 0, released: 0, resumed: 0 };

  // Running turns are few (bounded by the active-turn limits), so they are read at once, then ended in batches.
  const turns = runningTurns(t);
  for (let i = 0; i < turns.length; i += batch) {
    events.transaction(t, (tx) => {
      for (const turn of turns.slice(i, i + batch)) {
        const plan = planForTurn(t, turn);
        if (!plan) continue;
        finishTurn(t, tx, plan, { status: "failed", text: "", usage: ZERO, error: { ...RESTARTED } }, { mayStartNext: false });
        report.failedTurns++;
      }
    });
  }

  eachBatch(t, ["releasing"], batch, (ids) =>
    events.transaction(t, (tx) => {
      for (const id of ids) {
        completeRelease(t, tx, id, "release completed after restart");
        report.released++;
      }
    }),
  );

  eachBatch(t, ["idle", "active"], batch, (ids) => {
    const resumed = events.transaction(t, (tx) => {
      const plans: TurnPlan[] = [];
      for (const id of ids) {
        const room = findRoom(t, id);
        if (!room || (room.status !== "idle" && room.status !== "active")) continue;
        const queued = room.queuedMessageId ? findMessage(t, room.id, room.queuedMessageId) : undefined;
        if (queued && queued.status === "queued" && (room.wakePolicy as WakePolicy).mode === "on_message" && admission.mayStartQueued(t.tenant)) {
          const plan = beginTurn(t, tx, room, queued);
          if (plan) {
            plans.push(plan);
            continue;
          }
        }
        updateRoom(t, room.id, { status: "sleeping", activeTurn: null, sleepAt: null, updatedAt: tx.nowIso });
        tx.emit(room.id, { event_type: "room:sleeping", payload: { reason: "server_restarted" } });
        report.sleeping++;
      }
      return plans;
    });
    report.resumed += resumed.length;
    for (const plan of resumed) resume(plan);
  });
  return report;
}

/**
 * Calls `fn` with the ids of the rooms in `statuses`, `batch` at a time in id
 * order. Keyset-paged: a room `fn` moved out of `statuses` is not seen again,
 * and one it left (a resumed turn keeps its room `active`) is not re-read.
 */
function eachBatch(t: TenantDb, statuses: readonly string[], batch: number, fn: (ids: string[]) => void): void {
  let after = "";
  for (;;) {
    const ids = roomIdsInStatus(t, statuses, after, batch);
    if (ids.length === 0) return;
    fn(ids);
    if (ids.length < batch) return;
    after = ids[ids.length - 1]!;
  }
}
