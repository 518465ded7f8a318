import { useRef, useState } from "preact/hooks";
import { clock, oneLine } from "../lib/format.js";
import type { RoomState } from "../lib/room-state.js";
import type { RoomEvent } from "../lib/types.js";
import { VirtualList, type VirtualListHandle } from "./virtual-list.js";

const ROW = 24;

function summary(ev: RoomEvent): string {
  const p = ev.payload ?? {};
  if (ev.event_type === "pi:message_update") return JSON.stringify(p["delta"] ?? "");
  return oneLine(p, 200);
}

/** The raw feed, one fixed-height row per event, with seq numbers; arrow keys move through it, the selected event shows in full. */
export function EventLog({ state, version, onLoadOlder }: { state: RoomState; version: number; onLoadOlder: () => Promise<void> }) {
  const [selected, setSelected] = useState<number | null>(null);
  const [loading, setLoading] = useState(false);
  const list = useRef<VirtualListHandle>(null);
  const events = state.events;
  const index = selected === null ? -1 : events.findIndex((e) => e.seq === selected);
  const current = index >= 0 ? events[index]! : null;

  const move = (to: number) => {
    if (events.length === 0) return;
    const i = Math.max(0, Math.min(events.length - 1, to));
    setSelected(events[i]!.seq);
    list.current?.scrollToIndex(i);
  };

  const onKeyDown = (e: KeyboardEvent) => {
    const page = 10;
    const at = index >= 0 ? index : events.length - 1;
    const keys: Record<string, () => void> = {
      ArrowDown: () => move(index >= 0 ? at + 1 : at),
      ArrowUp: () => move(at - 1),
      PageDown: () => move(at + page),
      PageUp: () => move(at - page),
      Home: () => move(0),
      End: () => move(events.length - 1),
      Escape: () => setSelected(null),
    };
    const f = keys[e.key];
    if (f) {
      e.preventDefault();
      f();
    }
  };

  return (
    <section class="event-log" aria-labelledby="events-title">
      <div class="log-head">
        <h2 id="events-title">Events</h2>
        <span class="muted mono" data-testid="event-count" data-count={events.length} data-first={state.firstSeq} data-last={state.lastSeq} data-gaps={state.gaps.length}>
          {`${events.length} · seq ${state.firstSeq}–${state.lastSeq}`}
        </span>
        {state.gaps.length > 0 ? (
          <span class="bad" data-testid="event-gap">
            gap after seq {state.gaps.join(", ")}
          </span>
        ) : null}
        {state.hasOlder ? (
          <button
            type="button"
            class="quiet"
            data-testid="load-older"
            disabled={loading}
            onClick={() => {
              setLoading(true);
              void onLoadOlder().finally(() => setLoading(false));
            }}
          >
            {loading ? "Loading…" : "Load older"}
          </button>
        ) : null}
      </div>
      <VirtualList
        items={events}
        version={version}
        itemKey={(e) => String(e.seq)}
        estimate={ROW}
        follow
        class="events"
        testId="event-list"
        handle={list}
        attrs={{
          role: "listbox",
          "aria-label": "Event log, newest last",
          tabIndex: 0,
          onKeyDown,
          ...(current ? { "aria-activedescendant": `ev-${current.seq}` } : {}),
        }}
        renderItem={(ev) => (
          <div
            id={`ev-${ev.seq}`}
            role="option"
            aria-selected={ev.seq === selected}
            class={`ev ${ev.seq === selected ? "sel" : ""} ev-${ev.event_type.replace(/[^a-z]/g, "-")}`}
            data-seq={ev.seq}
            onClick={() => setSelected(ev.seq === selected ? null : ev.seq)}
          >
            <span class="seq">{ev.seq}</span>
            <span class="t">{clock(ev.created_at)}</span>
            <span class="type">{ev.event_type}</span>
            <span class="sum">{summary(ev)}</span>
          </div>
        )}
      />
      <div class="ev-detail" data-testid="event-detail">
        {current ? <pre>{JSON.stringify(current, null, 2)}</pre> : <span class="muted">Select an event (click, or focus the log and use ↑ ↓) to see it in full.</span>}
      </div>
    </section>
  );
}
