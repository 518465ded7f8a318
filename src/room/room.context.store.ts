/**
 * Rows of the context attached to a room (`room_context`): synchronous
 * queries on a tenant-bound handle. The per-turn read is a named prepared
 * statement (it runs at the start of every turn); the rest are cold.
 */
import { and, asc, count, eq, sql } from "drizzle-orm";
import { statement } from "../storage/repository.js";
import { roomContext } from "../storage/schema.js";
import type { TenantDb } from "../storage/tenant-db.js";

export type ContextRow = typeof roomContext.$inferSelect;

const q = {
  ofRoom: statement("roomContext.ofRoom", ({ db }) =>
    db
      .select({ id: roomContext.id, name: roomContext.name, content: roomContext.content })
      .from(roomContext)
      .where(eq(roomContext.roomId, sql.placeholder("roomId")))
      .orderBy(asc(roomContext.createdAt), asc(roomContext.id))
      .prepare(),
  ),
};

/** The room's attached texts, oldest first (what a turn's model request carries). */
export function contextOfRoom(t: TenantDb, roomId: string): Array<{ id: string; name: string; content: string }> {
  return q.ofRoom.on(t).all({ roomId });
}

/** The room's attachments without their text, oldest first. */
export function listContext(t: TenantDb, roomId: string): Array<{ id: string; name: string; chars: number; createdAt: string }> {
  return t.db
    .select({ id: roomContext.id, name: roomContext.name, chars: sql<number>`length(${roomContext.content})`, createdAt: roomContext.createdAt })
    .from(roomContext)
    .where(eq(roomContext.roomId, roomId))
    .orderBy(asc(roomContext.createdAt), asc(roomContext.id))
    .all();
}

export function insertContext(t: TenantDb, row: ContextRow): void {
  t.db.insert(roomContext).values(row).run();
}

export function findContext(t: TenantDb, roomId: string, id: string): ContextRow | undefined {
  return t.db.select().from(roomContext).where(and(eq(roomContext.roomId, roomId), eq(roomContext.id, id))).get();
}

export function deleteContext(t: TenantDb, id: string): void {
  t.db.delete(roomContext).where(eq(roomContext.id, id)).run();
}

/** How many texts are attached and their total length, for the per-room bounds. */
export function contextSize(t: TenantDb, roomId: string): { n: number; chars: number } {
  const row = t.db
    .select({ n: count(), chars: sql<number>`coalesce(sum(length(${roomContext.content})), 0)` })
    .from(roomContext)
    .where(eq(roomContext.roomId, roomId))
    .get();
  return { n: row?.n ?? 0, chars: row?.chars ?? 0 };
}
