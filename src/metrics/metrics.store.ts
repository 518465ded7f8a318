/**
 * The one query metrics run: room counts by status in one tenant file, read
 * at scrape time only. It walks the rooms_status_rented_idx index (status
 * first), so it touches no table row.
 */
import { sql } from "drizzle-orm";
import { ROOM_STATUSES } from "../room/room.schemas.js";
import { statement } from "../storage/repository.js";
import { rooms } from "../storage/schema.js";
import type { TenantDb } from "../storage/tenant-db.js";

/** Every status the gauge reports, 0 when no room has it. */
export const ROOM_STATUSES_COUNTED: readonly string[] = ROOM_STATUSES;

const countsByStatus = statement("metrics.roomCountsByStatus", ({ db }) =>
  db
    .select({ status: rooms.status, n: sql<number>`count(*)` })
    .from(rooms)
    .groupBy(rooms.status)
    .prepare(),
);

export function roomCountsByStatus(t: TenantDb): { status: string; n: number }[] {
  return countsByStatus.on(t).all();
}
