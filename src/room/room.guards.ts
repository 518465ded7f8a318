/**
 * The checks every room verb makes before it writes: the room exists for
 * this tenant, is not released, and is at the version the caller expects.
 * Shared by the room service and the roster and context verbs.
 */
import { AppError } from "../errors.js";
import type { TenantDb } from "../storage/tenant-db.js";
import { findRoom, type RoomRow } from "./room.store.js";

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The tenant's room, or 404 (another tenant's id is 404 too: it is not in this tenant's file). */
export function roomOr404(t: TenantDb, id: string): RoomRow {
  const room = UUID_RE.test(id) ? findRoom(t, id) : undefined;
  if (!room) throw new AppError("ROOM_NOT_FOUND", "no such room for this tenant (ids are never shared across tenants); list yours with GET /llm/room");
  return room;
}

export function assertNotReleased(room: RoomRow): void {
  if (room.status === "released" || room.status === "releasing") {
    throw new AppError("ROOM_RELEASED", "the room is released; rent a new one with POST /llm/room");
  }
}

export function checkVersion(room: RoomRow, ifMatch: number | undefined): void {
  if (ifMatch !== undefined && ifMatch !== room.version) {
    throw new AppError("VERSION_CONFLICT", `room is at version ${room.version}, not ${ifMatch}; GET it and retry with If-Match: ${room.version}`, {
      details: { current_version: room.version },
    });
  }
}
