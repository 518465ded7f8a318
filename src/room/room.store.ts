/**
 * Room, message and turn rows: synchronous queries on a tenant-bound handle,
 * by the rule of storage/repository.ts (named prepared statements and
 * RowWriter on hot paths, drizzle's builder on cold ones). Nothing here knows
 * HTTP or lifecycle rules; callers run these inside their own transactions.
 *
 * Room rows are served from a committed-row cache (`roomRows`), private to
 * this file: every write of a room row goes through `writeRoom`, which drops
 * the row from the cache first, so no write can leave a stale row behind.
 */
import { and, asc, desc, eq, gt, inArray, isNotNull, lt, lte, ne, or, sql } from "drizzle-orm";
import { statement } from "../storage/repository.js";
import { RowCache } from "../storage/row-cache.js";
import { RowWriter } from "../storage/row-writer.js";
import { roomMessages, rooms, roomTurns } from "../storage/schema.js";
import type { TenantDb } from "../storage/tenant-db.js";

export type RoomRow = typeof rooms.$inferSelect;
export type NewRoomRow = typeof rooms.$inferInsert;
export type MessageRow = typeof roomMessages.$inferSelect;
export type NewMessageRow = typeof roomMessages.$inferInsert;
export type TurnRow = typeof roomTurns.$inferSelect;
export type NewTurnRow = typeof roomTurns.$inferInsert;

const roomWriter = new RowWriter(rooms);
const messageWriter = new RowWriter(roomMessages);
const turnWriter = new RowWriter(roomTurns);

/** Committed room rows, about 1-2 KB each; see the file comment. */
const roomRows = new RowCache<RoomRow>(2_000);

/** The only way a room row is written: the cached row goes first, inside the caller's transaction. */
function writeRoom<T>(t: TenantDb, id: string, write: () => T): T {
  roomRows.forget(t, id);
  return write();
}

const q = {
  findRoom: statement("rooms.find", ({ db }) =>
    db
      .select()
      .from(rooms)
      .where(eq(rooms.id, sql.placeholder("id")))
      .prepare(),
  ),
  countLiveRooms: statement("rooms.countLive", ({ db }) =>
    db
      .select({ n: sql<number>`count(*)` })
      .from(rooms)
      .where(ne(rooms.status, "released"))
      .prepare(),
  ),
  nextMessageSeq: statement("rooms.nextMessageSeq", ({ db }) =>
    db
      .update(rooms)
      .set({ lastMessageSeq: sql`${rooms.lastMessageSeq} + 1` })
      .where(eq(rooms.id, sql.placeholder("id")))
      .returning({ seq: rooms.lastMessageSeq })
      .prepare(),
  ),
  findMessage: statement("messages.find", ({ db }) =>
    db
      .select()
      .from(roomMessages)
      .where(and(eq(roomMessages.roomId, sql.placeholder("roomId")), eq(roomMessages.id, sql.placeholder("id"))))
      .prepare(),
  ),
  messageContent: statement("messages.content", ({ db }) =>
    db
      .select({ content: roomMessages.content })
      .from(roomMessages)
      .where(and(eq(roomMessages.id, sql.placeholder("id")), eq(roomMessages.roomId, sql.placeholder("roomId"))))
      .prepare(),
  ),
  listMessages: statement("messages.list", ({ db }) =>
    db
      .select()
      .from(roomMessages)
      .where(and(eq(roomMessages.roomId, sql.placeholder("roomId")), lt(roomMessages.seq, sql.placeholder("beforeSeq"))))
      .orderBy(desc(roomMessages.seq))
      .limit(sql.placeholder("limit"))
      .prepare(),
  ),
  conversationBefore: statement("messages.conversationBefore", ({ db }) =>
    db
      .select()
      .from(roomMessages)
      .where(
        and(
          eq(roomMessages.roomId, sql.placeholder("roomId")),
          lt(roomMessages.seq, sql.placeholder("beforeSeq")),
          inArray(roomMessages.kind, ["message", "task", "output"]),
          inArray(roomMessages.status, ["done", "running"]),
        ),
      )
      .orderBy(desc(roomMessages.seq))
      .limit(sql.placeholder("limit"))
      .prepare(),
  ),
  findTurn: statement("turns.find", ({ db }) =>
    db
      .select()
      .from(roomTurns)
      .where(eq(roomTurns.id, sql.placeholder("id")))
      .prepare(),
  ),
};

export function insertRoom(t: TenantDb, row: NewRoomRow): RoomRow {
  return writeRoom(t, row.id, () => roomWriter.insert(t, row));
}

/** The room row; outside a transaction it may come from the committed-row cache (frozen: never mutate it). */
export function findRoom(t: TenantDb, id: string): RoomRow | undefined {
  return roomRows.read(t, id, () => q.findRoom.on(t).get({ id }));
}

export interface RoomListFilter {
  statuses: readonly string[] | null;
  name: string | null;
  limit: number;
  /** Keyset cursor: rooms strictly older than (rentedAt, id). */
  before: { rentedAt: string; id: string } | null;
}

