/**
 * Durable first, then fan out. `EventLog.transaction` runs a synchronous
 * better-sqlite3 transaction in which writers append events to streams of
 * any registered kind (event.stream.ts); only after it commits, and the
 * commit is on the disk, are those events published on the bus (the
 * streaming path's `transactionOffLoop` waits for the disk off the event
 * loop: storage/wal-sync.ts), as the kind's wire records, payloads rebuilt
 * by the same codec replay uses. A transaction that throws publishes
 * nothing. A transaction that appends a kind's compaction event (a room's
 * `agent:turn_end`) also compacts that stream's events up to there into one
 * segment (event.store.ts), from the rows this process appended when it
 * knows them all (`LiveRows`), else from SQL.
 *
 * Per event the work is one insert (into the journal, in the order written:
 * event.store.ts) and the record; per stream and transaction, one read and
 * one write of its `event_streams` row.
 */
import type { SseSource } from "../sse/sse.types.js";
import type { TenantDb } from "../storage/tenant-db.js";
import type { EventBus } from "./event.bus.js";
import type { StoredEventRow } from "./event.segment.js";
import {
  appendRow,
  compactEvents,
  findStream,
  isClosed,
  lastSeq,
  NO_STATE,
  readEventsAfter,
  readEventsBefore,
  saveStream,
  settleJournal,
  settleJournalNow,
  StoredLog,
} from "./event.store.js";
import { validateKind, type NewStreamEvent, type StreamCodec, type StreamKind, type StreamRecord } from "./event.stream.js";
import { ROOM_STREAM, type NewEvent, type RoomEvent } from "./event.types.js";

export interface EventTx {
  /** Appends an event to the room's stream inside the open transaction and returns it as readers will see it. */
  emit(roomId: string, event: NewEvent): RoomEvent;
  /**
   * Appends an event to a stream of a registered kind and returns its wire
   * record as readers will see it. Throws for an unregistered kind, an event
   * type the kind does not have, or a stream that does not exist yet unless
   * the event is the kind's opening event.
   */
  append<R extends StreamRecord = StreamRecord>(kind: string, streamId: string, event: NewStreamEvent): R;
  /** The transaction's timestamp (one per transaction, so rows written together agree). */
  readonly nowIso: string;
}

export interface EventLogOptions {
  now?: () => number;
  /** Kinds to register at once (see `register`). */
  kinds?: readonly StreamKind<any, any>[];
  /** Runs inside every transaction after its body, so its writes commit (or roll back) with it. */
  beforeCommit?: (t: TenantDb, result: unknown) => void;
  /** A compaction failed and was rolled back alone: the events stay live rows (still complete), the transaction goes on. */
  onCompactionFailed?: (t: TenantDb, kind: string, streamId: string, err: unknown) => void;
  /** Codec states kept between transactions (default 4,096; see STATES_MAX). */
  maxCodecStates?: number;
  /** After each commit: events written and seconds from the transaction's start to its commit (metrics). */
  onCommit?: (events: number, seconds: number) => void;
}

/**
 * Bounds of the live-row memory: streams remembered (least recently written
 * dropped first) and rows across them (about 200 bytes each: 131,072 rows is
 * about 26 MB, 400 rooms 300 tokens into their replies). A stream that is
 * dropped is compacted from SQL at its next compaction event, as after a
 * restart, which costs more: with the bound at 256 streams, half the turn
 * ends of 400 rooms streaming at once read their rows back (measured: 1.43 ms
 * per compaction on average, against 1.18 ms with every one from memory;
 * server CPU at 325 rooms about 0.83 with 256, 0.72 with this bound).
 */
const LIVE_STREAMS_MAX = 4096;
const LIVE_ROWS_MAX = 131_072;
/**
 * Bound of the codec states kept between transactions (a room's text fold:
 * the text of the message in progress). A state is normally dropped at its
 * stream's compaction or terminal event; the bound keeps streams that stop
 * mid-message (a turn cut off, its end never recorded) from piling up. A
 * dropped state is rebuilt from the log (`StreamCodec.stateAt`) when the
 * stream next needs it.
 */
const STATES_MAX = 4_096;

/**
 * Every live stream_events row of one stream (all rows since its last
 * segment), as this process appended and committed them, so the stream's
 * compaction need not read them back. Only known to be complete from a
 * compaction in this process (or the stream's very first event) on; tied to
 * the TenantDb it was written through, so a reopened file starts unknown.
 */
interface LiveRows {
  t: TenantDb;
  rows: StoredEventRow[];
}

interface Kind {
  readonly def: StreamKind<StreamRecord, unknown>;
  readonly name: string;
  readonly types: ReadonlySet<string>;
  readonly codec: StreamCodec<unknown> | undefined;
}

