/**
 * A second stream kind is added by registering it, nothing more: this
 * test-only kind (notes: lines, a page end that compacts, a terminal close)
 * is appended, replayed, compacted, followed over the bus through the real
 * SSE helper and closed, next to rooms in the same tenant file.
 */
import { afterAll, describe, expect, it } from "vitest";
import { EventBus } from "../../src/events/event.bus.js";
import { EventLog } from "../../src/events/event.log.js";
import { readEventsAfter, readEventsBefore } from "../../src/events/event.store.js";
import type { Payload, StreamKind } from "../../src/events/event.stream.js";
import { readRoomEventsAfter, roomStream } from "../../src/room/room.stream.js";
import { formatSseFrame, sseResponse } from "../../src/sse/sse.stream.js";
import type { TenantDb } from "../../src/storage/tenant-db.js";
import { readEvents } from "../support/sse-client.js";
import { tenantFiles } from "../support/tenant-files.js";

interface NoteRecord {
  id: string;
  seq: number;
  note_id: string;
  event_type: string;
  payload: Payload;
  created_at: string;
}

const noteKind: StreamKind<NoteRecord> = {
  name: "test-note",
  eventTypes: ["note:opened", "note:line", "note:page_end", "note:closed"],
  opening: "note:opened",
  terminal: "note:closed",
  compactOn: "note:page_end",
  record: (noteId, h, payload) => ({ id: `${noteId}:${h.seq}`, seq: h.seq, note_id: noteId, event_type: h.event_type, payload, created_at: h.created_at }),
};

const files = tenantFiles("kinds");
afterAll(() => files.close());

let clock = Date.parse("2026-02-03T04:05:06.000Z");
function setup(name: string): { t: TenantDb; log: EventLog } {
  const log = new EventLog(new EventBus(formatSseFrame), { kinds: [roomStream], now: () => (clock += 1000) });
  log.register(noteKind);
  return { t: files.open(name), log };
}

const line = (text: string) => ({ event_type: "note:line", payload: { text } });

function stored(t: TenantDb, kind: string, id: string) {
  return {
    segments: t.sqlite.prepare("SELECT first_seq, last_seq FROM stream_event_segments WHERE kind = ? AND stream_id = ? ORDER BY last_seq").all(kind, id),
    live: (t.sqlite.prepare("SELECT seq FROM (SELECT * FROM stream_events UNION ALL SELECT * FROM stream_events_journal) WHERE kind = ? AND stream_id = ? ORDER BY seq").all(kind, id) as { seq: number }[]).map((r) => r.seq),
  };
}

