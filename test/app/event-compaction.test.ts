/**
 * A finished turn's events are compacted into one segment. Readers must not
 * be able to tell: replay from any point, history pages of any size and the
 * live feed all give the same events as before compaction.
 */
import { rmSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EventBus } from "../../src/events/event.bus.js";
import { EventLog } from "../../src/events/event.log.js";
import type { StoredEventRow } from "../../src/events/event.segment.js";
import { compactEvents } from "../../src/events/event.store.js";
import { roomStream } from "../../src/room/room.stream.js";
import { formatSseFrame } from "../../src/sse/sse.feed.js";
import { eventually, startTestServer, type TestServer } from "../support/harness.js";
import { parseFrames } from "../support/sse-client.js";

let t: TestServer;
let token: string;

beforeEach(async () => {
  t = await startTestServer({ env: { EVENT_COALESCE_MS: "5", RATE_LIMIT_RPS: "0" } });
  token = await t.token("acme");
});
afterEach(() => t.close());

const rent = async (body: unknown = {}) => (await t.json("POST", "/llm/room", { token, body })).body.data.id as string;
const say = (id: string, content: string) => t.json("POST", `/llm/room/${id}/messages`, { token, body: { content } });
const waitIdle = (id: string) => eventually(async () => (await t.json("GET", `/llm/room/${id}`, { token })).body.data.status === "idle", 5000, "idle");
const fileOf = () => path.join(t.dataDir, "tenants", "acme.db");

/** Every event of the room through a replay of /events after `after` (no follow). */
async function replay(id: string, after = 0): Promise<any[]> {
  const res = await t.req("GET", `/llm/room/${id}/events?after=${after}`, { token });
  expect(res.status).toBe(200);
  return parseFrames(await res.text())
    .filter((f) => f.event)
    .map((f) => JSON.parse(f.data!));
}

/** What the tenant file holds for the room: segment ranges and live seqs. */
function stored(id: string): { segments: { first_seq: number; last_seq: number }[]; live: number[] } {
  const db = new Database(fileOf(), { readonly: true });
  try {
    return {
      segments: db.prepare("SELECT first_seq, last_seq FROM stream_event_segments WHERE kind = 'room' AND stream_id = ? ORDER BY last_seq").all(id) as { first_seq: number; last_seq: number }[],
      live: (db.prepare("SELECT seq FROM (SELECT * FROM stream_events UNION ALL SELECT * FROM stream_events_journal) WHERE kind = 'room' AND stream_id = ? ORDER BY seq").all(id) as { seq: number }[]).map((r) => r.seq),
    };
  } finally {
    db.close();
  }
}

