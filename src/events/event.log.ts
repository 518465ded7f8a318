/**
 * Durable first, then fan out. `EventLog.transaction` runs a synchronous
 * better-sqlite3 transaction in which writers append events; only after it
 * commits are those events published, with `partial.text` rebuilt by the same
 * fold replay uses. A transaction that throws publishes nothing. A
 * transaction that ends a turn (emits `agent:turn_end`) also compacts the
 * room's events up to there into one segment (event.store.ts), from the rows
 * this process appended when it knows them all (`LiveRows`), else from SQL.
 */
import type { TenantDb } from "../storage/tenant-db.js";
import type { EventBus } from "./event.bus.js";
import type { StoredEventRow } from "./event.segment.js";
import { appendEvent, compactEvents, eventId, foldAt, SeqCounter } from "./event.store.js";
import { advance, fill, strip, type TextFold } from "./event.text.js";
import type { NewEvent, RoomEvent } from "./event.types.js";

export interface EventTx {
  /** Appends an event to the room's log inside the open transaction and returns it as readers will see it. */
  emit(roomId: string, event: NewEvent): RoomEvent;
  /** The transaction's timestamp (one per transaction, so rows written together agree). */
  readonly nowIso: string;
}

export interface EventLogOptions {
  now?: () => number;
  /** Runs inside every transaction after its body, so its writes commit (or roll back) with it. */
  beforeCommit?: (t: TenantDb, result: unknown) => void;
  /** A compaction failed and was rolled back alone: the events stay live rows (still complete), the transaction goes on. */
  onCompactionFailed?: (t: TenantDb, roomId: string, err: unknown) => void;
  /** After each commit: events written and seconds from the transaction's start to its commit (metrics). */
  onCommit?: (events: number, seconds: number) => void;
}

/**
 * Bounds of the live-row memory: rooms remembered (least recently written
 * dropped first) and rows across them (about 300 bytes each). A room that is
 * dropped is compacted from SQL at its next turn end, as after a restart.
 */
const LIVE_ROOMS_MAX = 256;
const LIVE_ROWS_MAX = 32_768;

/**
 * Every live room_events row of one room (all rows since its last segment),
 * as this process appended and committed them, so the turn's compaction need
 * not read them back. Only known to be complete from a compaction in this
 * process (or the room's very first event) on; tied to the TenantDb it was
 * written through, so a reopened file starts unknown.
 */
interface LiveRows {
  t: TenantDb;
  rows: StoredEventRow[];
}

export class EventLog {
  readonly #bus: EventBus;
  readonly #now: () => number;
  /** Live text folds of rooms with a message in progress, keyed by tenant/room. */
  readonly #folds = new Map<string, TextFold>();
  readonly #beforeCommit: EventLogOptions["beforeCommit"];
  readonly #onCompactionFailed: EventLogOptions["onCompactionFailed"];
  readonly #onCommit: EventLogOptions["onCommit"];
  /** Keyed by tenant/room, in order of last write (a Map iterates oldest first). */
  readonly #live = new Map<string, LiveRows>();
  #liveRowCount = 0;

  constructor(bus: EventBus, opts: EventLogOptions = {}) {
    this.#bus = bus;
    this.#now = opts.now ?? Date.now;
    this.#beforeCommit = opts.beforeCommit;
    this.#onCompactionFailed = opts.onCompactionFailed;
    this.#onCommit = opts.onCommit;
  }

  get bus(): EventBus {
    return this.#bus;
  }

