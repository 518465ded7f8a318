/**
 * The durable event log of every stream kind (event.stream.ts), keyed by
 * `(kind, stream id)`. The write half (`appendRow`, `openStream`,
 * `saveStream`, `compactEvents`) runs inside the EventLog's transaction,
 * which takes each stream's seq from `event_streams` once and writes it back
 * once, so seqs are gap-free and a rolled-back transaction leaves no hole.
 * When a kind's compaction event is appended its events are compacted into a
 * segment (event.segment.ts): a stream's history is its segments (seqs 1..n)
 * followed by its live rows (n+1..), and reads take both. Live rows are
 * appended to `stream_events_journal` in the order written, so one commit's
 * events share its pages, and move into `stream_events` (keyed by stream)
 * in bulk (`settleJournal`); a read of live rows takes both tables.
 * Reads give each event as its kind's wire record, payloads rebuilt by its
 * codec. Nothing here knows any kind's tables: a codec that keeps text
 * elsewhere reads it itself (`StreamCodec.view`).
 *
 * Every statement is a named prepared statement in the tenant's Repository
 * (storage/repository.ts), written as SQL text: the rows are not
 * drizzle-shaped and this is the per-event path.
 */
import { statement } from "../storage/repository.js";
import type { TenantDb } from "../storage/tenant-db.js";
import { decodeSegment, encodeSegment, type DecodedEventRow, type StoredEventRow } from "./event.segment.js";
import type { CodecLog, Payload, StreamKind, StreamRecord } from "./event.stream.js";

interface SegmentRow {
  first_seq: number;
  last_seq: number;
  events: Buffer;
}

/** A stream's row in event_streams. */
export interface StreamRow {
  last_seq: number;
  closed_seq: number | null;
}

const COLUMNS = "seq, event_type, agent_key, turn_id, payload, created_at";

/**
 * A stream's live rows are in two tables (schema.ts): stream_events, keyed by
 * stream, and stream_events_journal, in the order they were appended, where
 * every append goes. This is both, with the same filter on each (kind,
 * stream id, then the statement's own): the first read by its key, the
 * second by a scan of a table kept small. Its parameters come twice, once
 * per table, then the statement's own after the union.
 */
const live = (where: string, columns = COLUMNS) =>
  `SELECT ${columns} FROM stream_events WHERE kind = ? AND stream_id = ? AND ${where} UNION ALL SELECT ${columns} FROM stream_events_journal WHERE kind = ? AND stream_id = ? AND ${where}`;

/** Rows the journal may hold before the next transaction moves them into stream_events (see `settleJournal`). */
export const JOURNAL_MAX_ROWS = 2048;

