/**
 * In-process fan-out of committed events, per stream: a topic is
 * `(tenant, kind, stream id)`. Publishing is synchronous and O(1) per
 * subscriber: listeners must only enqueue (the SSE helper bounds its own
 * buffer), so one slow follower never slows the writer or the others. The
 * wire frame is serialised once per event and shared by every follower.
 */
import type { StreamRecord } from "./event.stream.js";

export type EventListener<R extends StreamRecord = StreamRecord> = (event: R, frame: string) => void;

/** Where a listener failed, for the log. */
export interface ListenerFailure {
  tenant: string;
  kind: string;
  streamId: string;
  seq: number;
  eventType: string;
}

/** One stream's listeners, knowing its own key: an unsubscribe holds the topic, not a key string per subscriber. */
class Topic extends Set<EventListener> {
  constructor(readonly key: string) {
    super();
  }
}

export class EventBus {
  readonly #topics = new Map<string, Topic>();
  readonly #serialize: (event: StreamRecord) => string;
  readonly #onListenerError: ((err: unknown, where: ListenerFailure) => void) | undefined;

  /**
   * `serialize` makes the frame every follower shares (`formatSseFrame`).
   * `onListenerError` hears of each listener that threw and was dropped
   * (the server logs it); it must not throw.
   */
  constructor(serialize: (event: StreamRecord) => string, onListenerError?: (err: unknown, where: ListenerFailure) => void) {
    this.#serialize = serialize;
    this.#onListenerError = onListenerError;
  }

  /** A topic's key: the tenant first, so one tenant's topics share a prefix. */
  static key(tenant: string, kind: string, streamId: string): string {
    return `${tenant}/${kind}/${streamId}`;
  }

  /** Listens to one stream's committed events until the returned function is called (idempotent). */
  subscribe<R extends StreamRecord>(tenant: string, kind: string, streamId: string, listener: EventListener<R>): () => void {
    const key = EventBus.key(tenant, kind, streamId);
    const l = listener as unknown as EventListener;
    let topic = this.#topics.get(key);
    if (!topic) this.#topics.set(key, (topic = new Topic(key)));
    topic.add(l);
    return () => {
      // A topic emptied and dropped is never reused (a later subscriber makes a new one), so deleting from it is a no-op.
      if (!topic.delete(l) || topic.size > 0) return;
      if (this.#topics.get(topic.key) === topic) this.#topics.delete(topic.key);
    };
  }

  /**
   * Delivers committed events of one stream, in order. A throwing listener
   * is dropped and reported to `onListenerError`, never propagated to the
   * writer. The set is iterated live, not copied (a room may have 1,000
   * followers): a listener that unsubscribes during the call, itself or
   * another, is skipped from then on, which is what it asked for.
   */
  publish(tenant: string, kind: string, streamId: string, events: readonly StreamRecord[]): void {
    if (events.length === 0) return;
    const key = EventBus.key(tenant, kind, streamId);
    const set = this.#topics.get(key);
    if (!set || set.size === 0) return;
    for (const event of events) {
      const frame = this.#serialize(event);
      for (const listener of set) {
        try {
          listener(event, frame);
        } catch (err) {
          set.delete(listener);
          if (set.size === 0) this.#topics.delete(key);
          this.#report(err, { tenant, kind, streamId, seq: event.seq, eventType: event.event_type });
        }
      }
    }
  }

  #report(err: unknown, where: ListenerFailure): void {
    try {
      this.#onListenerError?.(err, where);
    } catch {
      // A failing logger must not turn into a failed publish: the events are committed.
    }
  }

  /**
   * Live listeners matching every field given: one stream (`{tenant, kind,
   * streamId}`), one tenant's streams of a kind, one tenant's, or all. Named
   * fields, so a call cannot mistake a stream id for a kind.
   */
  subscriberCount(where: { tenant?: string; kind?: string; streamId?: string } = {}): number {
    const { tenant, kind, streamId } = where;
    if (tenant !== undefined && kind !== undefined && streamId !== undefined) return this.#topics.get(EventBus.key(tenant, kind, streamId))?.size ?? 0;
    let n = 0;
    for (const [key, set] of this.#topics) {
      const a = key.indexOf("/");
      const b = key.indexOf("/", a + 1);
      if (tenant !== undefined && key.slice(0, a) !== tenant) continue;
      if (kind !== undefined && key.slice(a + 1, b) !== kind) continue;
      if (streamId !== undefined && key.slice(b + 1) !== streamId) continue;
      n += set.size;
    }
    return n;
  }
}
