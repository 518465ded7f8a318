/**
 * Stream kinds: what the event log needs to know about a family of streams
 * (rooms, factory runs, ...). The log itself is one durable, gap-free,
 * compactable sequence of events per `(kind, stream id)`; everything that
 * differs between families is a `StreamKind` the family registers on the
 * EventLog at start-up (`EventLog.register`, or `kinds` in its options):
 *
 * | field | what the log does with it |
 * | --- | --- |
 * | `name` | stored in every row; the bus and the live-row memory key by it |
 * | `eventTypes` | an append of any other type is refused |
 * | `opening` | appending it to a stream that does not exist yet creates the stream (seq 1); any other event needs an existing stream |
 * | `terminal` | the stream's last event: followers end after it (`isTerminal`), `isClosed` is true from its commit on |
 * | `compactOn` | when appended, the stream's events up to it become one segment at the end of the transaction (optional) |
 * | `codec` | how payloads are stored when that differs from what readers see (optional) |
 * | `record` | the wire record readers and followers get, exactly as it goes on the wire |
 *
 * Writers append through `EventTx.append(kind, streamId, event)` inside
 * `EventLog.transaction`; readers use `readEventsAfter` / `readEventsBefore`
 * (event.store.ts) or `EventLog.source` for the SSE helper. Rooms are the
 * first kind (src/room/room.stream.ts).
 */
import type { TenantDb } from "../storage/tenant-db.js";

export type Payload = Record<string, unknown>;

/** What a writer hands to the log; seq, id and time are assigned at the durable write. */
export interface NewStreamEvent<T extends string = string> {
  event_type: T;
  payload: Payload;
  /** Who produced the event (a room's agent); null or absent when nobody in particular. */
  agent_key?: string | null;
  /** The unit of work it belongs to (a room's turn); null or absent when none. */
  turn_id?: string | null;
}

/** What every wire record has: the SSE helper frames it by `seq` and `event_type`. */
export interface StreamRecord {
  seq: number;
  event_type: string;
}

/** The stored columns of one event other than its payload, as `record` gets them. */
export interface EventHead {
  seq: number;
  event_type: string;
  agent_key: string | null;
  turn_id: string | null;
  created_at: string;
}

/**
 * A family of streams. `R` is its wire record, `S` its codec's state.
 * A kind's name and its event type names are stored in tenant files: never
 * rename one that has been released.
 */
export interface StreamKind<R extends StreamRecord = StreamRecord, S = unknown> {
  /** Lower-case letters, digits, `_` and `-`; unique among registered kinds. */
  readonly name: string;
  readonly eventTypes: readonly string[];
  readonly opening: string;
  readonly terminal: string;
  /**
   * Compaction trigger. It must be a point after which no event needs the
   * codec state left before it (the next state-carrying event `restarts`),
   * because a segment is replayed from the codec's initial state.
   */
  readonly compactOn?: string;
  readonly codec?: StreamCodec<S>;
  /**
   * Builds the wire record. Its keys, in their order, are the bytes every
   * follower and reader gets: one function for live and replay is what
   * keeps them identical.
   */
  record(streamId: string, head: EventHead, payload: Payload): R;
}

/**
 * How a kind stores payloads when that differs from what readers see: text
 * that can be rebuilt is kept once (a room's streamed text is folded from
 * its deltas; an output's text lives in its message row). The contract:
 * for every event, what `live` returns when it is appended equals what
 * `view` returns at every later read, from any starting point, so replay
 * equals live. State (`S`) is carried from event to event in seq order,
 * starts at `initial`, is back at `initial` at every compaction point, and
 * is rebuilt by `stateAt` when a reader or writer starts mid-stream.
 */
export interface StreamCodec<S> {
  /** Event types the codec rewrites; every other type is stored and read verbatim and never reaches it. Called per event. */
  rewrites(eventType: string): boolean;
  /** Event types that carry state through `advance` (a subset of `rewrites`); the others see `initial`. Called per event. */
  carries(eventType: string): boolean;
  readonly initial: S;
  /** True for a type whose `advance` ignores the state before it, so that state need not be known (or looked up). */
  restarts(eventType: string): boolean;
  /** The state after an event, given the state before it; the same rule on write and on read. */
  advance(state: S, eventType: string, payload: Payload): S;
  /** The state right after `seq`, rebuilt from the stream's stored events. */
  stateAt(log: CodecLog, seq: number): S;
  /** The payload to store, given the state after the event. */
  store(state: S, eventType: string, payload: Payload): Payload;
  /** What live followers get at append: must equal `view` of the stored payload. `given` is the writer's payload. */
  live(state: S, eventType: string, stored: Payload, given: Payload): Payload;
  /** What readers get back from a stored payload, given the state after the event. */
  view(state: S, eventType: string, stored: Payload, log: CodecLog): Payload;
}

/** One stream as a codec may read it, inside or outside a transaction. */
export interface CodecLog {
  readonly t: TenantDb;
  readonly streamId: string;
  /** The seq of the newest live (not compacted) event of `eventType` at or before `atOrBefore`, or 0. */
  lastOf(eventType: string, atOrBefore: number): number;
  /** The stored payloads of live events of `eventType` with `afterSeq < seq <= upToSeq`, ascending. */
  payloadsOf(eventType: string, afterSeq: number, upToSeq: number): Payload[];
}

const KIND_NAME = /^[a-z][a-z0-9_-]{0,31}$/;

/** Checks a kind's definition once, at registration, so a mistake fails at start-up rather than at the first append. */
export function validateKind(kind: StreamKind<StreamRecord, unknown>): void {
  if (!KIND_NAME.test(kind.name)) throw new Error(`stream kind name ${JSON.stringify(kind.name)} must match ${KIND_NAME}`);
  const types = new Set(kind.eventTypes);
  if (types.size === 0) throw new Error(`stream kind ${kind.name} has no event types`);
  for (const [field, type] of [["opening", kind.opening], ["terminal", kind.terminal], ["compactOn", kind.compactOn]] as const) {
    if (type !== undefined && !types.has(type)) throw new Error(`stream kind ${kind.name}: ${field} ${JSON.stringify(type)} is not one of its event types`);
  }
}
