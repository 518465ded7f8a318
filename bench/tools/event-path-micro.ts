/**
 * The durable event path alone, in process: EventLog transactions on a real
 * migrated tenant file (the server's pragmas: WAL, synchronous=FULL), rooms
 * streaming 300-delta turns 64 deltas per room per transaction (what
 * local/echo with no delay hands the group commit per tick), each turn
 * ending in the events a real turn ends with (agent:turn_end compacts), one
 * bus subscriber per room taking the shared frame. Prints CPU µs per event
 * (process.cpuUsage, user+system) and wall µs per event, per round.
 *
 *   npx tsx bench/tools/event-path-micro.ts [--rooms 20] [--events 200000] [--rounds 5]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import v8 from "node:v8";
import Database from "better-sqlite3";
import { EventBus } from "../../src/events/event.bus.js";
import { EventLog, type EventTx } from "../../src/events/event.log.js";
import type { NewEvent } from "../../src/events/event.types.js";
import { insertRoom } from "../../src/room/room.store.js";
import { roomStream } from "../../src/room/room.stream.js";
import { formatSseFrame } from "../../src/sse/sse.feed.js";
import { applyMigrations, loadMigrations } from "../../src/storage/migrations.js";
import { packageRoot } from "../../src/storage/paths.js";
import { configureConnection, tenantHandle } from "../../src/storage/tenant-db.js";

const { values } = parseArgs({ options: { rooms: { type: "string", default: "20" }, events: { type: "string", default: "200000" }, rounds: { type: "string", default: "5" }, perTick: { type: "string", default: "64" }, "no-compaction": { type: "boolean", default: false }, "no-followers": { type: "boolean", default: false } } });
const ROOMS = Number(values.rooms);
const EVENTS = Number(values.events);
const ROUNDS = Number(values.rounds);
const PER_TICK = Number(values.perTick);
const REPLY = 300;

const dir = mkdtempSync(path.join(tmpdir(), "roomservice-event-micro-"));
try {
  const sqlite = new Database(path.join(dir, "bench.db"));
  configureConnection(sqlite, 5000);
  applyMigrations(sqlite, loadMigrations(path.join(packageRoot(), "migrations")));
  const t = tenantHandle("bench", sqlite);
  const bus = new EventBus(formatSseFrame);
  const log = new EventLog(bus, { kinds: [values["no-compaction"] ? { ...roomStream, compactOn: undefined } : roomStream] });
  let frames = 0;
  let frameChars = 0;
  const rooms = Array.from({ length: ROOMS }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`);
  for (const id of rooms) {
    insertRoom(t, { id, status: "rented", metadata: {}, actors: [], toolPolicy: {}, wakePolicy: {}, donePolicy: {}, version: 1, rentedAt: "x", updatedAt: "x", usage: {}, createdBy: "bench" });
    log.transaction(t, (tx) => tx.emit(id, { event_type: "room:rented", payload: { actors: [] } }));
    if (!values["no-followers"]) bus.subscribe(t.tenant, "room", id, (_e, frame) => {
      frames++;
      frameChars += frame.length;
    });
  }
  const turnId = (r: number, n: number) => `11111111-0000-4000-8000-${String(r * 100000 + n).padStart(12, "0")}`;
  // Per room: deltas sent in the current turn, turns done, text so far.
  const state = rooms.map(() => ({ sent: 0, turns: 0, text: "" }));
  const agent = "echo-agent";
  const message = (text: string) => ({ role: "assistant", provider: "local", model: "echo", stop_reason: "stop", text, usage: { input: 12, output: REPLY, totalTokens: REPLY + 12, cost: { total: 0 } } });

  /** What one room hands one transaction: up to PER_TICK deltas, a turn's opening and ending events around them. */
  function roomEvents(r: number): NewEvent[] {
    const s = state[r]!;
    const tid = turnId(r, s.turns);
    const ev = (event_type: NewEvent["event_type"], payload: Record<string, unknown>): NewEvent => ({ event_type, payload, agent_key: agent, turn_id: tid });
    const out: NewEvent[] = [];
    if (s.sent === 0) {
      out.push(ev("agent:turn_start", { message_id: `m${s.turns}` }), ev("pi:message_start", { message: { role: "assistant" } }));
    }
    const n = Math.min(PER_TICK, REPLY - s.sent);
    for (let i = 0; i < n; i++) {
      const delta = `w${String(s.sent).padStart(4, "0")} `;
      s.text += delta;
      s.sent++;
      out.push(ev("pi:message_update", { update_type: "text_delta", delta, partial: { role: "assistant", text: s.text } }));
    }
    if (s.sent === REPLY) {
      out.push(
        ev("pi:message_end", { message: message(s.text) }),
        ev("pi:turn_end", { message: message(s.text), tool_result_count: 0, tool_error_count: 0 }),
        ev("pi:agent_end", { terminal_message: message(s.text) }),
        ev("agent:turn_end", { status: "completed", usage: { input: 12, output: REPLY } }),
      );
      s.sent = 0;
      s.turns++;
      s.text = "";
    }
    return out;
  }

  function round(): { events: number; cpuUs: number; wallUs: number; allocated: number; gcMs: number } {
    let events = 0;
    const gc = new v8.GCProfiler();
    gc.start();
    const used0 = v8.getHeapStatistics().used_heap_size;
    const c0 = process.cpuUsage();
    const w0 = performance.now();
    while (events < EVENTS) {
      const batches = rooms.map((_, r) => roomEvents(r));
      log.transaction(t, (tx: EventTx) => {
        for (let r = 0; r < rooms.length; r++) for (const e of batches[r]!) tx.emit(rooms[r]!, e);
      });
      for (const b of batches) events += b.length;
    }
    const c = process.cpuUsage(c0);
    const used1 = v8.getHeapStatistics().used_heap_size;
    const stats = gc.stop().statistics;
    // Bytes allocated = growth between collections plus what each collection found in use before it ran.
    let allocated = 0;
    let from = used0;
    let gcUs = 0;
    for (const g of stats) {
      allocated += g.beforeGC.heapStatistics.usedHeapSize - from;
      from = g.afterGC.heapStatistics.usedHeapSize;
      gcUs += g.cost;
    }
    allocated += used1 - from;
    return { events, cpuUs: c.user + c.system, wallUs: (performance.now() - w0) * 1000, allocated, gcMs: gcUs / 1000 };
  }

  round(); // warm-up
  const results: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const r = round();
    results.push(r.cpuUs / r.events);
    process.stdout.write(`round ${i + 1}: ${r.events} events, CPU ${(r.cpuUs / r.events).toFixed(2)} µs/event, wall ${(r.wallUs / r.events).toFixed(2)} µs/event, JS heap allocated ${(r.allocated / r.events).toFixed(0)} B/event, GC ${r.gcMs.toFixed(0)} ms\n`);
  }
  results.sort((a, b) => a - b);
  process.stdout.write(`min CPU ${results[0]!.toFixed(2)}, median ${results[Math.floor(results.length / 2)]!.toFixed(2)} µs/event; frames ${frames}, avg ${(frameChars / frames).toFixed(0)} chars\n`);
  sqlite.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
