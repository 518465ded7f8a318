/** Tenant files move forward through the committed migrations without losing rows. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { applyMigrations, loadMigrations } from "../../src/storage/migrations.js";
import { packageRoot } from "../../src/storage/paths.js";

const dir = mkdtempSync(path.join(tmpdir(), "roomservice-migrate-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const migrations = loadMigrations(path.join(packageRoot(), "migrations"));

describe("migrations", () => {
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

    applyMigrations(db, migrations);
    expect(db.pragma("user_version", { simple: true })).toBe(migrations.length);
    const sql = (db.prepare("SELECT sql FROM sqlite_master WHERE name = 'room_events'").get() as { sql: string }).sql;
    expect(sql).toMatch(/WITHOUT ROWID/);
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
