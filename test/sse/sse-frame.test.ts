import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatSseFrame, parseLastEventId } from "../../src/sse/sse.stream.js";
import { parseSseStream, SseParser } from "./sse-parse.js";

const FORGERY = "line1\n\nid: 99\nevent: x\ndata: {}\n\nline2\rdata: y\r\n: comment\r\r";

describe("formatSseFrame", () => {
  it("writes id, event and the whole record as one data line", () => {
    const ev = { seq: 7, event_type: "room:active", payload: { a: 1 }, room_id: "r" };
    expect(formatSseFrame(ev)).toBe(`id: 7\nevent: room:active\ndata: ${JSON.stringify(ev)}\n\n`);
  });

  it("text that looks like SSE fields parses back as exactly one frame with the original text", () => {
    const ev = { seq: 3, event_type: "agent:output", payload: { text: FORGERY, other: "data: z" } };
    const frames = parseSseStream(formatSseFrame(ev));
    expect(frames).toHaveLength(1);
    expect(frames[0]!.id).toBe("3");
    expect(frames[0]!.event).toBe("agent:output");
    expect(JSON.parse(frames[0]!.data!)).toEqual(ev);
  });

  it("an event_type with CR/LF cannot add fields or frames", () => {
    const ev = { seq: 1, event_type: "a\n\nid: 99\r\ndata: {}\rb", payload: {} };
    const frames = parseSseStream(formatSseFrame(ev));
    expect(frames).toHaveLength(1);
    expect(frames[0]!.id).toBe("1");
    expect(frames[0]!.event).not.toMatch(/[\r\n]/);
    expect(JSON.parse(frames[0]!.data!)).toEqual(ev);
  });

  it("property: any text and type round-trip to one frame, also when the body is split anywhere", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "binary" }),
        fc.string({ unit: "binary" }),
        fc.nat({ max: 1_000_000 }),
        fc.nat(),
        (text, type, seq, cut) => {
          const ev = { seq, event_type: type, payload: { text } };
          const wire = formatSseFrame(ev) + formatSseFrame({ ...ev, seq: seq + 1 });
          const at = cut % (wire.length + 1);
          const p = new SseParser();
          const frames = [...p.push(wire.slice(0, at)), ...p.push(wire.slice(at))];
          expect(frames.map((f) => f.id)).toEqual([String(seq), String(seq + 1)]);
          expect(JSON.parse(frames[0]!.data!)).toEqual(ev);
          expect(frames[0]!.event).toBe(type.replace(/[\r\n]+/g, " "));
        },
      ),
      { seed: 20240611, numRuns: 300 },
    );
  });
});

describe("parseSseStream (test/client support)", () => {
  it("handles CRLF, CR, comments, multi-line data, retry, and drops an unterminated frame", () => {
    const text = "\uFEFFretry: 1500\r\n\r\n: ping\n\nid: 1\revent: e\rdata: a\rdata: b\r\rdata:c\n\nid: 2\ndata: half";
    expect(parseSseStream(text)).toEqual([{ retry: 1500 }, { comment: "ping" }, { id: "1", event: "e", data: "a\nb" }, { data: "c" }]);
  });

  it("a CRLF split across chunks is one line end", () => {
    const p = new SseParser();
    expect([...p.push("id: 1\r"), ...p.push("\ndata: x\r"), ...p.push("\n\r"), ...p.push("\n")]).toEqual([{ id: "1", data: "x" }]);
  });
});

describe("parseLastEventId", () => {
  it("absent or empty: resume from the start", () => {
    expect(parseLastEventId(undefined, undefined)).toEqual({ ok: true, after: 0, from: "none" });
    expect(parseLastEventId(null, "")).toEqual({ ok: true, after: 0, from: "none" });
    expect(parseLastEventId("  ", undefined)).toEqual({ ok: true, after: 0, from: "none" });
  });

  it("reads the header or ?after, and the header wins when both are present", () => {
    expect(parseLastEventId("12", undefined)).toEqual({ ok: true, after: 12, from: "header" });
    expect(parseLastEventId(undefined, "5")).toEqual({ ok: true, after: 5, from: "query" });
    expect(parseLastEventId("12", "5")).toEqual({ ok: true, after: 12, from: "header" });
    expect(parseLastEventId("0", "5")).toEqual({ ok: true, after: 0, from: "header" });
    expect(parseLastEventId(String(Number.MAX_SAFE_INTEGER), undefined)).toMatchObject({ ok: true, after: Number.MAX_SAFE_INTEGER });
  });

  it.each(["abc", "-1", "1.5", "1e3", "0x10", "+3", "9007199254740992", "99999999999999999999", "12abc", "1 2", "Infinity", "NaN"])(
    "rejects %j",
    (bad) => {
      const h = parseLastEventId(bad, undefined);
      expect(h.ok).toBe(false);
      if (!h.ok) expect(h.field).toBe("Last-Event-ID");
      const q = parseLastEventId(undefined, bad);
      expect(q.ok).toBe(false);
      if (!q.ok) expect(q.field).toBe("after");
    },
  );

  it("takes the event record's own id, <stream>:<seq>, for the stream it is given, and refuses another stream's", () => {
    const room = "0b6f3c1e-4d0a-4a57-9a57-0e3b5f7c2d11";
    expect(parseLastEventId(`${room}:42`, undefined, room)).toEqual({ ok: true, after: 42, from: "header" });
    expect(parseLastEventId(undefined, `${room}:7`, room)).toEqual({ ok: true, after: 7, from: "query" });
    expect(parseLastEventId("42", undefined, room)).toEqual({ ok: true, after: 42, from: "header" });
    const other = parseLastEventId("11111111-2222-4333-8444-555555555555:42", undefined, room);
    expect(other.ok).toBe(false);
    if (!other.ok) expect(other.message).toMatch(/another stream/);
    for (const bad of [`${room}:`, `${room}:x`, `${room}:-1`, `${room}:1:2`]) expect(parseLastEventId(bad, undefined, room).ok, bad).toBe(false);
    // Without a stream id only the bare seq is a resume point.
    expect(parseLastEventId(`${room}:42`, undefined).ok).toBe(false);
  });

  it("a bad header is an error even when ?after is valid (no silent fallback)", () => {
    expect(parseLastEventId("x", "3").ok).toBe(false);
  });
});
