/**
 * How a reader may ask to see room events. `partial_text=false` leaves the
 * cumulative `partial.text` out of `pi:message_update` (its `delta` and
 * `partial.role` stay): a reader rebuilds the text by appending the deltas
 * since `pi:message_start`, and `pi:message_end` still carries the whole text.
 * With it a reply's events grow with its length, not with its square.
 */
import type { RoomEvent } from "../events/event.types.js";

/** One projected object per event object, so a live event's frame is formatted once for every such reader. */
const projected = new WeakMap<RoomEvent, RoomEvent>();

/** The event without `payload.partial.text`; any other event is returned as it is. */
export function withoutPartialText(event: RoomEvent): RoomEvent {
  if (event.event_type !== "pi:message_update") return event;
  const partial = event.payload["partial"];
  if (!partial || typeof partial !== "object" || !("text" in partial)) return event;
  let view = projected.get(event);
  if (!view) {
    const { text: _text, ...rest } = partial as Record<string, unknown>;
    view = { ...event, payload: { ...event.payload, partial: rest } };
    projected.set(event, view);
  }
  return view;
}
