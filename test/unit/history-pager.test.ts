/**
 * The history pager's pacing: a page is serialised a slice at a time with a
 * pause for other work in between, stops at its byte budget, and only so
 * many pages are built at once.
 */
import { describe, expect, it } from "vitest";
import type { RoomEvent } from "../../src/events/event.types.js";
import { EventJsonCache, HistoryPager, LIST_BYTES, SLICE_BYTES, type HistoryReaders } from "../../src/room/room.history.js";

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

describe("HistoryPager: the serialised-event cache", () => {
  const all = async (pager: HistoryPager, read: HistoryReaders, partialText: boolean, lastSeq: number) => {
    const pages: string[] = [];
    let before = Number.MAX_SAFE_INTEGER;
    for (let n = 0; n < 1000; n++) {
      const page = await pager.page(read, { limit: 50, messagesBeforeSeq: Infinity, eventsBeforeSeq: before, partialText, lastSeq });
      pages.push(JSON.stringify({ items: page.events.items.map((b) => b.toString()), hasMore: page.events.hasMore, next: page.events.nextBeforeSeq }));
      if (!page.events.hasMore) return pages;
      before = page.events.nextBeforeSeq!;
    }
    throw new Error("paging did not end");
  };

  it("serves a history read again from the cache, byte for byte as built, without reading its rows", async () => {
    const events = longReply(300, 300);
    let reads = 0;
    const counted: HistoryReaders = { ...readers(events), events: (before, limit) => (reads++, readers(events).events(before, limit)), cacheKey: "file\u0000room" };
    const pause = async () => undefined;
    for (const partialText of [true, false]) {
      const expected = await all(new HistoryPager({ pause, cacheBytes: 0 }), readers(events), partialText, 300);
      const pager = new HistoryPager({ pause });
      reads = 0;
      expect(await all(pager, counted, partialText, 300)).toEqual(expected);
      expect(reads).toBe(expected.length);
      reads = 0;
      expect(await all(pager, counted, partialText, 300)).toEqual(expected);
      expect(reads).toBe(0);
    }
  });

  it("with part of the history evicted, pages still hold exactly what they held", async () => {
    const events = longReply(300, 300);
    const pause = async () => undefined;
    const expected = await all(new HistoryPager({ pause, cacheBytes: 0 }), readers(events), true, 300);
    // Room for about a third of the history's events.
    const pager = new HistoryPager({ pause, cacheBytes: 4 * 1024 * 1024 });
    const read = { ...readers(events), cacheKey: "f\u0000r" };
    for (let pass = 0; pass < 3; pass++) expect(await all(pager, read, true, 300)).toEqual(expected);
    // Another room's log under the same pager shares nothing with this one.
    const other = longReply(10, 5);
    expect(await all(pager, { ...readers(other), cacheKey: "f\u0000other" }, true, 10)).toEqual(await all(new HistoryPager({ pause, cacheBytes: 0 }), readers(other), true, 10));
  });

  it("an event appended after lastSeq is not served by a page of the cache, which stops at lastSeq", async () => {
    const events = longReply(20, 10);
    const pager = new HistoryPager({ pause: async () => undefined });
    const read = { ...readers(events), cacheKey: "f\u0000r" };
    await all(pager, read, true, 20);
    const page = await pager.page(read, { limit: 5, messagesBeforeSeq: Infinity, eventsBeforeSeq: Number.MAX_SAFE_INTEGER, partialText: true, lastSeq: 18 });
    expect(page.events.items.map((b) => JSON.parse(b.toString()).seq)).toEqual([14, 15, 16, 17, 18]);
    expect(page.events).toMatchObject({ hasMore: true, nextBeforeSeq: 14 });
  });
});

describe("EventJsonCache", () => {
  it("stays within its bound by dropping the least recently used, and takes no item over an eighth of it", () => {
    const cache = new EventJsonCache(800);
    for (let i = 0; i < 8; i++) cache.set(`k${i}`, Buffer.alloc(100, i));
    expect(cache.bytes).toBe(800);
    expect(cache.get("k0")?.[0]).toBe(0); // now the most recently used
    cache.set("k8", Buffer.alloc(100, 8));
    expect(cache.bytes).toBe(800);
    expect(cache.get("k1")).toBeUndefined();
    expect(cache.get("k0")?.[0]).toBe(0);
    cache.set("big", Buffer.alloc(101));
    expect(cache.get("big")).toBeUndefined();
    expect(cache.bytes).toBe(800);
  });
});

describe("HistoryPager: pages in flight take turns", () => {
  it("with the default pause, one event-loop turn runs one slice of one page, however many pages are being built", async () => {
    // Every row is larger than a slice, so every row ends a slice.
    const events = longReply(100, 1).map((e) => ({ ...e, payload: { ...e.payload, partial: { role: "assistant", text: "x".repeat(SLICE_BYTES) } } }));
    const pagers = [new HistoryPager(), new HistoryPager(), new HistoryPager()];
    const originalStringify = JSON.stringify;
    let rowsThisTurn = 0;
    const perTurn: number[] = [];
    let ticking = true;
    const tick = () => {
      perTurn.push(rowsThisTurn);
      rowsThisTurn = 0;
      if (ticking) setImmediate(tick);
    };
    JSON.stringify = ((v: unknown, ...rest: unknown[]) => {
      if (v && typeof v === "object" && "event_type" in v) rowsThisTurn++;
      return (originalStringify as (...a: unknown[]) => string)(v, ...rest);
    }) as typeof JSON.stringify;
    try {
      setImmediate(tick);
      const q = { limit: 500, messagesBeforeSeq: Infinity, eventsBeforeSeq: Infinity, partialText: true };
      await Promise.all(pagers.flatMap((p) => [p.page(readers(events), q), p.page(readers(events), q)]));
    } finally {
      ticking = false;
      JSON.stringify = originalStringify;
    }
    expect(perTurn.reduce((a, b) => a + b, 0)).toBeGreaterThan(50);
    expect(Math.max(...perTurn)).toBe(1);
  });
});
