/**
 * The history pager's pacing: a page is serialised a slice at a time with a
 * pause for other work in between, stops at its byte budget, and only so
 * many pages are built at once.
 */
import { describe, expect, it } from "vitest";
import type { RoomEvent } from "../../src/events/event.types.js";
import { HistoryPager, LIST_BYTES, SLICE_BYTES, type HistoryReaders } from "../../src/room/room.history.js";

/** A long reply's updates: event k's partial.text is the first k * step characters. */
function longReply(n: number, step: number): RoomEvent[] {
  const text = "x".repeat(n * step);
  return Array.from({ length: n }, (_, i) => ({
    id: `r:${i + 1}`,
    seq: i + 1,
    room_id: "r",
    event_type: "pi:message_update",
    agent_key: "a",
    turn_id: "t",
    payload: { update_type: "text_delta", delta: "x".repeat(step), partial: { role: "assistant", text: text.slice(0, (i + 1) * step) } },
    created_at: "2026-01-01T00:00:00.000Z",
  }));
}

function readers(events: RoomEvent[]): HistoryReaders {
  return {
    messages: () => [],
    events: (before, limit) => events.filter((e) => e.seq < before).slice(-limit),
  };
}

describe("HistoryPager", () => {
  it("pauses after every slice of serialised bytes, and no slice serialises more than a slice plus one row", async () => {
    const events = longReply(400, 100); // 8 MB of cumulative text in the whole log
    const slices: number[] = [];
    let bytes = 0;
    const originalStringify = JSON.stringify;
    const pager = new HistoryPager({
      pause: async () => {
        slices.push(bytes);
        bytes = 0;
      },
    });
    // Count what is serialised between pauses.
    JSON.stringify = ((v: unknown, ...rest: unknown[]) => {
      const s = (originalStringify as (...a: unknown[]) => string)(v, ...rest);
      bytes += s.length;
      return s;
    }) as typeof JSON.stringify;
    let page;
    try {
      page = await pager.page(readers(events), { limit: 500, messagesBeforeSeq: Infinity, eventsBeforeSeq: Infinity, partialText: true });
    } finally {
      JSON.stringify = originalStringify;
    }
    const largestRow = originalStringify(events.at(-1));
    expect(slices.length).toBeGreaterThan(3);
    for (const s of slices) expect(s).toBeLessThan(SLICE_BYTES + largestRow.length);
    const served = page.events.items.reduce((n, s) => n + s.length, 0);
    expect(served).toBeLessThanOrEqual(LIST_BYTES);
    expect(page.events.items.map((s) => JSON.parse(s.toString()).seq)).toEqual(events.slice(-page.events.items.length).map((e) => e.seq));
    expect(page.events.hasMore).toBe(true);
    expect(page.events.nextBeforeSeq).toBe(JSON.parse(page.events.items[0]!.toString()).seq);
  });

  it("a row larger than the budget is still served alone, so paging always moves on", async () => {
    const events = longReply(3, 700_000);
    const pager = new HistoryPager({ pause: async () => undefined });
    const page = await pager.page(readers(events), { limit: 10, messagesBeforeSeq: Infinity, eventsBeforeSeq: Infinity, partialText: true });
    expect(page.events.items.map((s) => JSON.parse(s.toString()).seq)).toEqual([3]);
    expect(page.events.nextBeforeSeq).toBe(3);
    const next = await pager.page(readers(events), { limit: 10, messagesBeforeSeq: Infinity, eventsBeforeSeq: 3, partialText: true });
    expect(next.events.items.map((s) => JSON.parse(s.toString()).seq)).toEqual([2]);
  });

  it("builds at most maxConcurrent pages at once; the others wait their turn", async () => {
    const events = longReply(200, 2000);
    const paused: (() => void)[] = [];
    const pager = new HistoryPager({ maxConcurrent: 2, pause: () => new Promise<void>((resolve) => paused.push(resolve)) });
    const q = { limit: 500, messagesBeforeSeq: Infinity, eventsBeforeSeq: Infinity, partialText: true };
    let done = 0;
    const pages = Array.from({ length: 5 }, () => pager.page(readers(events), q).then((p) => (done++, p)));
    const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
    await settle();
    // Two pages are serialising (each stopped at its first pause); three wait for the gate.
    expect(paused).toHaveLength(2);
    let steps = 0;
    while (done < 5) {
      expect(paused.length).toBeLessThanOrEqual(2);
      const resume = paused.shift();
      resume?.();
      await settle();
      expect(++steps).toBeLessThan(10_000);
    }
    const results = await Promise.all(pages);
    expect(new Set(results.map((p) => p.events.items.map((b) => b.toString()).join("|"))).size).toBe(1);
  });
});
