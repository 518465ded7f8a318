/**
 * What the event log keeps in memory between transactions, for a room's text
 * fold: it is needed only while a message streams, so a stream that ends any
 * way (its turn ends, the room is released mid-message, or it simply stops
 * and is never heard of again) must not leave it behind, and text streamed
 * after a dropped fold must still be exactly right.
 */
import { afterAll, describe, expect, it } from "vitest";
import { EventBus } from "../../src/events/event.bus.js";
import { EventLog, type EventLogOptions } from "../../src/events/event.log.js";
import type { RoomEvent } from "../../src/events/event.types.js";
import { insertRoom } from "../../src/room/room.store.js";
import { readRoomEventsAfter, roomStream } from "../../src/room/room.stream.js";
import { formatSseFrame } from "../../src/sse/sse.feed.js";
import { tenantFiles } from "../support/tenant-files.js";

const files = tenantFiles("fold-memory");
afterAll(() => files.close());

function setup(name: string, opts: EventLogOptions = {}) {
  const t = files.open(name);
  const log = new EventLog(new EventBus(formatSseFrame), { kinds: [roomStream], ...opts });
  const rent = (id: string) => {
    insertRoom(t, { id, status: "rented", metadata: {}, actors: [], toolPolicy: {}, wakePolicy: {}, donePolicy: {}, version: 1, rentedAt: "x", updatedAt: "x", usage: {}, createdBy: "tester" });
    log.transaction(t, (tx) => tx.emit(id, { event_type: "room:rented", payload: { actors: [] } }));
  };
  return { t, log, rent };
}

const start = { event_type: "pi:message_start", payload: { message: { role: "assistant" } } } as const;
const delta = (d: string, soFar: string) => ({ event_type: "pi:message_update", payload: { update_type: "text_delta", delta: d, partial: { role: "assistant", text: soFar } } }) as const;
const partial = (e: RoomEvent) => (e.payload["partial"] as { text: string }).text;
const states = (log: EventLog) => log.memory().streamsWithState;

describe("the text fold kept between transactions", () => {
  it("is kept while a message streams and dropped when the turn ends, even mid-message", () => {
    const { t, log, rent } = setup("turn-end");
    rent("r");
    log.transaction(t, (tx) => {
      tx.emit("r", start);
      tx.emit("r", delta("Hel", "Hel"));
    });
    expect(states(log)).toBe(1);
    // Interrupted before pi:message_end: the turn ends all the same.
    log.transaction(t, (tx) => tx.emit("r", { event_type: "agent:turn_end", payload: { status: "interrupted" } }));
    expect(states(log)).toBe(0);
  });

  it("is dropped when the room is released in the middle of a message (no turn end ever comes)", () => {
    const { t, log, rent } = setup("released");
    rent("r");
    log.transaction(t, (tx) => {
      tx.emit("r", start);
      tx.emit("r", delta("Hel", "Hel"));
    });
    expect(states(log)).toBe(1);
    log.transaction(t, (tx) => {
      tx.emit("r", { event_type: "room:releasing", payload: { reason: "stuck" } });
      tx.emit("r", { event_type: "room:released", payload: { reason: "stuck" } });
    });
    expect(states(log)).toBe(0);
  });

  it("survives a turn end followed by a new message in the same transaction", () => {
    const { t, log, rent } = setup("same-tx");
    rent("r");
    log.transaction(t, (tx) => {
      tx.emit("r", start);
      tx.emit("r", delta("old", "old"));
      tx.emit("r", { event_type: "agent:turn_end", payload: { status: "completed" } });
      tx.emit("r", start);
      tx.emit("r", delta("new", "new"));
    });
    expect(states(log)).toBe(1);
    const next = log.transaction(t, (tx) => tx.emit("r", delta("er", "newer")));
    expect(partial(next)).toBe("newer");
  });

  it("is bounded: streams that stop mid-message are forgotten oldest first, and each goes on with the right text, rebuilt from the log", () => {
    const { t, log, rent } = setup("bounded", { maxCodecStates: 2 });
    const rooms = ["r1", "r2", "r3", "r4", "r5"];
    for (const r of rooms) {
      rent(r);
      log.transaction(t, (tx) => {
        tx.emit(r, start);
        tx.emit(r, delta(`${r}:a`, `${r}:a`));
      });
    }
    expect(states(log)).toBe(2);
    for (const r of rooms) {
      const live = log.transaction(t, (tx) => tx.emit(r, delta("+b", `${r}:a+b`)));
      expect(partial(live)).toBe(`${r}:a+b`);
      expect(readRoomEventsAfter(t, r, live.seq - 1, 1)).toEqual([live]);
    }
    expect(states(log)).toBe(2);
  });

  it("is not kept for a transaction that rolled back", () => {
    const { t, log, rent } = setup("rollback");
    rent("r");
    expect(() =>
      log.transaction(t, (tx) => {
        tx.emit("r", start);
        tx.emit("r", delta("lost", "lost"));
        throw new Error("roll back");
      }),
    ).toThrow("roll back");
    expect(states(log)).toBe(0);
    log.transaction(t, (tx) => tx.emit("r", start));
    expect(partial(log.transaction(t, (tx) => tx.emit("r", delta("kept", "kept"))))).toBe("kept");
  });
});
