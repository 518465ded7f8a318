/**
 * The committed-row cache behind findRoom: a read outside a transaction may be
 * served from memory, so every way a row changes must make the next read see
 * exactly what SQLite has committed, never a rolled-back or stale row.
 */
import { afterAll, describe, expect, it } from "vitest";
import { EventBus } from "../../src/events/event.bus.js";
import { EventLog } from "../../src/events/event.log.js";
import { findRoom, insertRoom, nextMessageSeq, updateRoom, type NewRoomRow } from "../../src/room/room.store.js";
import { roomStream } from "../../src/room/room.stream.js";
import { formatSseFrame } from "../../src/sse/sse.feed.js";
import { RowCache } from "../../src/storage/row-cache.js";
import type { TenantDb } from "../../src/storage/tenant-db.js";
import { tenantFiles } from "../support/tenant-files.js";

const files = tenantFiles("rowcache");
afterAll(() => files.close());
const open = (name: string): TenantDb => files.open(name);

const room = (id: string): NewRoomRow => ({
  id,
  status: "rented",
  metadata: { tags: ["a"] },
  actors: [{ agent_id: "assistant" }],
  toolPolicy: {},
  wakePolicy: {},
  donePolicy: {},
  version: 1,
  rentedAt: "2026-01-01T00:00:00.000Z",
  updatedAt: "2026-01-01T00:00:00.000Z",
  usage: {},
  createdBy: "alice",
});

/** What SQLite has, bypassing every cache. */
const committed = (t: TenantDb, id: string) => t.sqlite.prepare("SELECT status, version, last_message_seq FROM rooms WHERE id = ?").get(id);
const seen = (t: TenantDb, id: string) => {
  const r = findRoom(t, id)!;
  return { status: r.status, version: r.version, last_message_seq: r.lastMessageSeq };
};

describe("RowCache", () => {
  it("serves repeated reads outside a transaction from memory, never inside one", () => {
    const t = open("unit");
    const cache = new RowCache<{ id: string; n: number }>(10);
    let loads = 0;
    const load = () => ({ id: "x", n: ++loads });
    expect(cache.read(t, "x", load)).toEqual({ id: "x", n: 1 });
    expect(cache.read(t, "x", load)).toEqual({ id: "x", n: 1 });
    expect(loads).toBe(1);
    t.sqlite.transaction(() => {
      expect(cache.read(t, "x", load)).toEqual({ id: "x", n: 2 });
      expect(cache.read(t, "y", load)).toEqual({ id: "x", n: 3 });
    })();
    // The in-transaction reads cached nothing: "y" loads again outside.
    expect(cache.read(t, "y", load)).toEqual({ id: "x", n: 4 });
    cache.forget(t, "x");
    expect(cache.read(t, "x", load)).toEqual({ id: "x", n: 5 });
  });

  it("is bounded, dropping the least recently used row", () => {
    const t = open("bound");
    const cache = new RowCache<{ id: string }>(2);
    const loads: string[] = [];
    const read = (id: string) => cache.read(t, id, () => (loads.push(id), { id }));
    read("a");
    read("b");
    read("a"); // a is now the most recent
    read("c"); // evicts b
    expect(cache.size).toBe(2);
    read("a");
    read("b");
    expect(loads).toEqual(["a", "b", "c", "b"]);
  });

  it("hands out deep-frozen rows, so no caller can change what the next one reads", () => {
    const t = open("frozen");
    insertRoom(t, room("r-frozen"));
    const r = findRoom(t, "r-frozen")!;
    expect(() => {
      (r as { status: string }).status = "released";
    }).toThrow(TypeError);
    expect(() => (r.metadata["tags"] as string[]).push("b")).toThrow(TypeError);
    expect(findRoom(t, "r-frozen")!.metadata).toEqual({ tags: ["a"] });
  });

  it("keeps connections apart: the same room id in two tenant files is two rows", () => {
    const a = open("tenant-a");
    const b = open("tenant-b");
    insertRoom(a, { ...room("same"), status: "idle" });
    insertRoom(b, { ...room("same"), status: "sleeping" });
    expect(findRoom(a, "same")!.status).toBe("idle");
    expect(findRoom(b, "same")!.status).toBe("sleeping");
  });
});

describe("findRoom after every kind of write", () => {
  it("sees updates and message seqs as committed", () => {
    const t = open("writes");
    insertRoom(t, room("r1"));
    expect(seen(t, "r1")).toEqual(committed(t, "r1"));
    t.sqlite.transaction(() => updateRoom(t, "r1", { status: "active", version: 2 }, 1))();
    expect(seen(t, "r1")).toEqual(committed(t, "r1"));
    expect(seen(t, "r1")).toMatchObject({ status: "active", version: 2 });
    t.sqlite.transaction(() => nextMessageSeq(t, "r1"))();
    expect(seen(t, "r1")).toEqual(committed(t, "r1"));
    expect(seen(t, "r1")).toMatchObject({ last_message_seq: 1 });
  });

  it("keeps the cached room row through event transactions: the event seq lives in the log, not on the room", () => {
    const t = open("events");
    const events = new EventLog(new EventBus(formatSseFrame), { kinds: [roomStream] });
    insertRoom(t, room("r3"));
    events.transaction(t, (tx) => tx.emit("r3", { event_type: "room:rented", payload: { actors: [] } }));
    const cached = findRoom(t, "r3")!;
    expect(findRoom(t, "r3")).toBe(cached);
    // A streamed flush, as a turn writes many: the same frozen row is served after it, no reload.
    events.transaction(t, (tx) => {
      tx.emit("r3", { event_type: "pi:message_start", payload: { message: { role: "assistant" } } });
      tx.emit("r3", { event_type: "pi:message_update", payload: { update_type: "text_delta", delta: "hi", partial: { role: "assistant", text: "hi" } } });
    });
    expect(findRoom(t, "r3")).toBe(cached);
    expect(events.lastSeq(t, "room", "r3")).toBe(3);
  });

  it("never sees a rolled-back write, inside or after the transaction", () => {
    const t = open("rollback");
    insertRoom(t, room("r2"));
    expect(seen(t, "r2").status).toBe("rented"); // cached now
    expect(() =>
      t.sqlite.transaction(() => {
        updateRoom(t, "r2", { status: "active", version: 2 });
        // Inside the transaction the read goes to SQLite and sees the uncommitted row...
        expect(seen(t, "r2").status).toBe("active");
        throw new Error("roll back");
      })(),
    ).toThrow("roll back");
    // ...which must not survive the rollback.
    expect(seen(t, "r2")).toEqual(committed(t, "r2"));
    expect(seen(t, "r2").status).toBe("rented");
  });
});
