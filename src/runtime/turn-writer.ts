/**
 * Persists what the model runtime reports during a turn. Streamed deltas are
 * coalesced: the first delta of a burst is committed at once (time to first
 * token), later ones merge into one event per window. Whatever is committed
 * is exactly what followers see. A failed write never throws into the model
 * loop: events stay queued and go out with the next flush or the turn's end.
 *
 * Flushes are group-committed: every writer of a tenant that is due in the
 * same tick of the event loop goes into one transaction, so many rooms
 * streaming at once cost about one commit per tick, not one per room. The
 * commit's fsync runs off the event loop (EventLog.transactionOffLoop), and
 * commits made while one runs share the next: followers see the events once
 * they are on the disk, while the loop goes on serving the other rooms.
 * A turn's end joins the same group commit (`GroupCommit.join`): with many
 * short turns, their final transactions were as many commits as all the
 * streamed flushes together.
 */
import type { Logger } from "pino";
import type { EventLog, EventTx } from "../events/event.log.js";
import type { NewEvent, RoomEventType } from "../events/event.types.js";
import type { TurnPlan } from "../room/room.lifecycle.js";
import type { TenantDb } from "../storage/tenant-db.js";
import type { TurnEvent } from "./llm/llm.types.js";

const noop = () => {};

/**
 * One transaction of the group commit. When the tick had more than one thing
 * to commit, its fsync runs off the event loop (EventLog.transactionOffLoop)
 * while the loop serves the rest; a tick with a single one commits with the
 * fsync inline, since nothing else waits on the loop meanwhile and handing
 * the fsync to a thread and back costs two thread wake-ups (measured: a
 * lone room's time to first token 4.6 → 6.2 ms, sequential turns/s
 * 198 → 161, when every commit went off the loop). `durable` runs once the
 * commit is on the disk, either way.
 */
function commitGroup(events: EventLog, tdb: TenantDb, offLoop: boolean, body: (tx: EventTx) => void, durable: () => void): void {
  if (offLoop) {
    events.transactionOffLoop(tdb, body, durable);
    return;
  }
  events.transaction(tdb, body);
  durable();
}

const MERGEABLE = new Set(["text_delta", "toolcall_delta", "thinking_delta"]);

/** Flushes a writer may make in a row before the coalescing window paces them (see `TurnEventWriter.#credit`). */
const FLUSH_BURST = 2;

/** Which turn a joined body writes for, so a failure can be logged with it. */
export interface JoinedFor {
  roomId: string;
  turnId: string;
}

/** A transaction body that joined a group commit, and the promise waiting for its outcome. */
interface Joined {
  body: (tx: EventTx) => unknown;
  about: JoinedFor | undefined;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

interface Due {
  writers: Set<TurnEventWriter>;
  joined: Joined[];
}

/**
 * Commits the due writers and joined bodies of each tenant together, once per
 * tick; when the event loop is busy and the previous group held more than
 * one, no sooner than `pace()` ms after it (loop-load.ts: up to
 * EVENT_COMMIT_PACE_MS when saturated), so the commits are fewer and larger
 * (measured against no pace: 325 rooms streaming, 594 → 363 commits/s and
 * server CPU 0.85 → 0.77; 400 rooms, 523 → 229 and 0.94 → 0.87). (Holding
 * them back while the file's previous commit is being fsynced,
 * to commit once per fsync, was measured: it halved the commits at 250
 * rooms but not the event loop's time in them, which goes per event, and it
 * put each commit in series with the fsync before it.) If the shared transaction fails, each writer and each body is retried
 * in a transaction of its own, so one room's bad write cannot hold back (nor
 * duplicate) the others': nothing of the shared transaction was kept. The
 * shared failure is logged once, with every room and turn it held back;
 * what then fails alone is reported by its own writer or joiner.
 */
export class GroupCommit {
  readonly #due = new Map<TenantDb, Due>();
  /** A run is scheduled (on the next tick, or after the pace). */
  #scheduled = false;
  /** When the last group ran (performance.now()), and how many writers and bodies it held across tenants. */
  #lastRun = Number.NEGATIVE_INFINITY;
  #lastMembers = 0;
  readonly #run = (): void => this.#commitDue();

