/**
 * The storage side of the capacity figure alone, A/B in one process so both
 * sides see the same machine noise: `rooms` streams each appending 20 events
 * a second into stream_events (the capacity figure's 20 tokens/s), committed
 * in groups every `tickMs` (what the group commit does), each room's rows
 * compacted into a segment every 300 events (a turn's end). Two tenant files
 * written in alternating blocks:
 *
 * - A, shipped: SQLite's automatic checkpoints inside commits, the base cache;
 * - B, this branch: checkpoints on the worker thread, the cache grown for
 *   `rooms` streaming turns (TenantDb.streamingTurn).
 *
 * Reports per side the event-loop time inside commits (share of the wall
 * clock, p50/p99/max per commit) and µs of it per event.
 *
 * (`--sides A,W,C,B`: W has only the worker, C only the cache.)
 *
 * Two more sides, each with the worker and without the cache, commit the way
 * streamed events commit now, with their fsync off the event loop
 * (TenantDb.wal.commit, storage/wal-sync.ts), so what they report is the
 * loop's own time:
 *
 * - O: the shipped layout (stream_events, clustered by stream: each event
 *   dirties its stream's own page);
 * - J: an experiment, not the shipped layout: the same rows appended to a
 *   table in insertion order (rowid) with no per-stream index, so the events
 *   of one commit share pages; a turn's end writes its segment but deletes
 *   nothing, and the table is cut behind the oldest row a stream still
 *   needs, as one range delete per block. What a live-event journal would
 *   cost on this path (its reads would need an in-memory index per stream).
 *
 *   npx tsx bench/tools/storage-ab.ts [--sides A,B] [--rooms 400] [--block-s 3] [--blocks 4] [--tick-ms 5]
 */
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import type BetterSqlite3 from "better-sqlite3";
import { loadMigrations } from "../../src/storage/migrations.js";
import { packageRoot } from "../../src/storage/paths.js";
import { DEFAULT_CACHE_KIB, TenantDatabases, type TenantDb } from "../../src/storage/tenant-db.js";

const { values } = parseArgs({
  options: { sides: { type: "string", default: "A,B" }, rooms: { type: "string", default: "400" }, "block-s": { type: "string", default: "3" }, blocks: { type: "string", default: "4" }, "tick-ms": { type: "string", default: "5" } },
});
const ROOMS = Number(values.rooms);
const BLOCK_MS = Number(values["block-s"]) * 1000;
const BLOCKS = Number(values.blocks);
const TICK_MS = Number(values["tick-ms"]);
const TURN_EVENTS = 300;

const migrations = loadMigrations(path.join(packageRoot(), "migrations"));
const root = mkdtempSync(path.join(tmpdir(), "storage-ab-"));

interface Side {
  name: string;
  /** Commits through WalSync (fsync off the event loop). */
  offLoop: boolean;
  /** The append-ordered experiment (J): the rowid of each room's first row since its last segment. */
  journal: number[] | null;
  dbs: TenantDatabases;
  t: TenantDb;
  seq: number[];
  next: number;
  commitMs: number[];
  events: number;
  wallMs: number;
  /** The -wal file's size after each block, MB. */
  walMb: number[];
  insert: BetterSqlite3.Statement<unknown[]>;
  del: BetterSqlite3.Statement<unknown[]>;
  segment: BetterSqlite3.Statement<unknown[]>;
}

/** Which of this branch's two changes a side has. */
interface Variant {
  worker: boolean;
  cache: boolean;
  offLoop?: boolean;
  journal?: boolean;
}