/** One stream's part of one transaction. */
interface TxStream {
  readonly kind: Kind;
  readonly id: string;
  /** The last seq taken (the stream's, as this transaction sees it). */
  last: number;
  /** No event_streams row yet: this transaction's opening event creates it. */
  readonly isNew: boolean;
  /** The seq of the terminal event appended in this transaction, else null. */
  closedSeq: number | null;
  /** The seq of the last compaction event appended in this transaction, else 0. */
  compactAt: number;
  compacted: boolean;
  /** Codec state after this transaction's last state-carrying event, and that event's seq. */
  state: unknown;
  stateSeq: number;
  readonly rows: StoredEventRow[];
  readonly records: StreamRecord[];
}

export class EventLog {
  readonly #bus: EventBus;
  readonly #now: () => number;
  readonly #kinds = new Map<string, Kind>();
  /** Codec states of streams in the middle of something (a message), keyed by tenant/kind/stream, least recently written first. */
  readonly #states = new Map<string, unknown>();
  readonly #beforeCommit: EventLogOptions["beforeCommit"];
  readonly #onCompactionFailed: EventLogOptions["onCompactionFailed"];
  readonly #onCommit: EventLogOptions["onCommit"];
  readonly #maxStates: number;
  /** Keyed by tenant/kind/stream, in order of last write (a Map iterates oldest first). */
  readonly #live = new Map<string, LiveRows>();
  #liveRowCount = 0;

  constructor(bus: EventBus, opts: EventLogOptions = {}) {
    this.#bus = bus;
    this.#now = opts.now ?? Date.now;
    this.#beforeCommit = opts.beforeCommit;
    this.#onCompactionFailed = opts.onCompactionFailed;
    this.#onCommit = opts.onCommit;
    this.#maxStates = opts.maxCodecStates ?? STATES_MAX;
    for (const kind of opts.kinds ?? []) this.register(kind);
  }

  get bus(): EventBus {
    return this.#bus;
  }

  /** Adds a stream kind. Throws on an invalid definition or a name already registered. */
  register<R extends StreamRecord, S>(kind: StreamKind<R, S>): void {
    const def = kind as unknown as StreamKind<StreamRecord, unknown>;
    validateKind(def);
    if (this.#kinds.has(kind.name)) throw new Error(`stream kind ${kind.name} is already registered`);
    this.#kinds.set(kind.name, { def, name: kind.name, types: new Set(kind.eventTypes), codec: def.codec });
  }

  /** The registered kind called `name`; throws if there is none. */
  kind<R extends StreamRecord = StreamRecord>(name: string): StreamKind<R, unknown> {
    return this.#kind(name).def as unknown as StreamKind<R, unknown>;
  }

  #kind(name: string): Kind {
    const k = this.#kinds.get(name);
    if (!k) throw new Error(`stream kind ${name} is not registered`);
    return k;
  }

  /** Events of a stream with seq > afterSeq, ascending, at most `limit`, as its kind's wire records. */
  readAfter<R extends StreamRecord = StreamRecord>(t: TenantDb, kind: string, streamId: string, afterSeq: number, limit: number): R[] {
    return readEventsAfter(t, this.kind<R>(kind), streamId, afterSeq, limit);
  }

  /** The newest `limit` events of a stream with seq < beforeSeq, ascending. */
  readBefore<R extends StreamRecord = StreamRecord>(t: TenantDb, kind: string, streamId: string, beforeSeq: number, limit: number): R[] {
    return readEventsBefore(t, this.kind<R>(kind), streamId, beforeSeq, limit);
  }

