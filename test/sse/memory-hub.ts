/**
 * Test support: an in-memory event source shaped like the real one. `publish`
 * appends to the durable log first, then notifies listeners with one frame
 * serialised for all of them (durable first, then fan out).
 */
import { formatSseFrame } from "../../src/sse/sse.stream.js";
import type { SseSource, SseTimers, StreamEvent } from "../../src/sse/sse.types.js";

export interface TestEvent extends StreamEvent {
  id: string;
  room_id: string;
  payload: Record<string, unknown>;
  created_at: string;
}

export interface MemoryHub extends SseSource<TestEvent> {
  readonly log: TestEvent[];
  /** Durable append then live notify; returns the stored event. */
  publish(event_type?: string, payload?: Record<string, unknown>): TestEvent;
  /** Durable append without notifying (to create a gap a live follower must fill from replay). */
  appendSilently(event_type?: string, payload?: Record<string, unknown>): TestEvent;
  /** Notify listeners of an already stored event. */
  notify(event: TestEvent): void;
  listenerCount(): number;
  replayCalls: number;
  /** Runs at the start of every replay() call, before the log is read (seam tests publish from here). */
  onReplay: ((afterSeq: number, limit: number) => void) | undefined;
  /** Runs after the log is read, before replay() returns. */
  afterReplayRead: ((afterSeq: number, limit: number) => void) | undefined;
  /** Makes the next replay() throw. */
  failNextReplay: boolean;
  closed: boolean;
}

export const TERMINAL = "room:released";

export function createMemoryEventHub(opts: { preSerialise?: boolean } = {}): MemoryHub {
  const log: TestEvent[] = [];
  const listeners = new Set<(event: TestEvent, frame?: string) => void>();
  const preSerialise = opts.preSerialise ?? true;

  const append = (event_type = "room:updated", payload: Record<string, unknown> = {}): TestEvent => {
    const seq = log.length + 1;
    const event: TestEvent = { id: `ev-${seq}`, seq, room_id: "room-1", event_type, payload, created_at: new Date(0).toISOString() };
    log.push(event);
    if (event_type === TERMINAL) hub.closed = true;
    return event;
  };

  const hub: MemoryHub = {
    log,
    replayCalls: 0,
    onReplay: undefined,
    afterReplayRead: undefined,
    failNextReplay: false,
    closed: false,
    replay(afterSeq, limit) {
      hub.replayCalls++;
      if (hub.failNextReplay) {
        hub.failNextReplay = false;
        throw new Error("disk on fire");
      }
      hub.onReplay?.(afterSeq, limit);
      // seq = index + 1, so the first event after `afterSeq` is at index afterSeq.
      const page = log.slice(afterSeq, afterSeq + limit);
      hub.afterReplayRead?.(afterSeq, limit);
      return page;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    isTerminal: (event) => event.event_type === TERMINAL,
    isClosed: () => hub.closed,
    publish(event_type, payload) {
      const event = append(event_type, payload);
      hub.notify(event);
      return event;
    },
    appendSilently: append,
    notify(event) {
      const frame = preSerialise ? formatSseFrame(event) : undefined;
      for (const l of [...listeners]) l(event, frame);
    },
    listenerCount: () => listeners.size,
  };
  return hub;
}

/** SseTimers that count the intervals currently alive. */
export function countingTimers(): SseTimers & { live(): number; created: number } {
  const live = new Set<unknown>();
  const t = {
    created: 0,
    setInterval(fn: () => void, ms: number): unknown {
      const h = setInterval(fn, ms);
      live.add(h);
      t.created++;
      return h;
    },
    clearInterval(h: unknown): void {
      live.delete(h);
      clearInterval(h as ReturnType<typeof setInterval>);
    },
    live: () => live.size,
  };
  return t;
}