  /**
   * `onBatch` hears the size of each tenant's group (writers and joined
   * bodies) as it commits; metrics count it. `pace` is how long, in ms, a
   * group waits after the previous one (default none).
   */
  constructor(
    private readonly events: EventLog,
    private readonly log: Pick<Logger, "warn">,
    private readonly onBatch?: (size: number) => void,
    private readonly pace: () => number = () => 0,
  ) {}

  schedule(writer: TurnEventWriter): void {
    this.#dueOf(writer.tdb).writers.add(writer);
  }

  cancel(writer: TurnEventWriter): void {
    this.#due.get(writer.tdb)?.writers.delete(writer);
  }

  /**
   * Runs `body` inside the tenant's next group commit and resolves with its
   * result once that transaction is committed and on the disk (its events
   * published), or
   * rejects with the error of the transaction it finally ran in.
   */
  join<T>(tdb: TenantDb, body: (tx: EventTx) => T, about?: JoinedFor): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#dueOf(tdb).joined.push({ body, about, resolve: resolve as (value: unknown) => void, reject });
    });
  }

  #dueOf(tdb: TenantDb): Due {
    let due = this.#due.get(tdb);
    if (!due) {
      due = { writers: new Set(), joined: [] };
      this.#due.set(tdb, due);
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      // Only groups of several are paced: a lone stream (one client's turns back to back, which keep the loop
      // busy too) has nothing to share a commit with, and waiting would only add to its latency.
      const wait = this.#lastMembers > 1 ? this.#lastRun + this.pace() - performance.now() : 0;
      if (wait >= 1) setTimeout(this.#run, wait);
      else setImmediate(this.#run);
    }
    return due;
  }

  #commitDue(): void {
    this.#scheduled = false;
    this.#lastRun = performance.now();
    const due = [...this.#due];
    this.#due.clear();
    let members = 0;
    for (const [, { writers, joined }] of due) members += writers.size + joined.length;
    this.#lastMembers = members;
    for (const [tdb, { writers, joined }] of due) this.#commit(tdb, [...writers], joined, members > 1);
  }

  /** Commits what is due for the tenant, in one transaction (its fsync off the event loop when `offLoop`: see `commitGroup`). */
  #commit(tdb: TenantDb, writers: TurnEventWriter[], joined: Joined[], offLoop: boolean): void {
    if (writers.length + joined.length === 0) return;
    this.onBatch?.(writers.length + joined.length);
    if (writers.length === 1 && joined.length === 0) {
      writers[0]!.flushAlone(offLoop);
      return;
    }
    let taken: number[] = [];
    let results: unknown[] = [];
    try {
      commitGroup(
        this.events,
        tdb,
        offLoop,
        (tx) => {
          taken = writers.map((w) => w.emitQueued(tx));
          results = joined.map((j) => j.body(tx));
        },
        () => joined.forEach((j, i) => j.resolve(results[i])),
      );
    } catch (err) {
      const parts = [
        ...writers.map((w) => ({ room_id: w.roomId, turn_id: w.turnId, part: "flush" })),
        ...joined.map((j) => ({ room_id: j.about?.roomId ?? null, turn_id: j.about?.turnId ?? null, part: "joined" })),
      ];
      this.log.warn({ err, tenant: tdb.tenant, parts }, "group commit failed; committing each room's part on its own");
      for (const w of writers) w.flushAlone();
      for (const j of joined) this.#runAlone(tdb, j);
      return;
    }
    // Committed: the queues let go of what went in now; their events are published once the commit is on the disk.
    writers.forEach((w, i) => w.flushed(taken[i]!));
  }

  #runAlone(tdb: TenantDb, j: Joined): void {
    let result: unknown;
    try {
      result = this.events.transaction(tdb, j.body);
    } catch (err) {
      j.reject(err);
      return;
    }
    j.resolve(result);
  }
}

export class TurnEventWriter {
  readonly #queue: NewEvent[] = [];
  #timer: NodeJS.Timeout | null = null;
  #scheduled = false;
  /**
   * The coalescing window as a token bucket: a flush costs one credit,
   * credits come back at one per window, at most FLUSH_BURST are kept. On
   * average that is still one event per window, but a model streaming at
   * about one token per window (20 tokens/s against 50 ms) has every token
   * flushed at once: with one flush per window counted from the last, timer
   * overshoot and jitter pushed each window later until every token waited
   * for the next (measured: 25 ms added to every token of one idle room,
   * two tokens per event).
   */
  #credit = FLUSH_BURST;
  #creditAt = 0;
  #closed = false;

