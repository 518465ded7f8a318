/**
 * Persists what the model runtime reports during a turn. Streamed deltas are
 * coalesced: the first delta of a burst is committed at once (time to first
 * token), later ones merge into one event per window. Whatever is committed
 * is exactly what followers see. A failed write never throws into the model
 * loop: events stay queued and go out with the next flush or the turn's end.
 */
import type { EventLog, EventTx } from "../events/event.log.js";
import type { NewEvent, RoomEventType } from "../events/event.types.js";
import type { TurnPlan } from "../room/room.lifecycle.js";
import type { TenantDb } from "../storage/tenant-db.js";
import type { TurnEvent } from "./llm/llm.types.js";

const MERGEABLE = new Set(["text_delta", "toolcall_delta", "thinking_delta"]);

export class TurnEventWriter {
  readonly #queue: NewEvent[] = [];
  #timer: NodeJS.Timeout | null = null;
  #immediate: NodeJS.Immediate | null = null;
  #lastFlush = 0;
  #closed = false;

  constructor(
    private readonly events: EventLog,
    private readonly tdb: TenantDb,
    private readonly plan: TurnPlan,
    private readonly coalesceMs: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Queues one runtime event; never throws. */
  push(ev: TurnEvent): void {
    if (this.#closed) return;
    try {
      const payload = ev.payload;
      const isDelta = ev.event_type === "pi:message_update" && MERGEABLE.has(String(payload["update_type"]));
      const last = this.#queue[this.#queue.length - 1];
      if (isDelta && this.coalesceMs > 0 && last && last.event_type === "pi:message_update" && last.payload["update_type"] === payload["update_type"]) {
        last.payload = { ...payload, delta: String(last.payload["delta"] ?? "") + String(payload["delta"] ?? "") };
      } else {
        this.#queue.push({ event_type: ev.event_type as RoomEventType, payload: { ...payload }, agent_key: this.plan.actor.agent_id, turn_id: this.plan.turnId });
      }
      if (!isDelta || this.coalesceMs === 0) this.#flushSoon();
      else if (!this.#timer && !this.#immediate) {
        const wait = this.coalesceMs - (Date.now() - this.#lastFlush);
        if (wait <= 0) this.#flushSoon();
        else this.#timer = setTimeout(() => this.#flush(), wait);
      }
    } catch (err) {
      this.onError(err);
    }
  }

  /**
   * Emits whatever is still queued inside the caller's transaction (the
   * turn's final one) and stops the writer. The queue is kept until
   * `committed()`, so a rolled-back final transaction can be retried.
   */
  drainInto(tx: EventTx): void {
    this.#closed = true;
    this.#cancelTimers();
    for (const ev of this.#queue) tx.emit(this.plan.roomId, ev);
  }

  /** The transaction that drained the queue has committed. */
  committed(): void {
    this.#queue.length = 0;
  }

  #flushSoon(): void {
    if (this.#immediate) return;
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    this.#immediate = setImmediate(() => this.#flush());
  }

  #cancelTimers(): void {
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#immediate) clearImmediate(this.#immediate);
    this.#timer = null;
    this.#immediate = null;
  }

  #flush(): void {
    this.#cancelTimers();
    if (this.#closed || this.#queue.length === 0) return;
    const batch = this.#queue.slice();
    try {
      this.events.transaction(this.tdb, (tx) => {
        for (const ev of batch) tx.emit(this.plan.roomId, ev);
      });
      this.#queue.splice(0, batch.length);
      this.#lastFlush = Date.now();
    } catch (err) {
      this.onError(err);
      if (!this.#timer) this.#timer = setTimeout(() => this.#flush(), Math.max(this.coalesceMs, 50));
    }
  }
}
