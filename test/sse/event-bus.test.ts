/**
 * The in-process bus the SSE followers subscribe to: one frame per event for
 * all listeners, topics per (tenant, kind, stream), and listeners leaving
 * (or failing, which is reported) in the middle of a publish.
 */
import { describe, expect, it } from "vitest";
import { EventBus, type ListenerFailure } from "../../src/events/event.bus.js";
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
    for (const s of seen) bus.subscribe("t", "room", "r", (_e, frame) => s.push(frame));
    bus.publish("t", "room", "r", [event(1), event(2)]);
    expect(serialised).toBe(2);
    expect(seen[0]).toEqual(seen[1]);
    expect(seen[0]![0]).toBe(seen[1]![0]);
  });

  it("keeps topics apart by tenant, kind and stream id", () => {
    const bus = new EventBus(formatSseFrame);
    const got: string[] = [];
    bus.subscribe("t", "room", "x", () => got.push("room x"));
    bus.subscribe("t", "run", "x", () => got.push("run x"));
    bus.subscribe("u", "room", "x", () => got.push("other tenant"));
    bus.publish("t", "run", "x", [event(1)]);
    bus.publish("t", "room", "x", [event(1)]);
    expect(got).toEqual(["run x", "room x"]);
    expect(bus.subscriberCount({ tenant: "t" })).toBe(2);
    expect(bus.subscriberCount({ tenant: "t", kind: "room" })).toBe(1);
    expect(bus.subscriberCount({ tenant: "t", kind: "run", streamId: "x" })).toBe(1);
    expect(bus.subscriberCount({ kind: "room", streamId: "x" })).toBe(2);
    expect(bus.subscriberCount()).toBe(3);
  });

  it("a listener unsubscribed during a publish gets nothing more; a throwing one is dropped and reported with its stream; the rest get everything", () => {
    const failures: { err: unknown; where: ListenerFailure }[] = [];
    const bus = new EventBus(formatSseFrame, (err, where) => failures.push({ err, where }));
    const got = { a: [] as number[], b: [] as number[], c: [] as number[] };
    let unsubscribeB = (): void => undefined;
    bus.subscribe("t", "room", "r", (e) => {
      got.a.push(e.seq);
      unsubscribeB();
    });
    unsubscribeB = bus.subscribe("t", "room", "r", (e) => got.b.push(e.seq));
    bus.subscribe("t", "room", "r", (e) => {
      got.c.push(e.seq);
      throw new Error("listener bug");
    });
    bus.publish("t", "room", "r", [event(1), event(2)]);
    expect(got).toEqual({ a: [1, 2], b: [], c: [1] });
    expect(bus.subscriberCount({ tenant: "t", kind: "room", streamId: "r" })).toBe(1);
    expect(failures).toHaveLength(1);
    expect(String(failures[0]!.err)).toContain("listener bug");
    expect(failures[0]!.where).toEqual({ tenant: "t", kind: "room", streamId: "r", seq: 1, eventType: "room:updated" });
  });

  it("a report that throws does not reach the publisher", () => {
    const bus = new EventBus(formatSseFrame, () => {
      throw new Error("logger down");
    });
    const got: number[] = [];
    bus.subscribe("t", "room", "r", () => {
      throw new Error("listener bug");
    });
    bus.subscribe("t", "room", "r", (e) => got.push(e.seq));
    expect(() => bus.publish("t", "room", "r", [event(1), event(2)])).not.toThrow();
    expect(got).toEqual([1, 2]);
  });
});

describe("EventBus.subscribe", () => {
  it("an unsubscribe is idempotent and never touches the topic of a later subscriber to the same stream", () => {
    const bus = new EventBus(formatSseFrame);
    const got: string[] = [];
    const first = bus.subscribe("t", "room", "r", () => got.push("first"));
    first();
    expect(bus.subscriberCount()).toBe(0);
    // Same stream again: a new topic. The old unsubscribe, called again, must leave it alone.
    const second = bus.subscribe("t", "room", "r", () => got.push("second"));
    first();
    bus.publish("t", "room", "r", [event(1)]);
    expect(got).toEqual(["second"]);
    expect(bus.subscriberCount({ tenant: "t", kind: "room", streamId: "r" })).toBe(1);
    second();
    second();
    bus.publish("t", "room", "r", [event(2)]);
    expect(got).toEqual(["second"]);
    expect(bus.subscriberCount()).toBe(0);
  });
});