describe("event compaction", () => {
  it("moves each finished turn into one segment, and every reader sees the same events as before", async () => {
    const id = await rent({
      tool_policy: { allowed_tools: ["calculator"] },
      agents: [{ agent_id: "a", options: { token_delay_ms: 1 } }],
    });
    // Three turns, the second with a tool call (two assistant messages in one turn).
    const seenLive: any[] = [];
    for (const content of ["first turn, a few words of echo", "Calculate 42 * 19", "third"]) {
      await say(id, content);
      await waitIdle(id);
      seenLive.push(await replay(id));
    }
    const all = await replay(id);
    const turnEnds = all.filter((e) => e.event_type === "agent:turn_end").map((e) => e.seq as number);
    expect(turnEnds).toHaveLength(3);
    expect(all.map((e) => e.seq)).toEqual(all.map((_, i) => i + 1));
    // Replays taken right after each turn (compacted up to that turn) are prefixes of the final one.
    for (const snapshot of seenLive) expect(all.slice(0, snapshot.length)).toEqual(snapshot);

    // Segments cover 1..last turn_end without gap, one per turn; what follows (room:idle) is live.
    const s = stored(id);
    expect(s.segments.map((g) => g.last_seq)).toEqual(turnEnds);
    s.segments.forEach((g, i) => expect(g.first_seq).toBe(i === 0 ? 1 : s.segments[i - 1]!.last_seq + 1));
    expect(s.live).toEqual(all.filter((e) => e.seq > turnEnds[2]!).map((e) => e.seq));
    expect(s.live.length).toBeGreaterThan(0);

    // The tool turn's text and tool events survive compaction.
    const answer = all.find((e) => e.event_type === "agent:output" && e.turn_id === all.find((x) => x.seq === turnEnds[1])!.turn_id);
    expect(answer.payload.text).toContain("798");
    const updates = all.filter((e) => e.event_type === "pi:message_update");
    expect(updates.every((e) => typeof e.payload.partial.text === "string")).toBe(true);

    // Resuming after every seq gives exactly the suffix (inside segments, at their edges, in the live tail).
    for (let after = 0; after <= all.length; after++) expect(await replay(id, after)).toEqual(all.slice(after));

    // History pages of every size, walked back with before_seq, concatenate to the whole log.
    for (const limit of [1, 2, 3, 7, 11, all.length, 1000]) {
      const pages: any[][] = [];
      let before: number | undefined;
      for (let guard = 0; guard < all.length + 2; guard++) {
        const q = before === undefined ? `limit=${limit}` : `limit=${limit}&before_seq=${before}`;
        const { body } = await t.json("GET", `/llm/room/${id}/history?${q}`, { token });
        const events = body.data.events as any[];
        if (events.length === 0) break;
        expect(events.length).toBeLessThanOrEqual(limit);
        pages.unshift(events);
        before = events[0].seq;
        if (before === 1) break;
      }
      expect(pages.flat()).toEqual(all);
    }
  });

  it("a failed compaction is rolled back alone: the turn still ends, and the next turn end compacts what was left", async () => {
    const id = await rent({ agents: [{ agent_id: "a", options: { token_delay_ms: 0 } }] });
    await say(id, "one");
    await waitIdle(id);
    const block = new Database(fileOf());
    block.exec("CREATE TRIGGER block_segments BEFORE INSERT ON stream_event_segments BEGIN SELECT RAISE(ABORT, 'disk says no'); END");
    try {
      await say(id, "two");
      await waitIdle(id);
      const afterTwo = await replay(id);
      const ends = afterTwo.filter((e) => e.event_type === "agent:turn_end");
      expect(ends.map((e) => e.payload.status)).toEqual(["completed", "completed"]);
      const s = stored(id);
      expect(s.segments).toHaveLength(1);
      expect(s.live[0]).toBe(s.segments[0]!.last_seq + 1);
      expect(s.live.at(-1)).toBe(afterTwo.at(-1).seq);
    } finally {
      block.exec("DROP TRIGGER block_segments");
      block.close();
    }
    await say(id, "three");
    await waitIdle(id);
    const all = await replay(id);
    const ends = all.filter((e) => e.event_type === "agent:turn_end").map((e) => e.seq);
    const s = stored(id);
    expect(s.segments.map((g) => [g.first_seq, g.last_seq])).toEqual([
      [1, ends[0]],
      [ends[0] + 1, ends[2]],
    ]);
    for (const after of [0, ends[0] - 1, ends[0], ends[1], ends[2] - 1, ends[2]]) expect(await replay(id, after)).toEqual(all.slice(after));
  });

  it("compacts every live row even when some were written behind this log's back (memory checked, SQL fallback)", async () => {
    const id = await rent({ agents: [{ agent_id: "a", options: { token_delay_ms: 0 } }] });
    await say(id, "one");
    await waitIdle(id); // this log now remembers the room's live rows
    const tdb = t.server.tenants.get("acme");
    // Another log over the same file (as a previous process would have been) appends rows this one never saw.
    const other = new EventLog(new EventBus(formatSseFrame), { kinds: [roomStream] });
    other.transaction(tdb, (tx) => {
      tx.emit(id, { event_type: "room:updated", payload: { by: "other" } });
      tx.emit(id, { event_type: "room:updated", payload: { by: "other" } });
    });
    t.server.events.transaction(tdb, (tx) => {
      tx.emit(id, { event_type: "room:updated", payload: { by: "this" } });
      tx.emit(id, { event_type: "agent:turn_end", payload: { status: "completed" } });
    });
    const all = await replay(id);
    const ends = all.filter((e) => e.event_type === "agent:turn_end").map((e) => e.seq);
    expect(all.map((e) => e.seq)).toEqual(all.map((_, i) => i + 1));
    expect(all.filter((e) => e.event_type === "room:updated").map((e) => e.payload.by)).toEqual(["other", "other", "this"]);
    const s = stored(id);
    expect(s.segments.map((g) => [g.first_seq, g.last_seq])).toEqual([
      [1, ends[0]],
      [ends[0] + 1, ends[1]],
    ]);
    expect(s.live).toEqual([]);
    for (const after of [0, ends[0], ends[1] - 2]) expect(await replay(id, after)).toEqual(all.slice(after));
  });

  it("known rows that leave out older live rows are not trusted: all of them move, read from SQL", async () => {
    const id = await rent();
    const tdb = t.server.tenants.get("acme");
    t.server.events.transaction(tdb, (tx) => {
      for (let i = 0; i < 3; i++) tx.emit(id, { event_type: "room:updated", payload: { i } });
    });
    const rows = tdb.sqlite
      .prepare("SELECT seq, event_type, agent_key, turn_id, payload, created_at FROM (SELECT * FROM stream_events UNION ALL SELECT * FROM stream_events_journal) WHERE kind = 'room' AND stream_id = ? ORDER BY seq")
      .all(id) as StoredEventRow[];
    expect(rows.map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    // Gap-free and ending at 4, but missing seqs 1 and 2: only the delete's count can tell.
    expect(tdb.sqlite.transaction(() => compactEvents(tdb, "room", id, 4, rows.slice(2)))()).toBe(4);
    expect(stored(id)).toEqual({ segments: [{ first_seq: 1, last_seq: 4 }], live: [] });
    expect((await replay(id)).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
  });

  it("returns the pages compaction freed to the disk when the tenant file closes", async () => {
    const long = Array.from({ length: 1500 }, (_, i) => `word${i}`).join(" ");
    const id = await rent({ agents: [{ agent_id: "a", options: { token_delay_ms: 0, reply: long } }] });
    await say(id, "go");
    await waitIdle(id);
    const before = new Database(fileOf(), { readonly: true });
    const freeWhileOpen = before.pragma("freelist_count", { simple: true }) as number;
    expect(before.pragma("auto_vacuum", { simple: true })).toBe(2);
    before.close();
    expect(freeWhileOpen).toBeGreaterThan(0);
    const all = await replay(id);
    await t.server.shutdown(2000);
    const after = new Database(fileOf(), { readonly: true });
    try {
      expect(after.pragma("freelist_count", { simple: true })).toBe(0);
    } finally {
      after.close();
    }
    // Reopened by a new server on the same files, the history is whole (recovery may add room:sleeping after it).
    const again = await startTestServer({ dataDir: t.dataDir, env: { RATE_LIMIT_RPS: "0" } });
    try {
      const res = await again.req("GET", `/llm/room/${id}/events`, { token });
      expect(parseFrames(await res.text()).filter((f) => f.event).map((f) => JSON.parse(f.data!)).slice(0, all.length)).toEqual(all);
    } finally {
      await again.close();
      rmSync(t.dataDir, { recursive: true, force: true });
    }
  });
});
