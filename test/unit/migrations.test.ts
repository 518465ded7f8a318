/** Tenant files move forward through the committed migrations without losing rows, and read back exactly as before. */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { EventBus } from "../../src/events/event.bus.js";
import { EventLog } from "../../src/events/event.log.js";
import { encodeSegment, type StoredEventRow } from "../../src/events/event.segment.js";
import type { RoomEvent } from "../../src/events/event.types.js";
import { readRoomEventsAfter, readRoomEventsBefore, roomStream } from "../../src/room/room.stream.js";
import { formatSseFrame } from "../../src/sse/sse.feed.js";
import { applyMigrations, loadMigrations } from "../../src/storage/migrations.js";
import { tokensUsedOn } from "../../src/runtime/budget.store.js";
import { packageRoot } from "../../src/storage/paths.js";
import { tenantHandle } from "../../src/storage/tenant-db.js";
import { startTestServer } from "../support/harness.js";
import { parseFrames } from "../support/sse-client.js";

const dir = mkdtempSync(path.join(tmpdir(), "roomservice-migrate-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const migrations = loadMigrations(path.join(packageRoot(), "migrations"));
/** Migrations 0000..0002: the schema of room_events, room_event_segments and rooms.last_event_seq. */
const BEFORE_STREAMS = 3;

const sqlOf = (db: Database.Database, name: string) => (db.prepare("SELECT sql FROM sqlite_master WHERE name = ?").get(name) as { sql: string } | undefined)?.sql;

describe("migrations 0000 to 0002", () => {
  it("upgrades a file written by the first schema: events kept, room_events becomes WITHOUT ROWID, segments table added", () => {
    const file = path.join(dir, "old.db");
    const db = new Database(file);
    db.pragma("foreign_keys = ON");
    applyMigrations(db, migrations.slice(0, 1));
    expect(db.pragma("user_version", { simple: true })).toBe(1);
    const now = new Date().toISOString();
    db.prepare(
      `INSERT INTO rooms (id, status, metadata, actors, tool_policy, wake_policy, done_policy, version, rented_at, updated_at, usage, created_by, last_event_seq)
       VALUES (?, 'rented', '{}', '[]', '{}', '{}', '{}', 1, ?, ?, '{}', 'tester', 2)`,
    ).run("r1", now, now);
    const insert = db.prepare("INSERT INTO room_events (room_id, seq, event_type, agent_key, turn_id, payload, created_at) VALUES (?, ?, ?, NULL, NULL, ?, ?)");
    insert.run("r1", 1, "room:rented", "{}", now);
    insert.run("r1", 2, "room:updated", '{"changed":["name"]}', now);

    applyMigrations(db, migrations.slice(0, BEFORE_STREAMS));
    expect(db.pragma("user_version", { simple: true })).toBe(BEFORE_STREAMS);
    expect(sqlOf(db, "room_events")).toMatch(/WITHOUT ROWID/);
    expect(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'sqlite_autoindex_room_events_1'").get()).toEqual({ n: 0 });
    expect(db.prepare("SELECT seq, event_type, payload FROM room_events WHERE room_id = 'r1' ORDER BY seq").all()).toEqual([
      { seq: 1, event_type: "room:rented", payload: "{}" },
      { seq: 2, event_type: "room:updated", payload: '{"changed":["name"]}' },
    ]);
    expect(() => insert.run("r1", 2, "room:updated", "{}", now)).toThrow(/UNIQUE|PRIMARY KEY/);
    // Events written before compaction existed stay live rows; readers take segments first, then these.
    expect(db.prepare("SELECT count(*) AS n FROM room_event_segments").get()).toEqual({ n: 0 });
    db.close();
  });

  it("refuses a file from a newer server", () => {
    const db = new Database(path.join(dir, "newer.db"));
    db.pragma(`user_version = ${migrations.length + 1}`);
    expect(() => applyMigrations(db, migrations)).toThrow(/newer than this server/);
    db.close();
  });
});

// ---------------------------------------------------------------------------
// 0003: room_events, room_event_segments and rooms.last_event_seq become the
// stream-keyed log. The file below is what the room code wrote before it: a
// compacted first turn (stored forms: text folded from deltas, the output's
// text in its message), a live tail, a second turn cut off mid-message, and a
// released room.

const A = "0b6f3c1e-4d0a-4a57-9a57-0e3b5f7c2d11"; // idle, one finished turn, then a turn cut off mid-message
const B = "1c7a4d2f-5e1b-4b68-8b68-1f4c6a8d3e22"; // released
const T1 = "2d8b5e3a-6f2c-4c79-9c79-2a5d7b9e4f33";
const T2 = "3e9c6f4b-7a3d-4d8a-8d8a-3b6e8caf5a44";
const AT = "2026-01-01T00:00:00.000Z";

/** Stored rows as the room code wrote them: [seq, type, agent, turn, stored payload]. */
const storedA: [number, string, string | null, string | null, Record<string, unknown>][] = [
  [1, "room:rented", null, null, { actors: [{ agent_id: "a" }] }],
  [2, "message:created", null, null, { message_id: "m1", seq: 1, kind: "message", author_kind: "user" }],
  [3, "room:active", "a", T1, { trigger_message_id: "m1", turn_id: T1 }],
  [4, "agent:turn_start", "a", T1, { turn_id: T1, message_id: "m1", status: "running" }],
  [5, "pi:message_start", "a", T1, { message: { role: "assistant" } }],
  [6, "pi:message_update", "a", T1, { update_type: "text_delta", delta: "Hel", partial: { role: "assistant" } }],
  [7, "pi:message_update", "a", T1, { update_type: "text_delta", delta: "lo", partial: { role: "assistant" } }],
  [8, "pi:message_end", "a", T1, { message: { role: "assistant", stop_reason: "stop" } }],
  [9, "message:created", "a", T1, { message_id: "m2", seq: 2, kind: "output", author_kind: "agent" }],
  [10, "agent:output", "a", T1, { message_id: "m2" }],
  [11, "agent:turn_end", "a", T1, { turn_id: T1, message_id: "m1", status: "completed" }],
  // live rows from here
  [12, "room:idle", null, null, { reason: "turn_completed" }],
  [13, "message:created", null, null, { message_id: "m3", seq: 3, kind: "message", author_kind: "user" }],
  [14, "room:active", "a", T2, { trigger_message_id: "m3", turn_id: T2 }],
  [15, "agent:turn_start", "a", T2, { turn_id: T2, message_id: "m3", status: "running" }],
  [16, "pi:message_start", "a", T2, { message: { role: "assistant" } }],
  [17, "pi:message_update", "a", T2, { update_type: "text_delta", delta: "Wor", partial: { role: "assistant" } }],
  [18, "pi:message_update", "a", T2, { update_type: "text_delta", delta: "ld", partial: { role: "assistant" } }],
];
const SEGMENT_END = 11;

/** What readers got from those rows before the migration (the contract's record, key order included). */
function expectedA(): RoomEvent[] {
  const texts: Record<number, Record<string, unknown>> = {
    6: { update_type: "text_delta", delta: "Hel", partial: { role: "assistant", text: "Hel" } },
    7: { update_type: "text_delta", delta: "lo", partial: { role: "assistant", text: "Hello" } },
    8: { message: { role: "assistant", stop_reason: "stop", text: "Hello" } },
    10: { message_id: "m2", text: "Hello" },
    17: { update_type: "text_delta", delta: "Wor", partial: { role: "assistant", text: "Wor" } },
    18: { update_type: "text_delta", delta: "ld", partial: { role: "assistant", text: "World" } },
  };
  return storedA.map(([seq, event_type, agent_key, turn_id, payload]) => ({
    id: `${A}:${seq}`,
    seq,
    room_id: A,
    event_type,
    agent_key,
    turn_id,
    payload: texts[seq] ?? payload,
    created_at: AT,
  }));
}

/** A tenant file at schema 0002 holding rooms A and B as the room code left them. */
function oldTenantFile(file: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma("foreign_keys = ON");
  applyMigrations(db, migrations.slice(0, BEFORE_STREAMS));
  const room = db.prepare(
    `INSERT INTO rooms (id, status, metadata, actors, tool_policy, wake_policy, done_policy, version, rented_at, updated_at, usage, created_by, last_event_seq, last_message_seq, released_at)
     VALUES (?, ?, '{}', '[{"agent_id":"a"}]', '{}', '{"mode":"on_message","idle_timeout_s":600,"release_after_s":86400}', '{}', 1, ?, ?, '{"input":0,"output":0,"totalTokens":0,"cost":{"total":0}}', 'tester', ?, ?, ?)`,
  );
  room.run(A, "idle", AT, AT, storedA.length, 3, null);
  room.run(B, "released", AT, AT, 3, 0, AT);
  const message = db.prepare(
    "INSERT INTO room_messages (id, room_id, seq, kind, author_kind, author_id, actor_key, content, metadata, status, turn_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, '{}', 'done', ?, ?)",
  );
  message.run("m1", A, 1, "message", "user", "tester", "a", "say hello", T1, AT);
  message.run("m2", A, 2, "output", "agent", "a", "a", "Hello", T1, AT);
  message.run("m3", A, 3, "message", "user", "tester", "a", "say world", T2, AT);
  const rows: StoredEventRow[] = storedA.map(([seq, event_type, agent_key, turn_id, payload]) => ({ seq, event_type, agent_key, turn_id, payload: JSON.stringify(payload), created_at: AT }));
  db.prepare("INSERT INTO room_event_segments (room_id, first_seq, last_seq, events) VALUES (?, ?, ?, ?)").run(A, 1, SEGMENT_END, encodeSegment(rows.slice(0, SEGMENT_END)));
  const event = db.prepare("INSERT INTO room_events (room_id, seq, event_type, agent_key, turn_id, payload, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
  for (const r of rows.slice(SEGMENT_END)) event.run(A, r.seq, r.event_type, r.agent_key, r.turn_id, r.payload, r.created_at);
  const releasedRows: [number, string, string][] = [
    [1, "room:rented", '{"actors":[{"agent_id":"a"}]}'],
    [2, "room:releasing", '{"reason":"done"}'],
    [3, "room:released", '{"reason":"done"}'],
  ];
  for (const [seq, type, payload] of releasedRows) event.run(B, seq, type, null, null, payload, AT);
  db.close();
}

describe("migration 0003: the stream-keyed event log", () => {
  it("carries every row, segment and seq over (kind 'room'), drops the old tables and rooms.last_event_seq", () => {
    const file = path.join(dir, "streams", "unit.db");
    oldTenantFile(file);
    const before = new Database(file, { readonly: true });
    const oldSegment = (before.prepare("SELECT events FROM room_event_segments").get() as { events: Buffer }).events;
    before.close();

    const db = new Database(file);
    db.pragma("foreign_keys = ON");
    applyMigrations(db, migrations);
    expect(db.pragma("user_version", { simple: true })).toBe(migrations.length);
    expect(sqlOf(db, "room_events")).toBeUndefined();
    expect(sqlOf(db, "room_event_segments")).toBeUndefined();
    expect(sqlOf(db, "stream_events")).toMatch(/WITHOUT ROWID/);
    expect(sqlOf(db, "event_streams")).toMatch(/WITHOUT ROWID/);
    expect((db.prepare("SELECT name FROM pragma_table_info('rooms')").all() as { name: string }[]).map((c) => c.name)).not.toContain("last_event_seq");
    expect(db.pragma("foreign_key_check")).toEqual([]);

    expect(db.prepare("SELECT kind, stream_id, last_seq, closed_seq FROM event_streams ORDER BY stream_id").all()).toEqual([
      { kind: "room", stream_id: A, last_seq: storedA.length, closed_seq: null },
      { kind: "room", stream_id: B, last_seq: 3, closed_seq: 3 },
    ]);
    const segment = db.prepare("SELECT kind, stream_id, first_seq, last_seq, events FROM stream_event_segments").all() as { events: Buffer }[];
    expect(segment).toEqual([{ kind: "room", stream_id: A, first_seq: 1, last_seq: SEGMENT_END, events: oldSegment }]);
    expect(db.prepare("SELECT stream_id, count(*) AS n, min(seq) AS lo, max(seq) AS hi FROM stream_events WHERE kind = 'room' GROUP BY stream_id ORDER BY stream_id").all()).toEqual([
      { stream_id: A, n: storedA.length - SEGMENT_END, lo: SEGMENT_END + 1, hi: storedA.length },
      { stream_id: B, n: 3, lo: 1, hi: 3 },
    ]);

    // Read back through the new log: the same records, byte for byte, from every starting point.
    const t = tenantHandle("unit", db);
    const all = readRoomEventsAfter(t, A, 0, 1000);
    expect(JSON.stringify(all)).toBe(JSON.stringify(expectedA()));
    for (let after = 0; after <= storedA.length; after++) expect(readRoomEventsAfter(t, A, after, 1000)).toEqual(expectedA().slice(after));
    expect(readRoomEventsBefore(t, A, 18, 3)).toEqual(expectedA().slice(14, 17));

    // Appending goes on from the carried seq, mid-message fold included; the released room's stream is closed.
    const events = new EventLog(new EventBus(formatSseFrame), { kinds: [roomStream] });
    const next = events.transaction(t, (tx) => tx.emit(A, { event_type: "pi:message_update", agent_key: "a", turn_id: T2, payload: { update_type: "text_delta", delta: "!", partial: { role: "assistant", text: "World!" } } }));
    expect(next).toMatchObject({ id: `${A}:19`, seq: 19, payload: { partial: { role: "assistant", text: "World!" } } });
    expect(readRoomEventsAfter(t, A, 18, 10)).toEqual([next]);
    expect(events.isClosed(t, "room", B)).toBe(true);
    expect(events.isClosed(t, "room", A)).toBe(false);
    db.close();
  });

  it("a server started on the old file serves the same events over /events and /history, and goes on from there", async () => {
    const dataDir = path.join(dir, "server");
    oldTenantFile(path.join(dataDir, "tenants", "acme.db"));
    const t = await startTestServer({ dataDir, env: { RATE_LIMIT_RPS: "0" } });
    try {
      await t.server.recovery.done;
      const token = await t.token("acme");
      const res = await t.req("GET", `/llm/room/${A}/events`, { token });
      expect(res.status).toBe(200);
      const frames = parseFrames(await res.text()).filter((f) => f.event);
      const expected = expectedA();
      // Recovery put the room to sleep after the restart: one more event, at the next seq.
      expect(frames.map((f) => f.id)).toEqual([...expected.map((e) => String(e.seq)), String(storedA.length + 1)]);
      frames.slice(0, expected.length).forEach((f, i) => {
        expect(f.event).toBe(expected[i]!.event_type);
        expect(f.data).toBe(JSON.stringify(expected[i]));
      });
      expect(JSON.parse(frames.at(-1)!.data!)).toMatchObject({ seq: storedA.length + 1, event_type: "room:sleeping", payload: { reason: "server_restarted" } });
      const history = (await t.json("GET", `/llm/room/${A}/history?limit=5`, { token })).body;
      expect(history.data.events.map((e: RoomEvent) => e.seq)).toEqual([15, 16, 17, 18, 19]);
      expect(history.meta.has_more).toBe(true);
      // A follower of the released room ends at once: its stream is closed.
      const released = await t.req("GET", `/llm/room/${B}/events?follow=true`, { token, headers: { "Last-Event-ID": "3" } });
      expect(parseFrames(await released.text()).filter((f) => f.event)).toEqual([]);
    } finally {
      await t.close();
    }
  });
});

describe("migrations 0005 and 0006 (usage per model)", () => {
  it("keep the daily token counts of an older file, under provider and model '' (reported as null), and the daily budget still counts them", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "roomservice-usage-"));
    try {
      const tenants = path.join(dataDir, "tenants");
      mkdirSync(tenants);
      const db = new Database(path.join(tenants, "acme.db"));
      applyMigrations(db, migrations.slice(0, 5));
      db.prepare("INSERT INTO token_usage_daily (day, tokens) VALUES (?, ?)").run("2026-01-02", 120);
      db.close();
      const t = await startTestServer({ dataDir });
      try {
        const token = await t.token("acme");
        const res = await t.json("GET", "/llm/usage?from=2026-01-01&to=2026-01-03", { token });
        expect(res.status).toBe(200);
        expect(res.body.data.days).toEqual([
          { day: "2026-01-02", input: 0, output: 0, totalTokens: 120, cost: { total: 0 }, by_model: [{ provider: null, model: null, input: 0, output: 0, totalTokens: 120, cost: { total: 0 } }] },
        ]);
        expect(tokensUsedOn(t.server.tenants.get("acme"), "2026-01-02")).toBe(120);
      } finally {
        await t.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe("migration 0007 (the usage ledger for turns that ended before it)", () => {
  it("rebuilds room_usage from room_turns: the same usage by actor as before, an actor since removed under a null model", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "roomservice-backfill-"));
    try {
      let t = await startTestServer({ dataDir });
      const token = await t.token("acme");
      const id = (await t.json("POST", "/llm/room", { token, body: { agents: [{ agent_id: "a" }, { agent_id: "b", options: { reply: "bee" } }] } })).body.data.id as string;
      for (const actor of ["a", "b", "a"]) {
        const m = (await t.json("POST", `/llm/room/${id}/messages`, { token, body: { content: `hi ${actor}`, actor } })).body.data.id as string;
        expect((await t.json("GET", `/llm/room/${id}/messages/${m}?wait=30`, { token })).body.data.done).toBe(true);
      }
      // b leaves the roster: its past usage stays its own.
      expect((await t.json("PATCH", `/llm/room/${id}`, { token, body: { agents: [{ agent_id: "a" }] } })).status).toBe(200);
      const before = (await t.json("GET", `/llm/room/${id}/usage`, { token })).body.data;
      await t.close();

      // The file as a server before the ledger left it: no room_usage rows, migrations up to 0006.
      const db = new Database(path.join(dataDir, "tenants", "acme.db"));
      db.exec("DELETE FROM room_usage");
      // Nor what the migrations after 0007 add (0008: multi-agent rooms; 0009: the event journal, its rows back where they were), which run again after it.
      db.exec("DROP TABLE room_context; ALTER TABLE room_messages DROP COLUMN sequence; ALTER TABLE rooms DROP COLUMN addressing;");
      db.exec("INSERT INTO stream_events SELECT * FROM stream_events_journal; DROP TABLE stream_events_journal;");
      db.pragma("user_version = 7");
      db.close();

      t = await startTestServer({ dataDir });
      try {
        const after = (await t.json("GET", `/llm/room/${id}/usage`, { token })).body.data;
        expect(after.by_actor).toEqual(before.by_actor);
        expect(after.totals).toEqual(before.totals);
        const room = (await t.json("GET", `/llm/room/${id}`, { token })).body.data;
        expect(after.totals.totalTokens).toBe(room.usage.totalTokens);
        const b = before.by_actor.find((x: any) => x.agent_id === "b");
        expect(after.by_model).toEqual([
          { provider: "local", model: "echo", ...before.by_actor.find((x: any) => x.agent_id === "a"), agent_id: undefined },
          { provider: null, model: null, ...b, agent_id: undefined },
        ].map(({ agent_id: _, ...rest }) => rest));
      } finally {
        await t.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