function side(name: string, v: Variant): Side {
  const dbs = new TenantDatabases({
    dataDir: path.join(root, name),
    migrations,
    busyTimeoutMs: 5000,
    idleCloseMs: 3_600_000,
    cacheKib: DEFAULT_CACHE_KIB,
    ...(v.cache ? { cachePerTurnKib: 64, cacheMaxKib: 65_536 } : {}),
    ...(v.worker ? { walCheckpoints: { intervalMs: 250, maxKib: 65_536 } } : {}),
  });
  const t = dbs.get("bench");
  if (v.cache) for (let i = 0; i < ROOMS; i++) t.streamingTurn();
  if (v.journal) {
    t.sqlite.exec(
      "CREATE TABLE live_journal (kind TEXT NOT NULL, stream_id TEXT NOT NULL, seq INTEGER NOT NULL, event_type TEXT NOT NULL, agent_key TEXT, turn_id TEXT, payload TEXT NOT NULL, created_at TEXT NOT NULL)",
    );
  }
  const table = v.journal ? "live_journal" : "stream_events";
  return {
    name,
    offLoop: v.offLoop === true,
    journal: v.journal ? Array.from({ length: ROOMS }, () => 0) : null,
    dbs,
    t,
    seq: Array.from({ length: ROOMS }, () => 0),
    next: 0,
    commitMs: [],
    events: 0,
    wallMs: 0,
    walMb: [],
    insert: t.sqlite.prepare(`INSERT INTO ${table} (kind, stream_id, seq, event_type, agent_key, turn_id, payload, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
    del: t.sqlite.prepare("DELETE FROM stream_events WHERE kind = ? AND stream_id = ? AND seq <= ?"),
    segment: t.sqlite.prepare("INSERT INTO stream_event_segments (kind, stream_id, first_seq, last_seq, events) VALUES (?, ?, ?, ?, ?)"),
  };
}

const roomId = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`;
const payload = (s: number) => JSON.stringify({ delta: ` word${s}`, stamp: Date.now(), message_id: "m", content_index: 0 });
const SEGMENT = Buffer.alloc(9000, 7);

/** One group commit: the events due in one tick, each from the next room in turn. */
function commit(s: Side, n: number): void {
  const started = performance.now();
  const now = new Date().toISOString();
  const tx = s.t.sqlite.transaction(() => {
    for (let k = 0; k < n; k++) {
      const r = s.next;
      s.next = (s.next + 1) % ROOMS;
      const seq = ++s.seq[r]!;
      const { lastInsertRowid } = s.insert.run("room", roomId(r), seq, "pi:message_update", "a", "turn", payload(seq), now);
      if (s.journal && s.journal[r] === 0) s.journal[r] = Number(lastInsertRowid);
      if (seq % TURN_EVENTS === 0) {
        if (s.journal) s.journal[r] = 0;
        else s.del.run("room", roomId(r), seq);
        s.segment.run("room", roomId(r), seq - TURN_EVENTS + 1, seq, SEGMENT);
      }
    }
  });
  if (s.offLoop) s.t.wal.commit(() => tx(), () => {});
  else tx();
  s.commitMs.push(performance.now() - started);
  s.events += n;
}

async function block(s: Side): Promise<void> {
  const perTick = Math.max(1, Math.round((ROOMS * 20 * TICK_MS) / 1000));
  const started = performance.now();
  while (performance.now() - started < BLOCK_MS) {
    commit(s, perTick);
    await new Promise((r) => setTimeout(r, TICK_MS));
  }
  if (s.journal) {
    // The cut, counted as loop time: everything before the oldest row a room still needs.
    const t0 = performance.now();
    const keep = Math.min(...s.journal.map((id) => (id === 0 ? Number.MAX_SAFE_INTEGER : id)));
    s.t.wal.commit(() => s.t.sqlite.prepare("DELETE FROM live_journal WHERE rowid < ?").run(keep), () => {});
    s.commitMs.push(performance.now() - t0);
  }
  s.wallMs += performance.now() - started;
  const wal = `${s.dbs.fileOf("bench")}-wal`;
  s.walMb.push(existsSync(wal) ? Math.round(statSync(wal).size / 1e5) / 10 : 0);
}

function report(s: Side): string {
  const sorted = [...s.commitMs].sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
  const total = sorted.reduce((a, b) => a + b, 0);
  return `${s.name}: ${sorted.length} commits, ${s.events} events; loop in commits ${((100 * total) / s.wallMs).toFixed(1)}% of wall; per commit p50 ${q(0.5).toFixed(2)} p99 ${q(0.99).toFixed(2)} max ${sorted.at(-1)!.toFixed(2)} ms; ${((1000 * total) / s.events).toFixed(1)} µs per event; WAL after each block ${s.walMb.join(", ")} MB`;
}

async function main(): Promise<void> {
  const variants: Record<string, Variant> = {
    A: { worker: false, cache: false },
    W: { worker: true, cache: false },
    C: { worker: false, cache: true },
    B: { worker: true, cache: true },
    O: { worker: true, cache: false, offLoop: true },
    J: { worker: true, cache: false, offLoop: true, journal: true },
  };
  const sides = values.sides!.split(",").map((k) => side(`${k}${k === "A" ? "-shipped" : k === "B" ? "-branch" : k === "W" ? "-worker-only" : k === "O" ? "-off-loop" : k === "J" ? "-journal-experiment" : "-cache-only"}`, variants[k]!));
  try {
    // Warm-up: each side's table reaches its steady size (every room mid-turn) before anything is counted.
    for (const s of sides) {
      await block(s);
      s.commitMs = [];
      s.events = 0;
      s.wallMs = 0;
    }
    for (let i = 0; i < BLOCKS; i++) for (const s of i % 2 === 0 ? sides : [...sides].reverse()) await block(s);
    process.stdout.write(`rooms ${ROOMS}, tick ${TICK_MS} ms, ${BLOCKS} blocks of ${BLOCK_MS} ms per side\n${sides.map(report).join("\n")}\n`);
  } finally {
    for (const s of sides) await s.dbs.closeAll();
    rmSync(root, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`storage-ab failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
