/**
 * The in-process bus the SSE followers subscribe to: one frame per event for
 * all listeners, and listeners leaving (or failing) in the middle of a publish.
 */
import { describe, expect, it } from "vitest";
import { EventBus } from "../../src/events/event.bus.js";
import type { RoomEvent } from "../../src/events/event.types.js";
import { formatSseFrame } from "../../src/sse/sse.stream.js";

const event = (seq: number): RoomEvent => ({ id: `r:${seq}`, seq, room_id: "r", event_type: "room:updated", agent_key: null, turn_id: null, payload: {}, created_at: new Date(0).toISOString() });

describe("EventBus.publish", () => {
  it("serialises each event once and hands every listener the same frame", () => {
    let serialised = 0;
    const bus = new EventBus((e) => {
      serialised++;
      return formatSseFrame(e);
    });
    const seen: string[][] = [[], []];
    for (const s of seen) bus.subscribe("t", "r", (_e, frame) => s.push(frame));
    bus.publish("t", "r", [event(1), event(2)]);
    expect(serialised).toBe(2);
    expect(seen[0]).toEqual(seen[1]);
    expect(seen[0]![0]).toBe(seen[1]![0]);
  });

  it("a listener unsubscribed during a publish gets nothing more; a throwing one is dropped; the rest get everything", () => {
    const bus = new EventBus(formatSseFrame);
    const got = { a: [] as number[], b: [] as number[], c: [] as number[] };
    let unsubscribeB = (): void => undefined;
    bus.subscribe("t", "r", (e) => {
      got.a.push(e.seq);
      unsubscribeB();
    });
    unsubscribeB = bus.subscribe("t", "r", (e) => got.b.push(e.seq));
    bus.subscribe("t", "r", (e) => {
      got.c.push(e.seq);
      throw new Error("listener bug");
    });
    bus.publish("t", "r", [event(1), event(2)]);
    expect(got).toEqual({ a: [1, 2], b: [], c: [1] });
    expect(bus.subscriberCount("t", "r")).toBe(1);
  });
});