  constructor(
    private readonly events: EventLog,
    readonly tdb: TenantDb,
    private readonly plan: TurnPlan,
    private readonly coalesceMs: number,
    private readonly onError: (err: unknown) => void,
    private readonly group: GroupCommit,
  ) {}

  get roomId(): string {
    return this.plan.roomId;
  }

  get turnId(): string {
    return this.plan.turnId;
  }

  /**
   * Queues one runtime event; never throws. The payload is queued as given,
   * not copied: the runtime builds each one fresh and never touches it again
   * (llm/turn.events.ts), and a merge of deltas makes a new payload rather
   * than changing the queued one.
   */
  push(ev: TurnEvent): void {
    if (this.#closed) return;
    try {
      const payload = ev.payload;
      const isDelta = ev.event_type === "pi:message_update" && MERGEABLE.has(String(payload["update_type"]));
      const last = this.#queue[this.#queue.length - 1];
      if (isDelta && this.coalesceMs > 0 && last && last.event_type === "pi:message_update" && last.payload["update_type"] === payload["update_type"]) {
        last.payload = { ...payload, delta: String(last.payload["delta"] ?? "") + String(payload["delta"] ?? "") };
      } else {
        this.#queue.push({ event_type: ev.event_type as RoomEventType, payload, agent_key: this.plan.actor.agent_id, turn_id: this.plan.turnId });
      }
      if (!isDelta || this.coalesceMs === 0) this.#flushSoon();
      else if (!this.#timer && !this.#scheduled) {
        const credit = this.#refill(Date.now());
        if (credit >= 1) this.#flushSoon();
        else this.#timer = setTimeout(() => this.#flushSoon(), Math.ceil((1 - credit) * this.coalesceMs));
      }
    } catch (err) {
      this.onError(err);
    }
  }

  /**
   * Stops the writer: nothing more is queued or flushed on its own, so what
   * is queued goes out only through `drainInto`. Call it before the turn's
   * final transaction joins a group commit, where a flush of the same queue
   * would otherwise emit its events twice.
   */
  close(): void {
    this.#closed = true;
    this.#cancelTimers();
  }

  /**
   * Emits whatever is still queued inside the caller's transaction (the
   * turn's final one) and stops the writer. The queue is kept until
   * `committed()`, so a rolled-back final transaction can be retried.
   */
  drainInto(tx: EventTx): void {
    this.close();
    for (const ev of this.#queue) tx.emit(this.plan.roomId, ev);
  }

  /** The transaction that drained the queue has committed. */
  committed(): void {
    this.#queue.length = 0;
  }

  /** Emits the queued events into a shared transaction; returns how many, for `flushed`. */
  emitQueued(tx: EventTx): number {
    this.#scheduled = false;
    if (this.#closed) return 0;
    const n = this.#queue.length;
    for (let i = 0; i < n; i++) tx.emit(this.plan.roomId, this.#queue[i]!);
    return n;
  }

  /** The shared transaction that took `n` queued events has committed. */
  flushed(n: number): void {
    if (n === 0) return;
    this.#queue.splice(0, n);
  }

  /** Commits this writer's queue in a transaction of its own (its fsync off the event loop when `offLoop`). */
  flushAlone(offLoop = false): void {
    this.#scheduled = false;
    if (this.#closed || this.#queue.length === 0) return;
    const n = this.#queue.length;
    try {
      commitGroup(
        this.events,
        this.tdb,
        offLoop,
        (tx) => {
          for (let i = 0; i < n; i++) tx.emit(this.plan.roomId, this.#queue[i]!);
        },
        noop,
      );
      this.flushed(n);
    } catch (err) {
      this.onError(err);
      if (!this.#timer) this.#timer = setTimeout(() => this.#flushSoon(), Math.max(this.coalesceMs, 50));
    }
  }

  #flushSoon(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    if (this.coalesceMs > 0) this.#credit = Math.max(0, this.#refill(Date.now()) - 1);
    this.group.schedule(this);
  }

  /** The credit as of `now` (see `#credit`). */
  #refill(now: number): number {
    this.#credit = Math.min(FLUSH_BURST, this.#credit + (now - this.#creditAt) / this.coalesceMs);
    this.#creditAt = now;
    return this.#credit;
  }

  #cancelTimers(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#scheduled) this.group.cancel(this);
    this.#scheduled = false;
  }
}
