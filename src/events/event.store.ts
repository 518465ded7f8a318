/**
 * The durable room event log. `append` must run inside a transaction: it
 * takes the room's next seq and inserts in the same write, so seqs are
 * gap-free and a rolled-back transaction leaves no hole. When a turn ends its
 * events are compacted into a segment (event.segment.ts): a room's history is
 * its segments (seqs 1..n) followed by its live room_events rows (n+1..),
 * and reads take both. Reads rebuild `partial.text` (see event.text.ts).
 */
import type Database from "better-sqlite3";
import { roomRows } from "../storage/row-cache.js";
import type { TenantDb } from "../storage/tenant-db.js";
import { decodeSegment, encodeSegment, type DecodedEventRow, type StoredEventRow } from "./event.segment.js";
import { advance, fill, type TextFold } from "./event.text.js";
import type { RoomEvent } from "./event.types.js";

type EventRow = StoredEventRow;

interface SegmentRow {
  first_seq: number;
  last_seq: number;
  events: Buffer;
}

interface Statements {
  setLastSeq: Database.Statement<[number, string]>;
  insert: Database.Statement<[string, number, string, string | null, string | null, string, string]>;
  after: Database.Statement<[string, number, number], EventRow>;
  latest: Database.Statement<[string, number, number], EventRow>;
  lastStart: Database.Statement<[string, number], { seq: number }>;
  deltasBetween: Database.Statement<[string, number, number], { payload: string }>;
  lastSeq: Database.Statement<[string], { seq: number }>;
  messageContent: Database.Statement<[string, string], { content: string }>;
  liveUpTo: Database.Statement<[string, number], EventRow>;
  deleteUpTo: Database.Statement<[string, number]>;
  insertSegment: Database.Statement<[string, number, number, Buffer]>;
  segmentAfter: Database.Statement<[string, number], SegmentRow>;
  segmentBefore: Database.Statement<[string, number], SegmentRow>;
}

const statements = new WeakMap<Database.Database, Statements>();

