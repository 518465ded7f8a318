/**
 * The wake policy's clocks: `idle_timeout_s` puts an idle room to sleep and
 * `release_after_s` releases a room nobody used. Deadlines are columns
 * (sleep_at, release_at) so a sweep is one indexed query per open tenant;
 * a tenant is also swept the moment its file is opened, so a closed tenant's
 * deadlines are applied before anyone can observe them.
 */
import type { Logger } from "pino";
import type { EventLog } from "../events/event.log.js";
import { beginRelease, completeRelease } from "../room/room.lifecycle.js";
import { findRoom, roomsDue, updateRoom } from "../room/room.store.js";
import type { TenantDatabases, TenantDb } from "../storage/tenant-db.js";

/**
 * Rooms per sweep transaction. Thousands of rooms can fall due together
 * (rented in one burst, or deadlines that passed while the server was down);
 * one transaction for all of them held every row, event and dirty page at once.
 */
const SWEEP_BATCH = 256;

export class LifecycleTimers {
  #timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly tenants: TenantDatabases,
    private readonly events: EventLog,
    private readonly isRunning: (tenant: string, roomId: string) => boolean,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
    private readonly batch: number = SWEEP_BATCH,
  ) {}

  start(everyMs: number): void {
    this.#timer = setInterval(() => this.sweepAll(), everyMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  sweepAll(): void {
    for (const tenant of this.tenants.openTenants()) {
      try {
        this.sweep(this.tenants.get(tenant));
      } catch (err) {
        this.log.warn({ err, tenant }, "lifecycle sweep failed; will retry");
      }
    }
    this.tenants.closeIdle();
  }

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
        if (room.releaseAt && room.releaseAt <= nowIso) {
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
