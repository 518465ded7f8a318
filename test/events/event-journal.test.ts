/**
 * Where live events are written (event.store.ts): appended to the journal in
 * the order written, moved into stream_events in bulk once the journal holds
 * more than its bound or on a file's first write after it opens. Wherever a
 * row is, readers see the same events, and a compaction takes rows from both.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { EventBus } from "../../src/events/event.bus.js";
import { EventLog } from "../../src/events/event.log.js";
import { JOURNAL_MAX_ROWS } from "../../src/events/event.store.js";
import type { RoomEvent } from "../../src/events/event.types.js";
import { insertRoom } from "../../src/room/room.store.js";
import { roomStream } from "../../src/room/room.stream.js";
import { formatSseFrame } from "../../src/sse/sse.feed.js";
import { applyMigrations, loadMigrations } from "../../src/storage/migrations.js";
import { packageRoot } from "../../src/storage/paths.js";
import { TenantDatabases, tenantHandle, type TenantDb } from "../../src/storage/tenant-db.js";

const dir = mkdtempSync(path.join(tmpdir(), "roomservice-journal-"));
const opened: Database.Database[] = [];
afterAll(() => {
  for (const db of opened) if (db.open) db.close();
  rmSync(dir, { recursive: true, force: true });
});
const migrations = loadMigrations(path.join(packageRoot(), "migrations"));

function open(name: string): TenantDb {
  const sqlite = new Database(path.join(dir, `${name}.db`));
  opened.push(sqlite);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("foreign_keys = ON");
  applyMigrations(sqlite, migrations);
  return tenantHandle(name, sqlite);
}

const count = (t: TenantDb, table: string) => (t.sqlite.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
const where = (t: TenantDb) => ({ journal: count(t, "stream_events_journal"), settled: count(t, "stream_events") });
const note = (i: number) => ({ event_type: "message:created", payload: { kind: "note", content: `n${i}` } }) as const;

function rented(t: TenantDb, log: EventLog, id: string): void {
  insertRoom(t, { id, status: "rented", metadata: {}, actors: [], toolPolicy: {}, wakePolicy: {}, donePolicy: {}, version: 1, rentedAt: "x", updatedAt: "x", usage: {}, createdBy: "tester" });
  log.transaction(t, (tx) => tx.emit(id, { event_type: "room:rented", payload: { actors: [] } }));
}

const all = (log: EventLog, t: TenantDb, id: string) => log.readAfter<RoomEvent>(t, "room", id, 0, 100_000);

describe("the event journal", () => {
  it("takes every append in write order, and past its bound moves them into stream_events, the same events to every reader", () => {
    const t = open("bound");
    const log = new EventLog(new EventBus(formatSseFrame), { kinds: [roomStream] });
    rented(t, log, "a");
    rented(t, log, "b");
    // The file's first write moved what the journal held (nothing); the second stays in it.
    expect(where(t)).toEqual({ journal: 1, settled: 1 });
    for (let i = 0; i < 10; i++) log.transaction(t, (tx) => [tx.emit("a", note(i)), tx.emit("b", note(i))]);
    expect(where(t)).toEqual({ journal: 21, settled: 1 });
    const before = all(log, t, "a");
    expect(before.map((e) => e.seq)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
    expect(log.readBefore<RoomEvent>(t, "room", "a", 6, 3).map((e) => e.seq)).toEqual([3, 4, 5]);
    // Rows in the journal were written in commit order, interleaving the two rooms.
    const order = t.sqlite.prepare("SELECT stream_id FROM stream_events_journal ORDER BY rowid LIMIT 4").all() as { stream_id: string }[];
    expect(order.map((r) => r.stream_id)).toEqual(["b", "a", "b", "a"]);

    let i = 10;
    while (count(t, "stream_events_journal") > 0) {
      log.transaction(t, (tx) => tx.emit("a", note(i++)));
      expect(count(t, "stream_events_journal")).toBeLessThanOrEqual(JOURNAL_MAX_ROWS);
    }
    expect(count(t, "stream_events")).toBe(1 + 1 + 20 + (i - 10));
    const after = all(log, t, "a");
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after.map((e) => e.seq)).toEqual(Array.from({ length: after.length }, (_, k) => k + 1));
  });

  it("a compaction takes the stream's rows from both tables into one segment and leaves none behind", () => {
    const t = open("compact");
    const log = new EventLog(new EventBus(formatSseFrame), { kinds: [roomStream] });
    rented(t, log, "r");
    rented(t, log, "other");
    // Fill past the bound with the other room, so some of r's rows are moved and later ones stay in the journal.
    log.transaction(t, (tx) => tx.emit("r", { event_type: "pi:message_start", payload: { message: { role: "assistant" } } }));
    log.transaction(t, (tx) => {
      for (let i = 0; i < JOURNAL_MAX_ROWS; i++) tx.emit("other", note(i));
    });
    log.transaction(t, (tx) => tx.emit("r", { event_type: "pi:message_update", payload: { update_type: "text_delta", delta: "Hi", partial: { role: "assistant", text: "Hi" } } }));
    const live = (table: string) => (t.sqlite.prepare(`SELECT seq FROM ${table} WHERE stream_id = 'r' ORDER BY seq`).all() as { seq: number }[]).map((r) => r.seq);
    expect(live("stream_events")).toEqual([1, 2]);
    expect(live("stream_events_journal")).toEqual([3]);
    const before = all(log, t, "r");
    log.transaction(t, (tx) => tx.emit("r", { event_type: "agent:turn_end", payload: { status: "completed" } }));
    expect(live("stream_events")).toEqual([]);
    expect(live("stream_events_journal")).toEqual([]);
    const segments = t.sqlite.prepare("SELECT first_seq, last_seq FROM stream_event_segments WHERE stream_id = 'r'").all();
    expect(segments).toEqual([{ first_seq: 1, last_seq: 4 }]);
    expect(all(log, t, "r").slice(0, before.length)).toEqual(before);
  });

  it("left holding rows when its file closed is read as before, and moved by the file's first write after it opens again", () => {
    const t = open("reopen");
    const log = new EventLog(new EventBus(formatSseFrame), { kinds: [roomStream] });
    rented(t, log, "r");
    for (let i = 0; i < 5; i++) log.transaction(t, (tx) => tx.emit("r", note(i)));
    const before = all(log, t, "r");
    expect(where(t)).toEqual({ journal: 5, settled: 1 });
    t.sqlite.close();

    const again = open("reopen");
    const log2 = new EventLog(new EventBus(formatSseFrame), { kinds: [roomStream] });
    expect(all(log2, again, "r")).toEqual(before);
    log2.transaction(again, (tx) => tx.emit("r", note(5)));
    expect(where(again)).toEqual({ journal: 0, settled: 7 });
    expect(all(log2, again, "r").slice(0, before.length)).toEqual(before);
  });

  it("is moved into stream_events when its file closes, so a file at rest keeps its live rows in one table", async () => {
    const tenants = new TenantDatabases({ dataDir: path.join(dir, "closing"), migrations, busyTimeoutMs: 1000, idleCloseMs: 60_000 });
    const log = new EventLog(new EventBus(formatSseFrame), { kinds: [roomStream] });
    tenants.setBeforeClose((t) => log.settle(t));
    const t = tenants.get("acme");
    rented(t, log, "r");
    for (let i = 0; i < 3; i++) log.transaction(t, (tx) => tx.emit("r", note(i)));
    expect(where(t)).toEqual({ journal: 3, settled: 1 });
    const before = all(log, t, "r");
    tenants.closeIfUnheld("acme");
    const file = new Database(tenants.fileOf("acme"), { readonly: true });
    try {
      expect(count({ sqlite: file } as TenantDb, "stream_events_journal")).toBe(0);
      expect(count({ sqlite: file } as TenantDb, "stream_events")).toBe(4);
    } finally {
      file.close();
    }
    expect(all(log, tenants.get("acme"), "r")).toEqual(before);
    await tenants.closeAll();
  });
});
