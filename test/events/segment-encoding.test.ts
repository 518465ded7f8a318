/**
 * A segment's bytes are stored in tenant files and decoded by every later
 * version: encoding the same rows must give the same bytes as the layout in
 * event.segment.ts states (`[[event_type, agent_key, turn_id, created_at,
 * payload], ...]`, deflated at level 6), whatever repeats or changes from
 * row to row, and decode must give the rows back.
 */
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { decodeSegment, encodeSegment, type StoredEventRow } from "../../src/events/event.segment.js";

/** The layout written out field by field, one JSON.stringify per field: what every stored segment holds. */
function layout(rows: readonly StoredEventRow[]): string {
  return `[${rows.map((r) => `[${JSON.stringify(r.event_type)},${JSON.stringify(r.agent_key)},${JSON.stringify(r.turn_id)},${JSON.stringify(r.created_at)},${r.payload}]`).join(",")}]`;
}

function row(seq: number, over: Partial<StoredEventRow> = {}): StoredEventRow {
  return {
    seq,
    event_type: "pi:message_update",
    agent_key: "writer",
    turn_id: "7f0c1a52-2b7e-4d3c-9a51-0d8c2f3e4b61",
    payload: JSON.stringify({ update_type: "text_delta", delta: `w${seq} `, partial: { role: "assistant" } }),
    created_at: "2026-12-05T13:40:00.123Z",
    ...over,
  };
}

/** A turn's rows as a room writes them: runs of deltas sharing a timestamp, every head field changing somewhere. */
function turnRows(first: number): StoredEventRow[] {
  const rows: StoredEventRow[] = [];
  let seq = first;
  rows.push(row(seq++, { event_type: "message:created", agent_key: null, turn_id: null, payload: JSON.stringify({ message_id: "m1", content: "say \"hi\"\n\u2603" }) }));
  rows.push(row(seq++, { event_type: "agent:turn_start", payload: JSON.stringify({ message_id: "m1" }) }));
  rows.push(row(seq++, { event_type: "pi:message_start", payload: JSON.stringify({ message: { role: "assistant" } }) }));
  for (let tx = 0; tx < 4; tx++) for (let i = 0; i < 7; i++) rows.push(row(seq++, { created_at: `2026-12-05T13:40:0${tx}.${100 + tx}Z` }));
  // The same head as the row two before, with a different one in between: must not be taken for the previous head.
  rows.push(row(seq++, { agent_key: "other" }));
  rows.push(row(seq++, { created_at: "2026-12-05T13:40:03.103Z" }));
  rows.push(row(seq++, { turn_id: null }));
  rows.push(row(seq++, { event_type: "agent:turn_end", payload: JSON.stringify({ status: "completed", text: "\u00e9\u{1F600} \\ </script>" }) }));
  return rows;
}

describe("segment encoding", () => {
  it("gives the bytes of the stated layout, deflated at level 6, for a turn whose head fields repeat and change", () => {
    const rows = turnRows(41);
    const bytes = encodeSegment(rows);
    expect(inflateRawSync(bytes).toString("utf8")).toBe(layout(rows));
    expect(Buffer.compare(bytes, deflateRawSync(layout(rows), { level: 6 }))).toBe(0);
  });

  it("gives the same bytes for one row, and for rows whose every head field differs from the row before", () => {
    const one = [row(5)];
    expect(Buffer.compare(encodeSegment(one), deflateRawSync(layout(one), { level: 6 }))).toBe(0);
    const changing = [row(1), row(2, { event_type: "pi:message_end" }), row(3, { agent_key: null }), row(4, { turn_id: "t2" }), row(5, { created_at: "later" })];
    expect(inflateRawSync(encodeSegment(changing)).toString("utf8")).toBe(layout(changing));
  });

  it("decodes back to the rows, seqs from the first", () => {
    const rows = turnRows(100);
    expect(decodeSegment(encodeSegment(rows), 100)).toEqual(rows.map((r) => ({ ...r, payload: JSON.parse(r.payload) })));
  });

  it("refuses rows with a gap", () => {
    expect(() => encodeSegment([row(1), row(3)])).toThrow(/gap-free: expected seq 2, got 3/);
  });
});
