/**
 * The run event log: durable first, then fan out, on the same transactions
 * as the room log. `RunLog.transaction` opens one `EventLog` transaction of
 * the tenant file, so a step can write run rows, run events and room rows
 * (a rented room, its task message) atomically; run events get their gap-free
 * per-run seq inside it and are published to live followers only after it
 * commits. A transaction that throws publishes nothing.
 */
import type { EventLog, EventTx } from "../events/event.log.js";
import type { TenantDb } from "../storage/tenant-db.js";
import { formatSseFrame } from "../sse/sse.feed.js";
import { runEventId, type NewRunEvent, type RunEvent } from "./factory.events.js";
import { insertRunEvent, nextEventSeq, runEventsAfter } from "./factory.store.js";

export interface RunTx {
  /** The room log's transaction, for room writes that must commit with the run's. */
  readonly room: EventTx;
  readonly nowIso: string;
  /** Appends an event to the run's log inside the open transaction. */
  emit(runId: string, event: NewRunEvent): RunEvent;
}

export type RunEventListener = (event: RunEvent, frame: string) => void;

export class RunLog {
  readonly #events: EventLog;
  readonly #topics = new Map<string, Set<RunEventListener>>();

  constructor(events: EventLog) {
    this.#events = events;
  }

  /** One IMMEDIATE transaction of the tenant file; run events are published after it commits. Must not be nested. */
  transaction<T>(t: TenantDb, fn: (tx: RunTx) => T): T {
    const emitted: RunEvent[] = [];
    const result = this.#events.transaction(t, (room) => {
      const tx: RunTx = {
        room,
        nowIso: room.nowIso,
        emit: (runId, ev) => {
          const seq = nextEventSeq(t, runId);
          insertRunEvent(t, { runId, seq, eventType: ev.event_type, payload: ev.payload, createdAt: room.nowIso });
          const event: RunEvent = { id: runEventId(runId, seq), seq, run_id: runId, event_type: ev.event_type, payload: ev.payload, created_at: room.nowIso };
          emitted.push(event);
          return event;
        },
      };
      return fn(tx);
    });
    for (const ev of emitted) this.#publish(t.tenant, ev);
    return result;
  }

  /** Durable events of the run with seq > afterSeq, ascending, at most `limit`. */
  replay(t: TenantDb, runId: string, afterSeq: number, limit: number): RunEvent[] {
    return runEventsAfter(t, runId, afterSeq, limit).map((r) => ({
      id: runEventId(runId, r.seq),
      seq: r.seq,
      run_id: runId,
      event_type: r.eventType,
      payload: r.payload,
      created_at: r.createdAt,
    }));
  }

  /** Live events of the run, published after commit, in seq order. Listeners must only enqueue. */
  subscribe(tenant: string, runId: string, listener: RunEventListener): () => void {
    const key = `${tenant}/${runId}`;
    let set = this.#topics.get(key);
    if (!set) this.#topics.set(key, (set = new Set()));
    set.add(listener);
    return () => {
      const current = this.#topics.get(key);
      if (!current) return;
      current.delete(listener);
      if (current.size === 0) this.#topics.delete(key);
    };
  }

  #publish(tenant: string, event: RunEvent): void {
    const set = this.#topics.get(`${tenant}/${event.run_id}`);
    if (!set || set.size === 0) return;
    const frame = formatSseFrame(event);
    for (const listener of set) {
      try {
        listener(event, frame);
      } catch {
        set.delete(listener);
      }
    }
  }
}