const q = {
  insert: statement("events.insert", ({ sqlite }) =>
    sqlite.prepare<[string, string, number, string, string | null, string | null, string, string]>(
      "INSERT INTO stream_events_journal (kind, stream_id, seq, event_type, agent_key, turn_id, payload, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    ),
  ),
  settle: statement("events.settle", ({ sqlite }) =>
    sqlite.prepare(
      "INSERT INTO stream_events (kind, stream_id, seq, event_type, agent_key, turn_id, payload, created_at) SELECT kind, stream_id, seq, event_type, agent_key, turn_id, payload, created_at FROM stream_events_journal ORDER BY kind, stream_id, seq",
    ),
  ),
  emptyJournal: statement("events.emptyJournal", ({ sqlite }) => sqlite.prepare("DELETE FROM stream_events_journal")),
  stream: statement("events.stream", ({ sqlite }) => sqlite.prepare<[string, string], StreamRow>("SELECT last_seq, closed_seq FROM event_streams WHERE kind = ? AND stream_id = ?")),
  openStream: statement("events.openStream", ({ sqlite }) =>
    sqlite.prepare<[string, string, number, number | null]>("INSERT INTO event_streams (kind, stream_id, last_seq, closed_seq) VALUES (?, ?, ?, ?)"),
  ),
  saveStream: statement("events.saveStream", ({ sqlite }) =>
    sqlite.prepare<[number, number | null, string, string]>("UPDATE event_streams SET last_seq = ?, closed_seq = coalesce(closed_seq, ?) WHERE kind = ? AND stream_id = ?"),
  ),
  after: statement("events.after", ({ sqlite }) =>
    sqlite.prepare<[string, string, number, string, string, number, number], StoredEventRow>(`${live("seq > ?")} ORDER BY seq LIMIT ?`),
  ),
  latest: statement("events.latest", ({ sqlite }) =>
    sqlite.prepare<[string, string, number, string, string, number, number], StoredEventRow>(`${live("seq < ?")} ORDER BY seq DESC LIMIT ?`),
  ),
  lastOf: statement("events.lastOf", ({ sqlite }) =>
    sqlite.prepare<[string, string, number, string, string, string, number, string], { seq: number }>(`${live("seq <= ? AND event_type = ?", "seq")} ORDER BY seq DESC LIMIT 1`),
  ),
  payloadsOf: statement("events.payloadsOf", ({ sqlite }) =>
    sqlite.prepare<[string, string, number, number, string, string, string, number, number, string], { payload: string; seq: number }>(
      `${live("seq > ? AND seq <= ? AND event_type = ?", "payload, seq")} ORDER BY seq`,
    ),
  ),
  liveUpTo: statement("events.liveUpTo", ({ sqlite }) =>
    sqlite.prepare<[string, string, number, string, string, number], StoredEventRow>(`${live("seq <= ?")} ORDER BY seq`),
  ),
  deleteUpTo: statement("events.deleteUpTo", ({ sqlite }) => sqlite.prepare<[string, string, number]>("DELETE FROM stream_events WHERE kind = ? AND stream_id = ? AND seq <= ?")),
  deleteJournalUpTo: statement("events.deleteJournalUpTo", ({ sqlite }) =>
    sqlite.prepare<[string, string, number]>("DELETE FROM stream_events_journal WHERE kind = ? AND stream_id = ? AND seq <= ?"),
  ),
  insertSegment: statement("events.insertSegment", ({ sqlite }) =>
    sqlite.prepare<[string, string, number, number, Buffer]>("INSERT INTO stream_event_segments (kind, stream_id, first_seq, last_seq, events) VALUES (?, ?, ?, ?, ?)"),
  ),
  // One segment per query (not an iterator: hydrating runs other statements, which an open iterator forbids).
  segmentAfter: statement("events.segmentAfter", ({ sqlite }) =>
    sqlite.prepare<[string, string, number], SegmentRow>(
      "SELECT first_seq, last_seq, events FROM stream_event_segments WHERE kind = ? AND stream_id = ? AND last_seq > ? ORDER BY last_seq LIMIT 1",
    ),
  ),
  segmentBefore: statement("events.segmentBefore", ({ sqlite }) =>
    sqlite.prepare<[string, string, number], SegmentRow>(
      "SELECT first_seq, last_seq, events FROM stream_event_segments WHERE kind = ? AND stream_id = ? AND last_seq < ? ORDER BY last_seq DESC LIMIT 1",
    ),
  ),
};

/** The stream's row, or undefined when nothing was ever appended to it. */
export function findStream(t: TenantDb, kind: string, streamId: string): StreamRow | undefined {
  return q.stream.on(t).get(kind, streamId);
}

/** Inserts one event row, its payload already in stored form and serialised, at the seq the caller took; the caller holds the transaction. */
export function appendRow(t: TenantDb, kind: string, streamId: string, row: StoredEventRow): void {
  q.insert.on(t).run(kind, streamId, row.seq, row.event_type, row.agent_key, row.turn_id, row.payload, row.created_at);
}

/** Rows each open file's journal holds, as far as this process knows (absent: not known since the file opened). */
const journalRows = new WeakMap<TenantDb, number>();

/**
 * Called inside a transaction that appended `appended` rows, before it
 * commits: when the file's journal holds more than JOURNAL_MAX_ROWS, or this
 * is the file's first write since it opened (what the journal holds is not
 * known), its rows move into stream_events, sorted by stream, so each
 * stream's rows of the last few hundred milliseconds go in together: a
 * stream's page is written once per move instead of once per commit. The
 * count is a bound's bookkeeping only: a transaction that rolls back leaves
 * it off, and reads never depend on it.
 */
export function settleJournal(t: TenantDb, appended: number): void {
  const held = journalRows.get(t);
  const now = (held ?? JOURNAL_MAX_ROWS + 1) + appended;
  if (now <= JOURNAL_MAX_ROWS) {
    journalRows.set(t, now);
    return;
  }
  moveJournal(t);
}

/** Moves the file's journal into stream_events now, in a transaction of its own (a file about to close: at rest, its live rows are in one table). */
export function settleJournalNow(t: TenantDb): void {
  t.sqlite.transaction(() => moveJournal(t))();
}

function moveJournal(t: TenantDb): void {
  q.settle.on(t).run();
  q.emptyJournal.on(t).run();
  journalRows.set(t, 0);
}

/** Deletes the stream's live rows with seq <= upToSeq from both tables; returns how many. */
function deleteLiveUpTo(t: TenantDb, kind: string, streamId: string, upToSeq: number): number {
  return q.deleteUpTo.on(t).run(kind, streamId, upToSeq).changes + q.deleteJournalUpTo.on(t).run(kind, streamId, upToSeq).changes;
}

/**
 * Records the stream's last seq (and its terminal event's seq, kept once
 * set) at the end of a transaction that appended to it: one write per
 * stream per transaction, never one per event.
 */
export function saveStream(t: TenantDb, kind: string, streamId: string, lastSeq: number, closedSeq: number | null, isNew: boolean): void {
  if (isNew) q.openStream.on(t).run(kind, streamId, lastSeq, closedSeq);
  else q.saveStream.on(t).run(lastSeq, closedSeq, kind, streamId);
}

/** The stream's last seq (0 for a stream with no event). */
export function lastSeq(t: TenantDb, kind: string, streamId: string): number {
  return findStream(t, kind, streamId)?.last_seq ?? 0;
}

/** True once the stream's terminal event is committed: a follower with nothing left to replay is done. */
export function isClosed(t: TenantDb, kind: string, streamId: string): boolean {
  return (findStream(t, kind, streamId)?.closed_seq ?? null) !== null;
}

/** The stream's stored events, as a codec reads them (live rows only: compacted ones start from its initial state). */
export class StoredLog implements CodecLog {
  constructor(
    readonly t: TenantDb,
    readonly kind: string,
    readonly streamId: string,
  ) {}

  lastOf(eventType: string, atOrBefore: number): number {
    return q.lastOf.on(this.t).get(this.kind, this.streamId, atOrBefore, eventType, this.kind, this.streamId, atOrBefore, eventType)?.seq ?? 0;
  }

  payloadsOf(eventType: string, afterSeq: number, upToSeq: number): Payload[] {
    return q.payloadsOf
      .on(this.t)
      .all(this.kind, this.streamId, afterSeq, upToSeq, eventType, this.kind, this.streamId, afterSeq, upToSeq, eventType)
      .map((r) => JSON.parse(r.payload) as Payload);
  }
}

/** Marks codec state not yet known (a read that starts mid-stream looks it up). */
export const NO_STATE: unique symbol = Symbol("no codec state");

function parsed(rows: StoredEventRow[]): DecodedEventRow[] {
  return rows.map((r) => ({ ...r, payload: JSON.parse(r.payload) as Payload }));
}

/** Rows as readers see them. `state` is the codec state before the first row; NO_STATE means "look it up" (a live read may start mid-message). */
function hydrate<R extends StreamRecord, S>(t: TenantDb, kind: StreamKind<R, S>, streamId: string, rows: readonly DecodedEventRow[], state: S | typeof NO_STATE): R[] {
  const codec = kind.codec;
  let log: StoredLog | undefined;
  return rows.map((r) => {
    let payload = r.payload;
    if (codec !== undefined && codec.rewrites(r.event_type)) {
      log ??= new StoredLog(t, kind.name, streamId);
      let after = codec.initial;
      if (codec.carries(r.event_type)) {
        const before = state !== NO_STATE ? state : codec.restarts(r.event_type) ? codec.initial : codec.stateAt(log, r.seq - 1);
        state = after = codec.advance(before, r.event_type, payload);
      }
      payload = codec.view(after, r.event_type, payload, log);
    }
    return kind.record(streamId, r, payload);
  });
}

/**
 * Recently decoded segments. A reader paging through a long stream (history
 * pages of a long reply, a replay) reads the same segment once per page, and
 * inflating and parsing it was most of each page's cost (about 1 ms for a
 * 500-event turn). A segment never changes once written, so its rows are
 * kept as decoded, frozen because every reader shares them, keyed by the
 * connection and the segment's bounds. Bounded globally, oldest dropped first.
 */
const decodedSegments = new WeakMap<object, Map<string, readonly DecodedEventRow[]>>();
const decodedOrder: { conn: object; key: string; rows: number }[] = [];
let decodedRows = 0;
const DECODED_SEGMENTS_MAX = 16;
const DECODED_ROWS_MAX = 20_000;

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function decodedSegment(t: TenantDb, kind: string, streamId: string, seg: SegmentRow): readonly DecodedEventRow[] {
  const key = `${kind}\u0000${streamId}\u0000${seg.first_seq}\u0000${seg.last_seq}`;
  let byKey = decodedSegments.get(t.sqlite);
  const hit = byKey?.get(key);
  if (hit) return hit;
  const rows = deepFreeze(decodeSegment(seg.events, seg.first_seq));
  if (!byKey) decodedSegments.set(t.sqlite, (byKey = new Map()));
  byKey.set(key, rows);
  decodedOrder.push({ conn: t.sqlite, key, rows: rows.length });
  decodedRows += rows.length;
  while (decodedOrder.length > DECODED_SEGMENTS_MAX || decodedRows > DECODED_ROWS_MAX) {
    const old = decodedOrder.shift()!;
    decodedRows -= old.rows;
    decodedSegments.get(old.conn)?.delete(old.key);
  }
  return rows;
}

/** A segment's events as readers see them. A segment starts at a compaction point, so its codec state starts at `initial`. */
function hydrateSegment<R extends StreamRecord, S>(t: TenantDb, kind: StreamKind<R, S>, streamId: string, seg: SegmentRow): R[] {
  return hydrate(t, kind, streamId, decodedSegment(t, kind.name, streamId, seg), kind.codec ? kind.codec.initial : NO_STATE);
}

/** The live rows a caller said it knew are not what the table holds: nothing of that attempt may be kept. */
class StaleLiveRows extends Error {}

/**
 * Moves the stream's live events with seq <= `upToSeq` into one segment.
 * Call it inside the transaction that appended the kind's compaction event,
 * with that event's seq: every segment then starts and ends at compaction
 * points, so it replays from the codec's initial state and the live rows
 * after it never need its contents. Returns how many events moved (0 when
 * there were none).
 *
 * `known` are those live rows as the caller appended them, which spares
 * reading them back. They are checked, not trusted: they must be gap-free and
 * end at `upToSeq`, and the delete must remove exactly that many rows (none
 * older were left out), or the attempt is rolled back (its own savepoint) and
 * the rows are read from SQL after all.
 */
export function compactEvents(t: TenantDb, kind: string, streamId: string, upToSeq: number, known?: readonly StoredEventRow[]): number {
  // Rows another writer appended in between leave a gap in what the caller knows.
  if (known && known.length > 0 && known[known.length - 1]!.seq === upToSeq && upToSeq - known[0]!.seq + 1 === known.length) {
    try {
      return t.sqlite.transaction(() => {
        q.insertSegment.on(t).run(kind, streamId, known[0]!.seq, upToSeq, encodeSegment(known));
        if (deleteLiveUpTo(t, kind, streamId, upToSeq) !== known.length) throw new StaleLiveRows();
        return known.length;
      })();
    } catch (err) {
      if (!(err instanceof StaleLiveRows)) throw err;
    }
  }
  const rows = q.liveUpTo.on(t).all(kind, streamId, upToSeq, kind, streamId, upToSeq);
  if (rows.length === 0) return 0;
  q.insertSegment.on(t).run(kind, streamId, rows[0]!.seq, rows[rows.length - 1]!.seq, encodeSegment(rows));
  deleteLiveUpTo(t, kind, streamId, upToSeq);
  return rows.length;
}

/** Events of the stream with seq > afterSeq, ascending, at most `limit`, as readers see them. */
export function readEventsAfter<R extends StreamRecord, S>(t: TenantDb, kind: StreamKind<R, S>, streamId: string, afterSeq: number, limit: number): R[] {
  const out: R[] = [];
  let cursor = afterSeq;
  // Segments are decoded one at a time and only as far as the page needs.
  const segmentAfter = q.segmentAfter.on(t);
  for (let seg = segmentAfter.get(kind.name, streamId, cursor); seg; seg = segmentAfter.get(kind.name, streamId, cursor)) {
    for (const ev of hydrateSegment(t, kind, streamId, seg)) if (ev.seq > afterSeq && out.length < limit) out.push(ev);
    cursor = seg.last_seq;
    if (out.length >= limit) return out;
  }
  const live = hydrate(t, kind, streamId, parsed(q.after.on(t).all(kind.name, streamId, cursor, kind.name, streamId, cursor, limit - out.length)), NO_STATE);
  return out.length === 0 ? live : out.concat(live);
}

/** The newest `limit` events of the stream with seq < beforeSeq, ascending. */
export function readEventsBefore<R extends StreamRecord, S>(t: TenantDb, kind: StreamKind<R, S>, streamId: string, beforeSeq: number, limit: number): R[] {
  const live = hydrate(t, kind, streamId, parsed(q.latest.on(t).all(kind.name, streamId, beforeSeq, kind.name, streamId, beforeSeq, limit).reverse()), NO_STATE);
  if (live.length >= limit) return live;
  // Every live row is newer than every segment: what is missing comes from the newest segments.
  const older: R[][] = [];
  let missing = limit - live.length;
  // The newest segment holding a seq < beforeSeq is the one with the smallest last_seq >= beforeSeq, or else the newest below it.
  let seg = q.segmentAfter.on(t).get(kind.name, streamId, beforeSeq - 1);
  if (!seg || seg.first_seq >= beforeSeq) seg = q.segmentBefore.on(t).get(kind.name, streamId, beforeSeq);
  while (seg && missing > 0) {
    const events = hydrateSegment(t, kind, streamId, seg).filter((ev) => ev.seq < beforeSeq);
    const taken = events.slice(Math.max(0, events.length - missing));
    older.push(taken);
    missing -= taken.length;
    seg = q.segmentBefore.on(t).get(kind.name, streamId, seg.first_seq);
  }
  return older.reverse().flat().concat(live);
}
