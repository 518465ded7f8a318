/**
 * The prepared per-row writes (RowWriter, used by room.store and
 * budget.store) must store and return exactly what drizzle's query builder
 * did: same stored bytes, same row objects (keys, order, parsed JSON, nulls).
 * Each case runs once through the store and once through drizzle on a twin
 * file, and both are compared.
 */
import { and, eq, sql } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { addDailyUsage, tokensUsedOn } from "../../src/runtime/budget.store.js";
import { insertMessage, insertRoom, insertTurn, updateMessage, updateRoom, updateTurn, type NewRoomRow } from "../../src/room/room.store.js";
import * as schema from "../../src/storage/schema.js";
import type { TenantDb } from "../../src/storage/tenant-db.js";
import { tenantFiles } from "../support/tenant-files.js";

const { rooms, roomMessages, roomTurns, tokenUsageDaily } = schema;
const files = tenantFiles("rowwriter");
afterAll(() => files.close());
const open = (name: string): TenantDb => files.open(name);

/** Every stored value as SQLite has it (types included), so NULL and the string "null" differ. */
function dump(t: TenantDb, table: string): unknown[] {
  return (t.sqlite.prepare(`SELECT * FROM ${table} ORDER BY rowid`).raw(true).all() as unknown[][]).map((r) => r.map((v) => [typeof v, v]));
}

function sameRow(a: unknown, b: unknown): void {
  expect(a).toStrictEqual(b);
  if (a && b) expect(Object.keys(a)).toEqual(Object.keys(b));
}

const room: NewRoomRow = {
  id: "r1",
  status: "rented",
  purpose: null,
  name: "n",
  metadata: { a: 1, nested: { b: [1, "x", null] } },
  actors: [{ agent_id: "assistant" }],
  toolPolicy: { allowed_tools: [] },
  wakePolicy: { mode: "on_message" },
  donePolicy: {},
  version: 1,
  rentedAt: "2026-01-01T00:00:00.000Z",
  updatedAt: "2026-01-01T00:00:00.000Z",
  lastActiveAt: null,
  releasedAt: null,
  lastError: null,
  queuedMessageId: null,
  activeTurn: null,
  usage: { input: 0 },
  summaryText: null,
  createdBy: "alice",
  // sleepAt, lastEventSeq and lastMessageSeq absent: NULL and the column defaults.
  releaseAt: "2026-01-02T00:00:00.000Z",
};

describe("prepared row writes match drizzle's builder", () => {
  const ours = open("ours");
  const ref = open("drizzle");

  it("insertRoom: absent values take defaults, JSON stringified, nulls stay NULL", () => {
    sameRow(insertRoom(ours, room), ref.db.insert(rooms).values(room).returning().get());
    expect(dump(ours, "rooms")).toEqual(dump(ref, "rooms"));
  });

  it("updateRoom: partial changes, JSON to null and back, undefined left alone", () => {
    const cases: Partial<NewRoomRow>[] = [
      { status: "active", activeTurn: { id: "t1", started_at: "x" }, sleepAt: null, releaseAt: undefined },
      { activeTurn: null, lastError: { code: "E", message: "m" }, usage: { input: 3, cost: { total: 0.5 } } },
      { lastError: null, metadata: {}, name: null },
    ];
    for (const changes of cases) {
      sameRow(updateRoom(ours, "r1", changes), ref.db.update(rooms).set(changes).where(eq(rooms.id, "r1")).returning().get());
      expect(dump(ours, "rooms")).toEqual(dump(ref, "rooms"));
    }
  });

  it("updateRoom with expectedVersion: matches only that version; a miss is undefined and writes nothing", () => {
    const bump = (v: number) => ({ version: v + 1, purpose: `v${v + 1}` });
    const refUpdate = (v: number) => ref.db.update(rooms).set(bump(v)).where(and(eq(rooms.id, "r1"), eq(rooms.version, v))).returning().get();
    sameRow(updateRoom(ours, "r1", bump(1), 1), refUpdate(1));
    expect(updateRoom(ours, "r1", bump(1), 1)).toBeUndefined();
    expect(refUpdate(1)).toBeUndefined();
    expect(updateRoom(ours, "missing", { purpose: "x" })).toBeUndefined();
    expect(dump(ours, "rooms")).toEqual(dump(ref, "rooms"));
  });

  it("updateRoom with nothing to set throws as drizzle does", () => {
    expect(() => updateRoom(ours, "r1", { purpose: undefined })).toThrow("No values to set");
    expect(() => ref.db.update(rooms).set({ purpose: undefined }).where(eq(rooms.id, "r1")).run()).toThrow("No values to set");
  });

  it("messages and turns: insert, update with returning, update without", () => {
    const message = { id: "m1", roomId: "r1", seq: 1, kind: "message", authorKind: "user", authorId: "alice", actorKey: null, content: "hi", metadata: { k: [1] }, status: "queued", turnId: null, createdAt: "c" };
    sameRow(insertMessage(ours, message), ref.db.insert(roomMessages).values(message).returning().get());
    const change = { status: "running", turnId: "t1", actorKey: "assistant", metadata: {} };
    sameRow(updateMessage(ours, "m1", change), ref.db.update(roomMessages).set(change).where(eq(roomMessages.id, "m1")).returning().get());
    expect(updateMessage(ours, "nope", change)).toBeUndefined();
    expect(dump(ours, "room_messages")).toEqual(dump(ref, "room_messages"));

    const turn = { id: "t1", roomId: "r1", messageId: "m1", agentId: "assistant", status: "running", startedAt: "s" };
    sameRow(insertTurn(ours, turn), ref.db.insert(roomTurns).values(turn).returning().get());
    const end = { status: "completed", endedAt: "e", usage: { totalTokens: 5 }, error: null };
    updateTurn(ours, "t1", end);
    ref.db.update(roomTurns).set(end).where(eq(roomTurns.id, "t1")).run();
    expect(dump(ours, "room_turns")).toEqual(dump(ref, "room_turns"));
  });

  it("daily usage: added up per day and model; the daily budget counts every model of a day, zero for an unknown day", () => {
    const adds = [
      ["2026-01-01", "local", "echo", 5],
      ["2026-01-01", "local", "echo", 7],
      ["2026-01-01", "fake", "worker", 3],
      ["2026-01-02", "local", "echo", 1],
    ] as const;
    for (const [day, provider, model, n] of adds) {
      addDailyUsage(ours, day, { provider, model, input: n, output: n, tokens: 2 * n, costUsd: n / 1000 });
      ref.db
        .insert(tokenUsageDaily)
        .values({ day, provider, model, input: n, output: n, tokens: 2 * n, costUsd: n / 1000 })
        .onConflictDoUpdate({
          target: [tokenUsageDaily.day, tokenUsageDaily.provider, tokenUsageDaily.model],
          set: {
            input: sql`${tokenUsageDaily.input} + ${n}`,
            output: sql`${tokenUsageDaily.output} + ${n}`,
            tokens: sql`${tokenUsageDaily.tokens} + ${2 * n}`,
            costUsd: sql`${tokenUsageDaily.costUsd} + ${n / 1000}`,
          },
        })
        .run();
    }
    expect(dump(ours, "token_usage_daily")).toEqual(dump(ref, "token_usage_daily"));
    expect(tokensUsedOn(ours, "2026-01-01")).toBe(30);
    expect(tokensUsedOn(ours, "2026-01-03")).toBe(0);
  });
});