  /** The stream's last committed seq (0 when it has none). */
  lastSeq(t: TenantDb, kind: string, streamId: string): number {
    return lastSeq(t, this.#kind(kind).name, streamId);
  }

  /** True once the stream's terminal event has committed. */
  isClosed(t: TenantDb, kind: string, streamId: string): boolean {
    return isClosed(t, this.#kind(kind).name, streamId);
  }

  /**
   * The stream for the SSE helper (src/sse): durable replay, the live feed,
   * and the kind's terminal event. The caller keeps the tenant file open
   * (`TenantDatabases.hold`) for as long as the stream is followed.
   */
  source<R extends StreamRecord = StreamRecord>(t: TenantDb, kind: string, streamId: string): SseSource<R> {
    const k = this.kind<R>(kind);
    return {
      replay: (after, limit) => readEventsAfter(t, k, streamId, after, limit),
      subscribe: (listener) => this.#bus.subscribe<R>(t.tenant, k.name, streamId, listener),
      isTerminal: (e) => e.event_type === k.terminal,
      isClosed: () => isClosed(t, k.name, streamId),
    };
  }

  /** Moves the file's appended rows from the journal into stream_events (event.store.ts); for a file about to close. */
  settle(t: TenantDb): void {
    if (!t.sqlite.inTransaction) settleJournalNow(t);
  }

  /** What the log keeps in memory between transactions, for tests and metrics. */
  memory(): { streamsWithState: number; streamsWithLiveRows: number; liveRows: number } {
    return { streamsWithState: this.#states.size, streamsWithLiveRows: this.#live.size, liveRows: this.#liveRowCount };
  }

  /**
   * Runs `fn` in one IMMEDIATE transaction, durable when it returns (the
   * commit fsyncs the log), then publishes what it appended; events that
   * earlier `transactionOffLoop` commits were still waiting to publish go
   * out first, since this commit's fsync made them durable too. Must not be
   * nested.
   */
  transaction<T>(t: TenantDb, fn: (tx: EventTx) => T): T {
    return this.#transaction(t, fn, undefined);
  }

  /**
   * As `transaction`, but the commit does not wait for the disk on the event
   * loop (storage/wal-sync.ts): it returns once committed, and its events
   * are published, then `durable` runs, once an fsync of the log that
   * started after the commit has returned. What is appended is readable at
   * once (and survives a kill -9); it is shown to followers only once it
   * would survive a power loss too. For the streaming path, where commits
   * are many and the event loop serves every room.
   */
  transactionOffLoop<T>(t: TenantDb, fn: (tx: EventTx) => T, durable: () => void): T {
    return this.#transaction(t, fn, durable);
  }

  /**
   * As `transactionOffLoop`, for a caller that answers once the commit is
   * on the disk (a POST): resolves with `fn`'s result after the fsync, or
   * rejects with what the transaction threw (nothing committed).
   */
  transactionDurable<T>(t: TenantDb, fn: (tx: EventTx) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      // `durable` may run inside the call (a file with no write-ahead log commits FULL), before the result is assigned.
      let value!: T;
      let committed = false;
      let durable = false;
      try {
        value = this.#transaction(t, fn, () => {
          durable = true;
          if (committed) resolve(value);
        });
      } catch (err) {
        reject(err);
        return;
      }
      committed = true;
      if (durable) resolve(value);
    });
  }

  #transaction<T>(t: TenantDb, fn: (tx: EventTx) => T, offLoop: (() => void) | undefined): T {
    if (t.sqlite.inTransaction) throw new Error("EventLog.transaction must not be nested");
    const startedAt = performance.now();
    const nowIso = new Date(this.#now()).toISOString();
    /** This transaction's streams, in order of first append, and by kind and id. */
    const streams: TxStream[] = [];
    const byKind = new Map<Kind, Map<string, TxStream>>();
    /** The stream of the previous append: a writer usually appends several events to one stream in a row. */
    let recent: TxStream | null = null;

    const streamOf = (k: Kind, streamId: string, eventType: string): TxStream => {
      let ids = byKind.get(k);
      if (!ids) byKind.set(k, (ids = new Map()));
      const known = ids.get(streamId);
      if (known) return known;
      const row = findStream(t, k.name, streamId);
      if (!row && eventType !== k.def.opening) throw new Error(`cannot append to ${k.name} ${streamId}: no such ${k.name}`);
      const s: TxStream = {
        kind: k,
        id: streamId,
        last: row?.last_seq ?? 0,
        isNew: !row,
        closedSeq: null,
        compactAt: 0,
        compacted: false,
        state: NO_STATE,
        stateSeq: 0,
        rows: [],
        records: [],
      };
      streams.push(s);
      ids.set(streamId, s);
      return s;
    };

    const append = (k: Kind, streamId: string, ev: NewStreamEvent): StreamRecord => {
      const type = ev.event_type;
      if (!k.types.has(type)) throw new Error(`${k.name} streams have no event type ${JSON.stringify(type)}`);
      let s = recent;
      if (s === null || s.id !== streamId || s.kind !== k) recent = s = streamOf(k, streamId, type);
      const seq = s.last + 1;
      let stored = ev.payload;
      let visible = stored;
      const codec = k.codec;
      let carried = false;
      let after: unknown;
      if (codec !== undefined && codec.rewrites(type)) {
        after = codec.initial;
        if ((carried = codec.carries(type))) {
          let before = s.state;
          if (before === NO_STATE) before = codec.restarts(type) ? codec.initial : this.#stateBefore(t, s, seq);
          after = codec.advance(before, type, ev.payload);
        }
        stored = codec.store(after, type, ev.payload);
        visible = codec.live(after, type, stored, ev.payload);
      }
      const row: StoredEventRow = { seq, event_type: type, agent_key: ev.agent_key ?? null, turn_id: ev.turn_id ?? null, payload: JSON.stringify(stored), created_at: nowIso };
      appendRow(t, k.name, streamId, row);
      // Only now, so an insert that throws takes no seq and moves no state.
      s.last = seq;
      if (carried) {
        s.state = after;
        s.stateSeq = seq;
      }
      s.rows.push(row);
      const record = k.def.record(streamId, row, visible);
      s.records.push(record);
      if (type === k.def.terminal && s.closedSeq === null) s.closedSeq = seq;
      if (type === k.def.compactOn) s.compactAt = seq;
      return record;
    };

    let rooms: Kind | undefined;
    const tx: EventTx = {
      nowIso,
      emit: (roomId, ev) => append((rooms ??= this.#kind(ROOM_STREAM)), roomId, ev) as RoomEvent,
      append: <R extends StreamRecord>(kind: string, streamId: string, ev: NewStreamEvent) => append(this.#kind(kind), streamId, ev) as R,
    };

    const run = t.sqlite.transaction(() => {
      const r = fn(tx);
      let appended = 0;
      for (const s of streams) {
        if (s.compactAt > 0) s.compacted = this.#compact(t, s);
        saveStream(t, s.kind.name, s.id, s.last, s.closedSeq, s.isNew);
        appended += s.rows.length;
      }
      if (appended > 0) settleJournal(t, appended);
      this.#beforeCommit?.(t, r);
      return r;
    });
    const publish = () => {
      for (const s of streams) this.#bus.publish(t.tenant, s.kind.name, s.id, s.records);
    };
    const result =
      offLoop === undefined
        ? run.immediate()
        : t.wal.commit(
            () => run.immediate(),
            () => {
              publish();
              offLoop();
            },
          );
    if (this.#onCommit !== undefined) {
      // Per stream, not per row: each stream's rows are already an array.
      let written = 0;
      for (const s of streams) written += s.rows.length;
      this.#onCommit(written, (performance.now() - startedAt) / 1000);
    }

    for (const s of streams) {
      const key = `${t.tenant}/${s.kind.name}/${s.id}`;
      this.#remember(t, key, s.rows, s.compacted ? s.compactAt : undefined);
      this.#keepState(key, s);
    }
    if (offLoop === undefined && streams.length > 0) {
      // It wrote (each stream's event_streams row at least), so its commit fsynced the log.
      t.wal.synced();
      publish();
    }
    return result;
  }

  /** The codec state right before `seq`: from memory if this process kept it, else rebuilt from the log. */
  #stateBefore(t: TenantDb, s: TxStream, seq: number): unknown {
    const key = `${t.tenant}/${s.kind.name}/${s.id}`;
    if (this.#states.has(key)) return this.#states.get(key);
    return s.kind.codec!.stateAt(new StoredLog(t, s.kind.name, s.id), seq - 1);
  }

  /**
   * After commit: a stream's codec state is kept for its next transaction,
   * unless its compaction or terminal event came after its last
   * state-carrying event (nothing needs it any more).
   */
  #keepState(key: string, s: TxStream): void {
    const ended = Math.max(s.compactAt, s.closedSeq ?? 0);
    if (s.state !== NO_STATE && s.stateSeq > ended) {
      this.#states.delete(key);
      this.#states.set(key, s.state);
      if (this.#states.size > this.#maxStates) this.#states.delete(this.#states.keys().next().value as string);
    } else if (ended > 0) {
      this.#states.delete(key);
    }
  }

  /**
   * Compaction in a savepoint of its own: if it fails, only it rolls back and
   * the transaction still commits. Returns whether it committed (to the savepoint).
   */
  #compact(t: TenantDb, s: TxStream): boolean {
    const live = this.#live.get(`${t.tenant}/${s.kind.name}/${s.id}`);
    const known = live && live.t === t ? live.rows.concat(s.rows.filter((r) => r.seq <= s.compactAt)) : undefined;
    try {
      t.sqlite.transaction(() => compactEvents(t, s.kind.name, s.id, s.compactAt, known))();
      return true;
    } catch (err) {
      this.#onCompactionFailed?.(t, s.kind.name, s.id, err);
      return false;
    }
  }

  /**
   * Adds a committed transaction's rows to the stream's live-row memory.
   * After a compaction up to `compactedUpTo` the live rows are exactly this
   * transaction's later ones (they were appended after the compaction
   * event); a stream's first event also starts a complete record. Otherwise
   * an unknown stream stays unknown.
   */
  #remember(t: TenantDb, key: string, rows: StoredEventRow[], compactedUpTo: number | undefined): void {
    if (rows.length === 0) return;
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
    } else if (rows[0]!.seq === 1) next = rows;
    else return;
    this.#live.set(key, { t, rows: next });
    this.#liveRowCount += next.length;
    for (const [oldest, entry] of this.#live) {
      if (this.#live.size <= LIVE_STREAMS_MAX && this.#liveRowCount <= LIVE_ROWS_MAX) break;
      this.#live.delete(oldest);
      this.#liveRowCount -= entry.rows.length;
    }
  }
}
