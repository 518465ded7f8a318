/**
 * Durable first, then fan out. `EventLog.transaction` runs a synchronous
 * better-sqlite3 transaction in which writers append events; only after it
 * commits are those events published, with `partial.text` rebuilt by the same
 * fold replay uses. A transaction that throws publishes nothing. A
 * transaction that ends a turn (emits `agent:turn_end`) also compacts the
 * room's events up to there into one segment (event.store.ts).
 */
import type { TenantDb } from "../storage/tenant-db.js";
import type { EventBus } from "./event.bus.js";
import { appendEvent, compactEvents, foldAt, SeqCounter } from "./event.store.js";
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
}

export class EventLog {
  readonly #bus: EventBus;
  readonly #now: () => number;
  /** Live text folds of rooms with a message in progress, keyed by tenant/room. */
  readonly #folds = new Map<string, TextFold>();
  readonly #beforeCommit: EventLogOptions["beforeCommit"];
  readonly #onCompactionFailed: EventLogOptions["onCompactionFailed"];

  constructor(bus: EventBus, opts: EventLogOptions = {}) {
    this.#bus = bus;
    this.#now = opts.now ?? Date.now;
    this.#beforeCommit = opts.beforeCommit;
    this.#onCompactionFailed = opts.onCompactionFailed;
  }

  get bus(): EventBus {
    return this.#bus;
  }

  /** Runs `fn` in one IMMEDIATE transaction, then publishes what it emitted. Must not be nested. */
  transaction<T>(t: TenantDb, fn: (tx: EventTx) => T): T {
    if (t.sqlite.inTransaction) throw new Error("EventLog.transaction must not be nested");
    const nowIso = new Date(this.#now()).toISOString();
    const emitted: RoomEvent[] = [];
    const pendingFolds = new Map<string, TextFold>();
    const seqs = new SeqCounter(t);
    /** Rooms whose turn ended in this transaction, with the seq of that `agent:turn_end`. */
    let turnEnds: Map<string, number> | null = null;
    const tx: EventTx = {
      nowIso,
      emit: (roomId, ev) => {
        if (ev.event_type === "agent:output") {
          // The text is the output message's content, already stored once; readers get it back from there.
          const { text: _text, ...rest } = ev.payload;
          const stored = appendEvent(t, roomId, seqs.take(roomId), { ...ev, payload: rest }, nowIso);
          const visible = { ...stored, payload: ev.payload };
          emitted.push(visible);
          return visible;
        }
        if (!ev.event_type.startsWith("pi:")) {
          const stored = appendEvent(t, roomId, seqs.take(roomId), ev, nowIso);
          if (ev.event_type === "agent:turn_end") (turnEnds ??= new Map()).set(roomId, stored.seq);
          emitted.push(stored);
          return stored;
        }
        const key = `${t.tenant}/${roomId}`;
        const prev = pendingFolds.get(key) ?? this.#folds.get(key) ?? (ev.event_type === "pi:message_start" ? { text: "" } : foldAt(t, roomId, seqs.last(roomId)));
        const fold: TextFold = { text: prev.text };
        advance(fold, ev.event_type, ev.payload);
        const stored = appendEvent(t, roomId, seqs.take(roomId), { ...ev, payload: strip(fold, ev.event_type, ev.payload) }, nowIso);
        const visible = { ...stored, payload: fill(fold, ev.event_type, stored.payload) };
        pendingFolds.set(key, fold);
        emitted.push(visible);
        return visible;
      },
    };
    const result = t.sqlite
      .transaction(() => {
        const r = fn(tx);
        if (turnEnds) for (const [roomId, seq] of turnEnds) this.#compact(t, roomId, seq);
        seqs.writeBack();
        this.#beforeCommit?.(t, r);
        return r;
      })
      .immediate();
    for (const [key, fold] of pendingFolds) this.#folds.set(key, fold);
    // A fold is only needed while a turn streams; drop it when the turn ends so idle rooms cost nothing.
    for (const ev of emitted) if (ev.event_type === "agent:turn_end") this.#folds.delete(`${t.tenant}/${ev.room_id}`);
    this.#publish(t.tenant, emitted);
    return result;
  }

  /** Compaction in a savepoint of its own: if it fails, only it rolls back and the turn still ends. */
  #compact(t: TenantDb, roomId: string, upToSeq: number): void {
    try {
      t.sqlite.transaction(() => compactEvents(t, roomId, upToSeq))();
    } catch (err) {
      this.#onCompactionFailed?.(t, roomId, err);
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
