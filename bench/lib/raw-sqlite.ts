/**
 * Raw better-sqlite3 baselines with the server's pragmas (WAL,
 * synchronous=FULL, foreign_keys=ON), on a file in the same temp filesystem
 * as the servers' DATA_DIRs. Synchronous loops, bounded in rows and time.
 */
import path from "node:path";
import Database from "better-sqlite3";
import { decodeSegment } from "../../src/events/event.segment.js";

function open(file: string): Database.Database {
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.pragma("foreign_keys = ON");
  return db;
}

/** Single-row durable commits per second: the floor for anything that must be on disk before it answers. */
export function rawSingleRowCommits(dir: string, name: string, maxMs: number, maxCommits: number): { commits: number; ms: number; perS: number } {
  const db = open(path.join(dir, `${name}.db`));
  try {
    db.exec("CREATE TABLE ev (room_id TEXT NOT NULL, seq INTEGER NOT NULL, event_type TEXT NOT NULL, payload TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (room_id, seq))");
    const ins = db.prepare("INSERT INTO ev VALUES (?, ?, ?, ?, ?)");
    const payload = JSON.stringify({ update_type: "text_delta", delta: "w0001 ", partial: { role: "assistant" } });
    const one = db.transaction((seq: number) => ins.run("00000000-0000-4000-8000-000000000000", seq, "pi:message_update", payload, new Date().toISOString()));
    const t0 = performance.now();
    let n = 0;
    while (n < maxCommits && performance.now() - t0 < maxMs) one(++n);
    const ms = performance.now() - t0;
    return { commits: n, ms, perS: n / (ms / 1000) };
  } finally {
    db.close();
  }
}

export interface CapturedRows {
  /** CREATE statements of the server's tenant schema, in sqlite_master order. */
  schema: string[];
  rooms: Record<string, unknown>[];
  events: unknown[][];
}

/**
 * Reads the schema, the rooms and up to maxRows events (ascending) from a
 * tenant file, read-only. Live rows are in stream_events and its journal;
 * finished turns live compacted in
 * stream_event_segments; they are decoded back into the rows the server first
 * inserted (the payload text is the same JSON), so the baseline inserts
 * exactly what the server wrote before compacting it.
 */
export function captureRows(tenantFile: string, roomIds: readonly string[], maxRows: number): CapturedRows {
  const db = new Database(tenantFile, { readonly: true, fileMustExist: true });
  try {
    const schema = (db.prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid").all() as { sql: string }[]).map((r) => r.sql);
    const marks = roomIds.map(() => "?").join(",");
    const rooms = db.prepare(`SELECT * FROM rooms WHERE id IN (${marks})`).all(...roomIds) as Record<string, unknown>[];
    const events = db
      .prepare(
        `SELECT stream_id, seq, event_type, agent_key, turn_id, payload, created_at FROM (SELECT * FROM stream_events UNION ALL SELECT * FROM stream_events_journal) WHERE kind = 'room' AND stream_id IN (${marks})`,
      )
      .raw()
      .all(...roomIds) as unknown[][];
    const segments = db.prepare(`SELECT stream_id, first_seq, events FROM stream_event_segments WHERE kind = 'room' AND stream_id IN (${marks})`).all(...roomIds) as { stream_id: string; first_seq: number; events: Buffer }[];
    for (const seg of segments) {
      for (const r of decodeSegment(seg.events, seg.first_seq)) events.push([seg.stream_id, r.seq, r.event_type, r.agent_key, r.turn_id, JSON.stringify(r.payload), r.created_at]);
    }
    const key = (r: unknown[]) => `${String(r[6])} ${String(r[0])} ${String(r[1]).padStart(12, "0")}`;
    events.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
    return { schema, rooms, events: events.slice(0, maxRows) };
  } finally {
    db.close();
  }
}

/** Inserts the captured event rows into a fresh file with the same schema, `perTx` rows per transaction. */
export function rawEventInserts(dir: string, name: string, rows: CapturedRows, perTx: number, maxMs: number): { rows: number; ms: number; perS: number; avgPayloadChars: number } {
  const db = open(path.join(dir, `${name}.db`));
  try {
    for (const sql of rows.schema) db.exec(sql);
    const cols = Object.keys(rows.rooms[0] ?? {});
    const insRoom = db.prepare(`INSERT INTO rooms (${cols.join(",")}) VALUES (${cols.map(() => "?").join(",")})`);
    for (const r of rows.rooms) insRoom.run(...cols.map((c) => r[c]));
    const ins = db.prepare("INSERT INTO stream_events (kind, stream_id, seq, event_type, agent_key, turn_id, payload, created_at) VALUES ('room', ?, ?, ?, ?, ?, ?, ?)");
    const batch = db.transaction((slice: unknown[][]) => {
      for (const r of slice) ins.run(...r);
    });
    const t0 = performance.now();
    let n = 0;
    while (n < rows.events.length && performance.now() - t0 < maxMs) {
      const slice = rows.events.slice(n, n + perTx);
      batch(slice);
      n += slice.length;
    }
    const ms = performance.now() - t0;
    const chars = rows.events.slice(0, n).reduce((a, r) => a + String(r[5]).length, 0);
    return { rows: n, ms, perS: n / (ms / 1000), avgPayloadChars: n ? chars / n : 0 };
  } finally {
    db.close();
  }
}
