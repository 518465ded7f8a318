/**
 * In-process fan-out of committed events. Publishing is synchronous and O(1)
 * per subscriber: listeners must only enqueue (the SSE helper bounds its own
 * buffer), so one slow follower never slows the writer or the others. The
 * wire frame is serialised once per event and shared by every follower.
 */
import type { RoomEvent } from "./event.types.js";

export type EventListener = (event: RoomEvent, frame: string) => void;

export class EventBus {
  readonly #topics = new Map<string, Set<EventListener>>();
  readonly #serialize: (event: RoomEvent) => string;

  constructor(serialize: (event: RoomEvent) => string) {
    this.#serialize = serialize;
  }

  static key(tenant: string, roomId: string): string {
    return `${tenant}/${roomId}`;
  }

  subscribe(tenant: string, roomId: string, listener: EventListener): () => void {
    const key = EventBus.key(tenant, roomId);
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

  /**
   * Delivers committed events, in order. A throwing listener is dropped, never propagated to the writer.
   * The set is iterated live, not copied (a room may have 1,000 followers): a listener that unsubscribes
   * during the call, itself or another, is skipped from then on, which is what it asked for.
   */
  publish(tenant: string, roomId: string, events: readonly RoomEvent[]): void {
    const set = this.#topics.get(EventBus.key(tenant, roomId));
    if (!set || set.size === 0) return;
    for (const event of events) {
      const frame = this.#serialize(event);
      for (const listener of set) {
        try {
          listener(event, frame);
        } catch {
          set.delete(listener);
        }
      }
    }
  }

  subscriberCount(tenant?: string, roomId?: string): number {
    if (tenant !== undefined && roomId !== undefined) return this.#topics.get(EventBus.key(tenant, roomId))?.size ?? 0;
    let n = 0;
    for (const [key, set] of this.#topics) if (tenant === undefined || key.startsWith(`${tenant}/`)) n += set.size;
    return n;
  }
}
