/**
 * The factory's view of the event log: one `EventLog` transaction of the
 * tenant file in which a step writes run rows, run events (the `run` stream
 * kind, factory.stream.ts) and room rows (a rented room, its task message)
 * atomically. Run events get their gap-free per-run seq inside it and are
 * published to followers only after it commits; a transaction that throws
 * publishes nothing.
 */
import type { EventLog, EventTx } from "../events/event.log.js";
import type { SseSource } from "../sse/sse.types.js";
import type { TenantDb } from "../storage/tenant-db.js";
import type { NewRunEvent, RunEvent } from "./factory.events.js";
import { RUN_STREAM } from "./factory.stream.js";

export interface RunTx {
  /** The room log's transaction, for room writes that must commit with the run's. */
  readonly room: EventTx;
  readonly nowIso: string;
  /** Appends an event to the run's stream inside the open transaction. */
  emit(runId: string, event: NewRunEvent): RunEvent;
}

export class RunLog {
  readonly #events: EventLog;

  constructor(events: EventLog) {
    this.#events = events;
  }

  /** One IMMEDIATE transaction of the tenant file; run events are published after it commits. Must not be nested. */
  transaction<T>(t: TenantDb, fn: (tx: RunTx) => T): T {
    return this.#events.transaction(t, (room) =>
      fn({
        room,
        nowIso: room.nowIso,
        emit: (runId, ev) => room.append<RunEvent>(RUN_STREAM, runId, ev),
      }),
    );
  }

  /** The run's durable log and live feed for the SSE helper. */
  source(t: TenantDb, runId: string): SseSource<RunEvent> {
    return this.#events.source<RunEvent>(t, RUN_STREAM, runId);
  }
}