describe("a test-only stream kind, registered beside rooms", () => {
  it("appends records in the kind's own wire shape, gap-free per stream", () => {
    const { t, log } = setup("append");
    const got = log.transaction(t, (tx) => [
      tx.append<NoteRecord>("test-note", "n1", { event_type: "note:opened", payload: { title: "groceries" } }),
      tx.append<NoteRecord>("test-note", "n1", line("milk")),
    ]);
    expect(JSON.stringify(got[0])).toBe('{"id":"n1:1","seq":1,"note_id":"n1","event_type":"note:opened","payload":{"title":"groceries"},"created_at":"2026-02-03T04:05:07.000Z"}');
    expect(got[1]).toMatchObject({ id: "n1:2", seq: 2, payload: { text: "milk" } });
    expect(log.transaction(t, (tx) => tx.append("test-note", "n1", line("eggs"))).seq).toBe(3);
    expect(readEventsAfter(t, noteKind, "n1", 0, 10)).toEqual([...got, expect.objectContaining({ seq: 3, payload: { text: "eggs" } })]);
    expect(log.lastSeq(t, "test-note", "n1")).toBe(3);
  });

  it("keys streams by kind and id: a note and a room with the same id are two streams", () => {
    const { t, log } = setup("keys");
    const same = "0b6f3c1e-4d0a-4a57-9a57-0e3b5f7c2d11";
    t.sqlite
      .prepare(
        `INSERT INTO rooms (id, status, metadata, actors, tool_policy, wake_policy, done_policy, version, rented_at, updated_at, usage, created_by)
         VALUES (?, 'rented', '{}', '[]', '{}', '{}', '{}', 1, 'x', 'x', '{}', 'tester')`,
      )
      .run(same);
    log.transaction(t, (tx) => {
      tx.emit(same, { event_type: "room:rented", payload: { actors: [] } });
      tx.append("test-note", same, { event_type: "note:opened", payload: {} });
      tx.append("test-note", same, line("one"));
    });
    expect(readRoomEventsAfter(t, same, 0, 10).map((e) => [e.seq, e.event_type, e.room_id])).toEqual([[1, "room:rented", same]]);
    expect(readEventsAfter(t, noteKind, same, 0, 10).map((e) => [e.seq, e.event_type, e.note_id])).toEqual([
      [1, "note:opened", same],
      [2, "note:line", same],
    ]);
  });

  it("compacts at its own trigger and replays the same records from every point, live rows and segments alike", () => {
    const { t, log } = setup("compact");
    log.transaction(t, (tx) => {
      tx.append("test-note", "n", { event_type: "note:opened", payload: {} });
      for (const w of ["a", "b", "c"]) tx.append("test-note", "n", line(w));
    });
    const before = readEventsAfter(t, noteKind, "n", 0, 100);
    log.transaction(t, (tx) => tx.append("test-note", "n", { event_type: "note:page_end", payload: { page: 1 } }));
    log.transaction(t, (tx) => {
      tx.append("test-note", "n", line("d"));
      tx.append("test-note", "n", { event_type: "note:page_end", payload: { page: 2 } });
      tx.append("test-note", "n", line("e"));
    });
    expect(stored(t, "test-note", "n")).toEqual({
      segments: [
        { first_seq: 1, last_seq: 5 },
        { first_seq: 6, last_seq: 7 },
      ],
      live: [8],
    });
    const all = readEventsAfter(t, noteKind, "n", 0, 100);
    expect(all.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(all.slice(0, 4)).toEqual(before);
    for (let after = 0; after <= all.length; after++) expect(readEventsAfter(t, noteKind, "n", after, 100)).toEqual(all.slice(after));
    for (let before = 1; before <= all.length + 1; before++) {
      for (const limit of [1, 2, 3, 100]) expect(readEventsBefore(t, noteKind, "n", before, limit)).toEqual(all.slice(Math.max(0, before - 1 - limit), before - 1));
    }
  });

  it("is followed over the bus through the SSE helper: replay, then live, and the stream ends after its terminal event", async () => {
    const { t, log } = setup("follow");
    log.transaction(t, (tx) => {
      tx.append("test-note", "n", { event_type: "note:opened", payload: {} });
      tx.append("test-note", "n", line("replayed"));
    });
    const closes: string[] = [];
    const res = sseResponse(log.source<NoteRecord>(t, "test-note", "n"), { follow: true, after: 0, signal: new AbortController().signal, onClose: (r) => closes.push(r) });
    const seen: NoteRecord[] = [];
    const frames: string[] = [];
    let live: NoteRecord[] = [];
    await readEvents(res.body!, (ev: NoteRecord, f) => {
      seen.push(ev);
      frames.push(`id: ${f.id}\nevent: ${f.event}\ndata: ${f.data}\n\n`);
      // Caught up with the replay: everything from here arrives live, over the bus.
      if (ev.seq === 2) {
        live = log.transaction(t, (tx) => [
          tx.append<NoteRecord>("test-note", "n", line("live")),
          tx.append<NoteRecord>("test-note", "n", { event_type: "note:page_end", payload: {} }),
          tx.append<NoteRecord>("test-note", "n", { event_type: "note:closed", payload: { reason: "done" } }),
        ]);
      }
    });
    expect(seen.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(seen.slice(2)).toEqual(live);
    // The wire is the kind's record, framed as every stream is; replay == live.
    expect(frames).toEqual(readEventsAfter(t, noteKind, "n", 0, 10).map(formatSseFrame));
    expect(closes).toEqual(["terminal"]);
    expect(log.isClosed(t, "test-note", "n")).toBe(true);
    expect(log.bus.subscriberCount({ tenant: t.tenant, kind: "test-note", streamId: "n" })).toBe(0);

    // A follower arriving after the close gets nothing more and is ended at once.
    const late = sseResponse(log.source<NoteRecord>(t, "test-note", "n"), { follow: true, after: 5, signal: new AbortController().signal, onClose: (r) => closes.push(r) });
    expect((await readEvents(late.body!, () => undefined)).frames.filter((f) => f.event)).toEqual([]);
    expect(closes).toEqual(["terminal", "closed"]);
  });

  it("refuses an unregistered kind, a type the kind does not have, and a stream its opening event did not create; a refused transaction takes no seq", () => {
    const { t, log } = setup("refuse");
    expect(() => log.transaction(t, (tx) => tx.append("test-card", "x", { event_type: "note:opened", payload: {} }))).toThrow(/stream kind test-card is not registered/);
    expect(() => log.transaction(t, (tx) => tx.append("test-note", "x", line("before opening")))).toThrow(/no such test-note/);
    log.transaction(t, (tx) => tx.append("test-note", "x", { event_type: "note:opened", payload: {} }));
    expect(() =>
      log.transaction(t, (tx) => {
        tx.append("test-note", "x", line("kept?"));
        tx.append("test-note", "x", { event_type: "room:rented", payload: {} });
      }),
    ).toThrow(/test-note streams have no event type "room:rented"/);
    expect(log.transaction(t, (tx) => tx.append("test-note", "x", line("next"))).seq).toBe(2);
    expect(readEventsAfter(t, noteKind, "x", 0, 10).map((e) => e.payload)).toEqual([{}, { text: "next" }]);
  });

  it("an insert that fails inside a transaction the writer goes on with takes no seq: the stream stays gap-free", () => {
    const { t, log } = setup("insert-fails");
    t.sqlite.exec("CREATE TRIGGER refuse_bad BEFORE INSERT ON stream_events_journal WHEN json_extract(NEW.payload, '$.text') = 'bad' BEGIN SELECT RAISE(ABORT, 'refused'); END");
    const seqs = log.transaction(t, (tx) => {
      const out = [tx.append("test-note", "g", { event_type: "note:opened", payload: {} }).seq];
      expect(() => tx.append("test-note", "g", line("bad"))).toThrow(/refused/);
      out.push(tx.append("test-note", "g", line("good")).seq);
      return out;
    });
    expect(seqs).toEqual([1, 2]);
    expect(readEventsAfter(t, noteKind, "g", 0, 10).map((e) => [e.seq, e.payload])).toEqual([
      [1, {}],
      [2, { text: "good" }],
    ]);
    expect(log.lastSeq(t, "test-note", "g")).toBe(2);
  });

  it("checks a definition when it is registered", () => {
    const { log } = setup("register");
    expect(() => log.register(noteKind)).toThrow(/already registered/);
    expect(() => log.register({ ...noteKind, name: "Bad Name" })).toThrow(/must match/);
    expect(() => log.register({ ...noteKind, name: "test-other", terminal: "note:gone" })).toThrow(/terminal "note:gone" is not one of its event types/);
    expect(() => log.kind("test-other")).toThrow(/not registered/);
  });
});
