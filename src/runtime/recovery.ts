/**
 * Boot-time recovery of one tenant. A turn still marked running was cut off
 * by a crash: it ends `failed` with SERVER_RESTARTED through the same
 * finishTurn as any turn, so it gets exactly one terminal event. Rooms that
 * were resting come back `sleeping`; a release in progress completes; a
 * message that was queued when the server stopped gets its turn.
 */
import type { EventLog } from "../events/event.log.js";
import { beginTurn, completeRelease, finishTurn, type TurnPlan } from "../room/room.lifecycle.js";
import type { Actor, DonePolicy, ToolPolicy, WakePolicy } from "../room/room.schemas.js";
import { findMessage, findRoom, roomsInStatus, runningTurns, updateRoom } from "../room/room.store.js";
import type { TenantDb } from "../storage/tenant-db.js";
import type { TurnAdmission } from "../room/room.service.js";

export interface RecoveryReport {
  failedTurns: number;
  sleeping: number;
  released: number;
  resumed: TurnPlan[];
}

const ZERO = { input: 0, output: 0, totalTokens: 0, cost: { total: 0 } };

export function recoverTenant(t: TenantDb, events: EventLog, admission: TurnAdmission): RecoveryReport {
  const report: RecoveryReport = { failedTurns: 0, sleeping: 0, released: 0, resumed: [] };
  events.transaction(t, (tx) => {
    for (const turn of runningTurns(t)) {
      const room = findRoom(t, turn.roomId);
      const message = findMessage(t, turn.roomId, turn.messageId);
      if (!room || !message) continue;
      const actor = (room.actors as Actor[]).find((a) => a.agent_id === turn.agentId) ?? (room.actors as Actor[])[0]!;
      const plan: TurnPlan = {
        tenant: t.tenant,
        roomId: room.id,
        turnId: turn.id,
        messageId: message.id,
        messageSeq: message.seq,
        prompt: message.content,
        actor,
        toolPolicy: room.toolPolicy as ToolPolicy,
        donePolicy: room.donePolicy as DonePolicy,
      };
      finishTurn(t, tx, plan, { status: "failed", text: "", usage: ZERO, error: { code: "SERVER_RESTARTED", message: "the server restarted while this turn ran; POST /wake to retry it" } }, { mayStartNext: false });
      report.failedTurns++;
    }
    for (const room of roomsInStatus(t, ["releasing"])) {
      completeRelease(t, tx, room.id, "release completed after restart");
      report.released++;
    }
    for (const room of roomsInStatus(t, ["idle", "active"])) {
      const queued = room.queuedMessageId ? findMessage(t, room.id, room.queuedMessageId) : undefined;
      if (queued && queued.status === "queued" && (room.wakePolicy as WakePolicy).mode === "on_message" && admission.mayStartQueued(t.tenant)) {
        report.resumed.push(beginTurn(t, tx, room, queued));
        continue;
      }
      updateRoom(t, room.id, { status: "sleeping", activeTurn: null, sleepAt: null, updatedAt: tx.nowIso });
      tx.emit(room.id, { event_type: "room:sleeping", payload: { reason: "server_restarted" } });
      report.sleeping++;
    }
  });
  return report;
}