  /** Runs `fn` in one IMMEDIATE transaction, then publishes what it emitted. Must not be nested. */
  transaction<T>(t: TenantDb, fn: (tx: EventTx) => T): T {
    if (t.sqlite.inTransaction) throw new Error("EventLog.transaction must not be nested");
    const startedAt = performance.now();
    const nowIso = new Date(this.#now()).toISOString();
    const emitted: RoomEvent[] = [];
    const pendingFolds = new Map<string, TextFold>();
    const seqs = new SeqCounter(t);
    /** Rooms whose turn ended in this transaction, with the seq of that `agent:turn_end`. */
    let turnEnds: Map<string, number> | null = null;
    /** Rows appended in this transaction, per room; they join the live-row memory once committed. */
    const appended = new Map<string, StoredEventRow[]>();
    /** Rooms compacted in this transaction, and up to which seq. */
    const compacted = new Map<string, number>();
    const append = (roomId: string, ev: NewEvent, storedPayload: Record<string, unknown>): RoomEvent => {
      const row: StoredEventRow = {
        seq: seqs.take(roomId),
        event_type: ev.event_type,
        agent_key: ev.agent_key ?? null,
        turn_id: ev.turn_id ?? null,
        payload: JSON.stringify(storedPayload),
        created_at: nowIso,
      };
      appendEvent(t, roomId, row);
      let rows = appended.get(roomId);
      if (!rows) appended.set(roomId, (rows = []));
      rows.push(row);
      return { id: eventId(roomId, row.seq), seq: row.seq, room_id: roomId, event_type: ev.event_type, agent_key: row.agent_key, turn_id: row.turn_id, payload: storedPayload, created_at: nowIso };
    };
    const tx: EventTx = {
      nowIso,
      emit: (roomId, ev) => {
        if (ev.event_type === "agent:output") {
          // The text is the output message's content, already stored once; readers get it back from there.
          const { text: _text, ...rest } = ev.payload;
          const visible = { ...append(roomId, ev, rest), payload: ev.payload };
          emitted.push(visible);
          return visible;
        }
        if (!ev.event_type.startsWith("pi:")) {
          const stored = append(roomId, ev, ev.payload);
          if (ev.event_type === "agent:turn_end") (turnEnds ??= new Map()).set(roomId, stored.seq);
          emitted.push(stored);
          return stored;
        }
        const key = `${t.tenant}/${roomId}`;
        const prev = pendingFolds.get(key) ?? this.#folds.get(key) ?? (ev.event_type === "pi:message_start" ? { text: "" } : foldAt(t, roomId, seqs.last(roomId)));
        const fold: TextFold = { text: prev.text };
        advance(fold, ev.event_type, ev.payload);
        const stored = append(roomId, ev, strip(fold, ev.event_type, ev.payload));
        const visible = { ...stored, payload: fill(fold, ev.event_type, stored.payload) };
        pendingFolds.set(key, fold);
        emitted.push(visible);
        return visible;
      },
    };
    const result = t.sqlite
      .transaction(() => {
        const r = fn(tx);
        if (turnEnds) {
          for (const [roomId, seq] of turnEnds) if (this.#compact(t, roomId, seq, appended.get(roomId) ?? [])) compacted.set(roomId, seq);
        }
        seqs.writeBack();
        this.#beforeCommit?.(t, r);
        return r;
      })
      .immediate();
    this.#onCommit?.(emitted.length, (performance.now() - startedAt) / 1000);
    for (const [roomId, rows] of appended) this.#remember(t, roomId, rows, compacted.get(roomId));
    for (const [key, fold] of pendingFolds) this.#folds.set(key, fold);
    // A fold is only needed while a turn streams; drop it when the turn ends so idle rooms cost nothing.
    for (const ev of emitted) if (ev.event_type === "agent:turn_end") this.#folds.delete(`${t.tenant}/${ev.room_id}`);
    this.#publish(t.tenant, emitted);
    return result;
  }

  /**
   * Compaction in a savepoint of its own: if it fails, only it rolls back and
   * the turn still ends. Returns whether it committed (to the savepoint).
   */
  #compact(t: TenantDb, roomId: string, upToSeq: number, txRows: readonly StoredEventRow[]): boolean {
    const live = this.#live.get(`${t.tenant}/${roomId}`);
    const known = live && live.t === t ? live.rows.concat(txRows.filter((r) => r.seq <= upToSeq)) : undefined;
    try {
      t.sqlite.transaction(() => compactEvents(t, roomId, upToSeq, known))();
      return true;
    } catch (err) {
      this.#onCompactionFailed?.(t, roomId, err);
      return false;
    }
  }

  /**
   * Adds a committed transaction's rows to the room's live-row memory. After
   * a compaction up to `compactedUpTo` the live rows are exactly this
   * transaction's later ones (they were appended after the turn's end); a
   * room's first event also starts a complete record. Otherwise an unknown
   * room stays unknown.
   */
  #remember(t: TenantDb, roomId: string, rows: StoredEventRow[], compactedUpTo: number | undefined): void {
    const key = `${t.tenant}/${roomId}`;
    const prev = this.#live.get(key);
    if (prev) {
      this.#live.delete(key);
      this.#liveRowCount -= prev.rows.length;
    }
    let next: StoredEventRow[];
    if (compactedUpTo !== undefined) next = rows.filter((r) => r.seq > compactedUpTo);
    else if (prev && prev.t === t) {
      // In place: nothing else holds the array (a compaction reads a copy), and copying it per flush would make a turn quadratic.
      next = prev.rows;
      for (const r of rows) next.push(r);
    }
    else if (rows[0]!.seq === 1) next = rows;
    else return;
    this.#live.set(key, { t, rows: next });
    this.#liveRowCount += next.length;
    for (const [oldest, entry] of this.#live) {
      if (this.#live.size <= LIVE_ROOMS_MAX && this.#liveRowCount <= LIVE_ROWS_MAX) break;
      this.#live.delete(oldest);
      this.#liveRowCount -= entry.rows.length;
    }
  }

  #publish(tenant: string, events: RoomEvent[]): void {
    let i = 0;
    while (i < events.length) {
      const roomId = events[i]!.room_id;
      let j = i + 1;
      while (j < events.length && events[j]!.room_id === roomId) j++;
      this.#bus.publish(tenant, roomId, events.slice(i, j));
      i = j;
    }
  }
}