/** Newest first, keyset-paged on (rented_at, id) so pages never skip or repeat a room. */
export function listRooms(t: TenantDb, f: RoomListFilter): RoomRow[] {
  const conds = [
    f.statuses ? inArray(rooms.status, [...f.statuses]) : ne(rooms.status, "released"),
    f.name !== null ? eq(rooms.name, f.name) : undefined,
    f.before ? or(lt(rooms.rentedAt, f.before.rentedAt), and(eq(rooms.rentedAt, f.before.rentedAt), lt(rooms.id, f.before.id))) : undefined,
  ];
  return t.db
    .select()
    .from(rooms)
    .where(and(...conds))
    .orderBy(desc(rooms.rentedAt), desc(rooms.id))
    .limit(f.limit)
    .all();
}

export function countLiveRooms(t: TenantDb): number {
  return q.countLiveRooms.on(t).get()?.n ?? 0;
}

/** Writes the changes; with `expectedVersion`, only if the row still has it. Returns the new row, or undefined when nothing matched. */
export function updateRoom(t: TenantDb, id: string, changes: Partial<NewRoomRow>, expectedVersion?: number): RoomRow | undefined {
  return writeRoom(t, id, () => roomWriter.updateReturning(t, changes, expectedVersion === undefined ? { id } : { id, version: expectedVersion }));
}

/** Hands out the room's next message seq (gap-free: only a committed transaction keeps it). */
export function nextMessageSeq(t: TenantDb, roomId: string): number {
  const row = writeRoom(t, roomId, () => q.nextMessageSeq.on(t).get({ id: roomId }));
  if (!row) throw new Error(`room ${roomId} vanished inside its transaction`);
  return row.seq;
}

export function insertMessage(t: TenantDb, row: NewMessageRow): MessageRow {
  return messageWriter.insert(t, row);
}

export function findMessage(t: TenantDb, roomId: string, id: string): MessageRow | undefined {
  return q.findMessage.on(t).get({ roomId, id });
}

/** A message's content alone (the room stream's codec reads an output's text from here). */
export function messageContent(t: TenantDb, roomId: string, id: string): string | undefined {
  return q.messageContent.on(t).get({ roomId, id })?.content;
}

export function updateMessage(t: TenantDb, id: string, changes: Partial<NewMessageRow>): MessageRow | undefined {
  return messageWriter.updateReturning(t, changes, { id });
}

/** The newest `limit` messages with seq < beforeSeq, returned ascending. */
export function listMessages(t: TenantDb, roomId: string, limit: number, beforeSeq: number | null): MessageRow[] {
  return q.listMessages.on(t).all({ roomId, beforeSeq: beforeSeq ?? Number.MAX_SAFE_INTEGER, limit }).reverse();
}

/** The conversation so far (user messages and agent outputs), oldest first, for the model's context. */
export function conversationBefore(t: TenantDb, roomId: string, beforeSeq: number, limit: number): MessageRow[] {
  return q.conversationBefore.on(t).all({ roomId, beforeSeq, limit }).reverse();
}

export function insertTurn(t: TenantDb, row: NewTurnRow): TurnRow {
  return turnWriter.insert(t, row);
}

export function updateTurn(t: TenantDb, id: string, changes: Partial<NewTurnRow>): void {
  turnWriter.update(t, changes, { id });
}

export function findTurn(t: TenantDb, id: string): TurnRow | undefined {
  return q.findTurn.on(t).get({ id });
}

/** Turns still marked running: after a crash, these are the ones that never ended. */
export function runningTurns(t: TenantDb): TurnRow[] {
  return t.db.select().from(roomTurns).where(eq(roomTurns.status, "running")).orderBy(asc(roomTurns.startedAt)).all();
}

/** Ids of rooms with a sleep or release deadline at or before `nowIso`, after `afterId` in id order, at most `limit`. */
export function roomsDue(t: TenantDb, nowIso: string, afterId: string, limit: number): string[] {
  return t.db
    .select({ id: rooms.id })
    .from(rooms)
    .where(and(gt(rooms.id, afterId), or(and(isNotNull(rooms.sleepAt), lte(rooms.sleepAt, nowIso)), and(isNotNull(rooms.releaseAt), lte(rooms.releaseAt, nowIso)))))
    .orderBy(asc(rooms.id))
    .limit(limit)
    .all()
    .map((r) => r.id);
}

/** Rooms that need a worker or a timer after boot: anything not released and not sleeping with no deadline. */
export function roomsInStatus(t: TenantDb, statuses: readonly string[]): RoomRow[] {
  return t.db.select().from(rooms).where(inArray(rooms.status, [...statuses])).all();
}

/** Ids of rooms in one of `statuses`, after `afterId` in id order, at most `limit`: a batched pass over many rooms. */
export function roomIdsInStatus(t: TenantDb, statuses: readonly string[], afterId: string, limit: number): string[] {
  return t.db
    .select({ id: rooms.id })
    .from(rooms)
    .where(and(inArray(rooms.status, [...statuses]), gt(rooms.id, afterId)))
    .orderBy(asc(rooms.id))
    .limit(limit)
    .all()
    .map((r) => r.id);
}

/** The agent message (`output` or `partial`) a turn wrote, found after its trigger's seq (it is stored at the turn's end). */
export function findTurnReply(t: TenantDb, roomId: string, afterSeq: number, turnId: string): MessageRow | undefined {
  return t.db
    .select()
    .from(roomMessages)
    .where(and(eq(roomMessages.roomId, roomId), gt(roomMessages.seq, afterSeq), eq(roomMessages.turnId, turnId), eq(roomMessages.authorKind, "agent")))
    .orderBy(asc(roomMessages.seq))
    .limit(1)
    .get();
}