function stmts(sqlite: Database.Database): Statements {
  let s = statements.get(sqlite);
  if (!s) {
    s = {
      setLastSeq: sqlite.prepare("UPDATE rooms SET last_event_seq = ? WHERE id = ?"),
      insert: sqlite.prepare(
        "INSERT INTO room_events (room_id, seq, event_type, agent_key, turn_id, payload, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      ),
      after: sqlite.prepare(
        "SELECT seq, event_type, agent_key, turn_id, payload, created_at FROM room_events WHERE room_id = ? AND seq > ? ORDER BY seq LIMIT ?",
      ),
      latest: sqlite.prepare(
        "SELECT seq, event_type, agent_key, turn_id, payload, created_at FROM room_events WHERE room_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
      ),
      lastStart: sqlite.prepare(
        "SELECT seq FROM room_events WHERE room_id = ? AND seq <= ? AND event_type = 'pi:message_start' ORDER BY seq DESC LIMIT 1",
      ),
      deltasBetween: sqlite.prepare(
        "SELECT payload FROM room_events WHERE room_id = ? AND seq > ? AND seq <= ? AND event_type = 'pi:message_update' ORDER BY seq",
      ),
      lastSeq: sqlite.prepare("SELECT last_event_seq AS seq FROM rooms WHERE id = ?"),
      messageContent: sqlite.prepare("SELECT content FROM room_messages WHERE id = ? AND room_id = ?"),
      liveUpTo: sqlite.prepare("SELECT seq, event_type, agent_key, turn_id, payload, created_at FROM room_events WHERE room_id = ? AND seq <= ? ORDER BY seq"),
      deleteUpTo: sqlite.prepare("DELETE FROM room_events WHERE room_id = ? AND seq <= ?"),
      insertSegment: sqlite.prepare("INSERT INTO room_event_segments (room_id, first_seq, last_seq, events) VALUES (?, ?, ?, ?)"),
      // One segment per query (not an iterator: hydrating runs other statements, which an open iterator forbids).
      segmentAfter: sqlite.prepare("SELECT first_seq, last_seq, events FROM room_event_segments WHERE room_id = ? AND last_seq > ? ORDER BY last_seq LIMIT 1"),
      segmentBefore: sqlite.prepare("SELECT first_seq, last_seq, events FROM room_event_segments WHERE room_id = ? AND last_seq < ? ORDER BY last_seq DESC LIMIT 1"),
    };
    statements.set(sqlite, s);
  }
  return s;
}

export function eventId(roomId: string, seq: number): string {
  return `${roomId}:${seq}`;
}

/**
 * Inserts one event row, its payload already in stored form (see
 * event.text.ts) and serialised, at the seq the caller took from its
 * SeqCounter; the caller holds the transaction.
 */
export function appendEvent(t: TenantDb, roomId: string, row: StoredEventRow): void {
  stmts(t.sqlite).insert.run(roomId, row.seq, row.event_type, row.agent_key, row.turn_id, row.payload, row.created_at);
}

/**
 * Hands out gap-free per-room seqs inside one transaction: each room's last
 * seq is read once, counted up in memory, and written back once by
 * `writeBack` before commit. A rolled-back transaction writes nothing, so
 * the next one starts from the same number. (One UPDATE per room per
 * transaction instead of one per event: rewriting the room row per event
 * was half the cost of a streamed delta.)
 */
export class SeqCounter {
  readonly #next = new Map<string, number>();

  constructor(private readonly t: TenantDb) {}

  /** The seq of the event now being appended to the room. */
  take(roomId: string): number {
    let last = this.#next.get(roomId);
    if (last === undefined) {
      const row = stmts(this.t.sqlite).lastSeq.get(roomId);
      if (!row) throw new Error(`cannot append to room ${roomId}: no such room`);
      last = row.seq;
    }
    this.#next.set(roomId, last + 1);
    return last + 1;
  }

  /** The room's last seq as this transaction sees it. */
  last(roomId: string): number {
    return this.#next.get(roomId) ?? lastEventSeq(this.t, roomId);
  }

  writeBack(): void {
    const s = stmts(this.t.sqlite);
    for (const [roomId, seq] of this.#next) {
      roomRows.forget(this.t, roomId);
      s.setLastSeq.run(seq, roomId);
    }
  }
}

export function lastEventSeq(t: TenantDb, roomId: string): number {
  return stmts(t.sqlite).lastSeq.get(roomId)?.seq ?? 0;
}

/** The text fold as it stood right after `seq`: what partial.text was at that point of the message. */
export function foldAt(t: TenantDb, roomId: string, seq: number): TextFold {
  const s = stmts(t.sqlite);
  const fold: TextFold = { text: "" };
  const start = s.lastStart.get(roomId, seq);
  if (!start) return fold;
  for (const r of s.deltasBetween.all(roomId, start.seq, seq)) advance(fold, "pi:message_update", JSON.parse(r.payload) as Record<string, unknown>);
  return fold;
}

/** The reader's view of an `agent:output` payload: its text is the output message's content, stored once. */
export function fillOutput(t: TenantDb, roomId: string, stored: Record<string, unknown>): Record<string, unknown> {
  if ("text" in stored || typeof stored["message_id"] !== "string") return stored;
  const row = stmts(t.sqlite).messageContent.get(stored["message_id"], roomId);
  return { ...stored, text: row?.content ?? "" };
}

function parsed(rows: EventRow[]): DecodedEventRow[] {
  return rows.map((r) => ({ ...r, payload: JSON.parse(r.payload) as Record<string, unknown> }));
}

/**
 * Rows as readers see them. `fold` is the text fold as it stood before the
 * first row; null means "look it up" (a live read may start mid-message).
 */
function hydrate(t: TenantDb, roomId: string, rows: DecodedEventRow[], fold: TextFold | null = null): RoomEvent[] {
  return rows.map((r) => {
    const stored = r.payload;
    let payload = stored;
    if (r.event_type.startsWith("pi:")) {
      fold ??= r.event_type === "pi:message_start" ? { text: "" } : foldAt(t, roomId, r.seq - 1);
      advance(fold, r.event_type, stored);
      payload = fill(fold, r.event_type, stored);
    } else if (r.event_type === "agent:output") {
      payload = fillOutput(t, roomId, stored);
    }
    return {
      id: eventId(roomId, r.seq),
      seq: r.seq,
      room_id: roomId,
      event_type: r.event_type,
      agent_key: r.agent_key,
      turn_id: r.turn_id,
      payload,
      created_at: r.created_at,
    };
  });
}

/** A segment's events as readers see them. A segment starts at a turn boundary, so its fold starts empty. */
function hydrateSegment(t: TenantDb, roomId: string, seg: SegmentRow): RoomEvent[] {
  return hydrate(t, roomId, decodeSegment(seg.events, seg.first_seq), { text: "" });
}

/** The live rows a caller said it knew are not what the table holds: nothing of that attempt may be kept. */
class StaleLiveRows extends Error {}

/**
 * Moves the room's live events with seq <= `upToSeq` into one segment. Call
 * it inside the transaction that emitted a turn's `agent:turn_end`, with that
 * event's seq: no message is in progress there, so every message of the
 * segment is whole and the live rows after it never need its text. Returns
 * how many events moved (0 when there were none).
 *
 * `known` are those live rows as the caller appended them, which spares
 * reading them back. They are checked, not trusted: they must be gap-free and
 * end at `upToSeq`, and the delete must remove exactly that many rows (none
 * older were left out), or the attempt is rolled back (its own savepoint) and
 * the rows are read from SQL after all.
 */
export function compactEvents(t: TenantDb, roomId: string, upToSeq: number, known?: readonly StoredEventRow[]): number {
  const s = stmts(t.sqlite);
  // Rows another writer appended in between leave a gap in what the caller knows.
  if (known && known.length > 0 && known[known.length - 1]!.seq === upToSeq && upToSeq - known[0]!.seq + 1 === known.length) {
    try {
      return t.sqlite.transaction(() => {
        s.insertSegment.run(roomId, known[0]!.seq, upToSeq, encodeSegment(known));
        if (s.deleteUpTo.run(roomId, upToSeq).changes !== known.length) throw new StaleLiveRows();
        return known.length;
      })();
    } catch (err) {
      if (!(err instanceof StaleLiveRows)) throw err;
    }
  }
  const rows = s.liveUpTo.all(roomId, upToSeq);
  if (rows.length === 0) return 0;
  s.insertSegment.run(roomId, rows[0]!.seq, rows[rows.length - 1]!.seq, encodeSegment(rows));
  s.deleteUpTo.run(roomId, upToSeq);
  return rows.length;
}

/** Events with seq > afterSeq, ascending, at most `limit`, as readers see them. */
export function readEventsAfter(t: TenantDb, roomId: string, afterSeq: number, limit: number): RoomEvent[] {
  const s = stmts(t.sqlite);
  const out: RoomEvent[] = [];
  let cursor = afterSeq;
  // Segments are decoded one at a time and only as far as the page needs.
  for (let seg = s.segmentAfter.get(roomId, cursor); seg; seg = s.segmentAfter.get(roomId, cursor)) {
    for (const ev of hydrateSegment(t, roomId, seg)) if (ev.seq > afterSeq && out.length < limit) out.push(ev);
    cursor = seg.last_seq;
    if (out.length >= limit) return out;
  }
  const live = hydrate(t, roomId, parsed(s.after.all(roomId, cursor, limit - out.length)));
  return out.length === 0 ? live : out.concat(live);
}

/** The newest `limit` events with seq < beforeSeq, ascending. */
export function readEventsBefore(t: TenantDb, roomId: string, beforeSeq: number, limit: number): RoomEvent[] {
  const s = stmts(t.sqlite);
  const live = hydrate(t, roomId, parsed(s.latest.all(roomId, beforeSeq, limit).reverse()));
  if (live.length >= limit) return live;
  // Every live row is newer than every segment: what is missing comes from the newest segments.
  const older: RoomEvent[][] = [];
  let missing = limit - live.length;
  // The newest segment holding a seq < beforeSeq is the one with the smallest last_seq >= beforeSeq, or else the newest below it.
  let seg = s.segmentAfter.get(roomId, beforeSeq - 1);
  if (!seg || seg.first_seq >= beforeSeq) seg = s.segmentBefore.get(roomId, beforeSeq);
  while (seg && missing > 0) {
    const events = hydrateSegment(t, roomId, seg).filter((ev) => ev.seq < beforeSeq);
    const taken = events.slice(Math.max(0, events.length - missing));
    older.push(taken);
    missing -= taken.length;
    seg = s.segmentBefore.get(roomId, seg.first_seq);
  }
  return older.reverse().flat().concat(live);
}
