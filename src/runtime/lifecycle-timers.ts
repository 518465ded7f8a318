/**
 * The wake policy's clocks: `idle_timeout_s` puts an idle room to sleep and
 * `release_after_s` releases a room nobody used; a release that was begun
 * but never completed is completed. Deadlines are columns (sleep_at,
 * release_at) so a sweep is one indexed query per open tenant. The rooms
 * feature registers `sweep` with the Lifecycle, which also runs it the moment
 * a tenant's file is opened, so a closed tenant's deadlines are applied
 * before anyone can observe them.
 */
import type { EventLog } from "../events/event.log.js";
import { beginRelease, completeRelease } from "../room/room.lifecycle.js";
import { findRoom, roomsDue, updateRoom } from "../room/room.store.js";
import type { TenantDb } from "../storage/tenant-db.js";

/**
 * Rooms per sweep transaction. Thousands of rooms can fall due together
 * (rented in one burst, or deadlines that passed while the server was down);
 * one transaction for all of them held every row, event and dirty page at once.
 */
export const SWEEP_BATCH = 256;

export class LifecycleTimers {
  constructor(
    private readonly events: EventLog,
    private readonly isRunning: (tenant: string, roomId: string) => boolean,
    private readonly now: () => number = Date.now,
    private readonly batch: number = SWEEP_BATCH,
  ) {}

  /**
   * Applies every due deadline of one tenant, `batch` rooms per transaction
   * in id order. Synchronous: rooms with a running turn have no
   * deadline (one that is skipped stays due and is looked at again next sweep).
   */
  sweep(t: TenantDb): void {
    const nowIso = new Date(this.now()).toISOString();
    let after = "";
    for (;;) {
      const due = roomsDue(t, nowIso, after, this.batch);
      if (due.length === 0) return;
      this.#applyDue(t, nowIso, due);
      if (due.length < this.batch) return;
      after = due[due.length - 1]!;
    }
  }

  #applyDue(t: TenantDb, nowIso: string, due: string[]): void {
    this.events.transaction(t, (tx) => {
      for (const id of due) {
        const room = findRoom(t, id);
        if (!room || room.status === "released" || room.status === "active" || this.isRunning(t.tenant, room.id)) continue;
        if (room.status === "releasing") {
          // Begun and never completed (its second step failed, or its caller stopped): no worker runs, so finish it.
          if (room.releaseAt && room.releaseAt <= nowIso) completeRelease(t, tx, room.id, "release completed by the lifecycle sweep");
        } else if (room.releaseAt && room.releaseAt <= nowIso) {
          beginRelease(t, tx, room, "release_after_s");
          completeRelease(t, tx, room.id, "release_after_s");
        } else if (room.sleepAt && room.sleepAt <= nowIso && room.status === "idle") {
          updateRoom(t, room.id, { status: "sleeping", sleepAt: null, updatedAt: tx.nowIso });
          tx.emit(room.id, { event_type: "room:sleeping", payload: { reason: "idle_timeout" } });
        } else if (room.sleepAt && room.sleepAt <= nowIso) {
          updateRoom(t, room.id, { sleepAt: null });
        }
      }
    });
  }
}
