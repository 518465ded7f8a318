/**
 * Replay-then-follow semantics, in-process through hono's app.request (the
 * same Response object the node server would stream).
 */
import { describe, expect, it } from "vitest";
import { CHUNK_CHARS, SseFeed, type SseSink } from "../../src/sse/sse.feed.js";
import { SseFollowers } from "../../src/sse/sse.followers.js";
import { sseResponse } from "../../src/sse/sse.stream.js";
import { countingTimers, createMemoryEventHub, TERMINAL, type MemoryHub } from "./memory-hub.js";
import { eventsApp, eventually, StreamClient, type TestApp } from "./sse-harness.js";
import { parseSseStream } from "./sse-parse.js";

const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

function seeded(n: number, opts: { terminal?: boolean; preSerialise?: boolean } = {}): MemoryHub {
  const hub = createMemoryEventHub(opts.preSerialise === undefined ? {} : { preSerialise: opts.preSerialise });
  for (let i = 1; i <= n; i++) hub.publish(i === n && opts.terminal ? TERMINAL : "room:updated", { i });
  return hub;
}

async function open(t: TestApp, path: string, init: RequestInit = {}): Promise<StreamClient> {
  const res = await t.app.request(path, init);
  expect(res.status).toBe(200);
  return new StreamClient(res);
}

describe("replay", () => {
  it("sends the SSE headers, the retry hint first, then id/event/data frames, and ends without follow", async () => {
    const hub = seeded(3);
    const t = eventsApp(hub, { retryMs: 1234 });
    const res = await t.app.request("/events");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("no-cache, no-transform");
    expect(res.headers.get("connection")).toBe("keep-alive");
    expect(res.headers.get("x-accel-buffering")).toBe("no");
    expect(res.headers.get("content-encoding")).toBeNull();
    const frames = parseSseStream(await res.text());
    expect(frames[0]).toEqual({ retry: 1234 });
    expect(frames.slice(1)).toEqual(hub.log.map((e) => ({ id: String(e.seq), event: e.event_type, data: JSON.stringify(e) })));
    expect(t.closes).toEqual(["end"]);
    expect(hub.listenerCount()).toBe(0);
  });

  it("without follow yields exactly the events after `after` and never subscribes", async () => {
    const hub = seeded(10);
    let subscribed = 0;
    const subscribe = hub.subscribe;
    hub.subscribe = (l) => {
      subscribed++;
      return subscribe(l);
    };
    const t = eventsApp(hub);
    const c = await open(t, "/events?after=6");
    expect(await c.ended).toBe("done");
    expect(c.seqs()).toEqual([7, 8, 9, 10]);
    expect(c.events()).toEqual(hub.log.slice(6));
    expect(subscribed).toBe(0);
  });

  it("resuming from every possible Last-Event-ID of a finished stream yields exactly the suffix (follow or not)", async () => {
    const n = 23;
    const hub = seeded(n, { terminal: true });
    const t = eventsApp(hub, { replayBatch: 4 });
    for (let k = 0; k <= n; k++) {
      for (const follow of [false, true]) {
        const c = await open(t, `/events?follow=${follow}`, { headers: { "Last-Event-ID": String(k) } });
        expect(await c.ended).toBe("done");
        expect(c.seqs(), `after ${k} follow=${follow}`).toEqual(range(k + 1, n));
      }
    }
    expect(t.open()).toBe(0);
    expect(hub.listenerCount()).toBe(0);
    // A follow that resumed at the terminal event closes at once because the source is closed.
    expect(t.closes.filter((r) => r === "closed")).toHaveLength(1);
  });

  it("Last-Event-ID wins over ?after", async () => {
    const t = eventsApp(seeded(5));
    const c = await open(t, "/events?after=1", { headers: { "Last-Event-ID": "3" } });
    await c.ended;
    expect(c.seqs()).toEqual([4, 5]);
  });

  it("pages through a long log lazily: only one page is read until the reader pulls", async () => {
    const hub = seeded(5000);
    const limits: number[] = [];
    hub.onReplay = (_after, limit) => limits.push(limit);
    const t = eventsApp(hub, { replayBatch: 100 });
    const res = await t.app.request("/events");
    // Response created, body not read: one page so far.
    expect(hub.replayCalls).toBe(1);
    const c = new StreamClient(res);
    await c.ended;
    expect(c.seqs()).toEqual(range(1, 5000));
    expect(hub.replayCalls).toBe(51);
    expect(new Set(limits)).toEqual(new Set([100]));
  });

  it("rejects a non-numeric Last-Event-ID with 400 before opening a stream", async () => {
    const t = eventsApp(seeded(2));
    for (const headers of [{ "Last-Event-ID": "abc" }, { "Last-Event-ID": "-1" }]) {
      const res = await t.app.request("/events?follow=true", { headers });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ success: false, code: "VALIDATION_FAILED" });
    }
    expect((await t.app.request("/events?after=1.5")).status).toBe(400);
    expect(t.opened).toBe(0);
  });
});

describe("follow", () => {
  it("tails live events after the replay, then closes after the terminal event", async () => {
    const hub = seeded(3);
    const t = eventsApp(hub);
    const c = await open(t, "/events?follow=true&after=1");
    await c.waitFor((x) => x.seqs().length === 2);
    expect(hub.listenerCount()).toBe(1);
    hub.publish("room:active");
    hub.publish("room:idle");
    await c.waitFor((x) => x.seqs().length === 4);
    hub.publish(TERMINAL);
    expect(await c.ended).toBe("done");
    expect(c.seqs()).toEqual([2, 3, 4, 5, 6]);
    expect(c.events().at(-1)!.event_type).toBe(TERMINAL);
    expect(t.closes).toEqual(["terminal"]);
    expect(hub.listenerCount()).toBe(0);
  });

  it("live frames are the publisher's pre-serialised strings, byte for byte what replay sends", async () => {
    const hub = seeded(0);
    const t = eventsApp(hub);
    const live = await open(t, "/events?follow=true");
    hub.publish("agent:output", { text: "a\nb\r\n\ndata: forged" });
    hub.publish(TERMINAL);
    await live.ended;
    const replayed = await open(t, "/events");
    await replayed.ended;
    expect(live.frames.slice(1)).toEqual(replayed.frames.slice(1));
    expect(live.events()[0]!.payload).toEqual({ text: "a\nb\r\n\ndata: forged" });
  });

  it("works when the publisher gives no pre-serialised frame", async () => {
    const hub = seeded(2, { preSerialise: false });
    const t = eventsApp(hub);
    const c = await open(t, "/events?follow=true");
    await c.waitFor((x) => x.seqs().length === 2);
    hub.publish("room:active");
    hub.publish(TERMINAL);
    await c.ended;
    expect(c.events()).toEqual(hub.log);
  });

  it("seam: events published while replay() runs are delivered exactly once, in order, with no gap", async () => {
    const hub = seeded(10);
    let calls = 0;
    // Published before the page is read (the page includes them) and after (it does not).
    hub.onReplay = () => {
      if (calls < 6) hub.publish("before-read");
    };
    hub.afterReplayRead = () => {
      calls++;
      if (calls < 6) {
        hub.publish("after-read");
        hub.publish("after-read");
      }
    };
    const t = eventsApp(hub, { replayBatch: 3 });
    const c = await open(t, "/events?follow=true&after=2");
    await c.waitFor(() => calls >= 6 || c.isEnded);
    hub.onReplay = hub.afterReplayRead = undefined;
    await c.waitFor((x) => x.seqs().at(-1) === hub.log.length);
    hub.publish(TERMINAL);
    expect(await c.ended).toBe("done");
    expect(c.seqs()).toEqual(range(3, hub.log.length));
    expect(hub.log.length).toBeGreaterThan(20);
  });

  it("a live event after a gap is sent only after the gap is filled from replay", async () => {
    const hub = seeded(2);
    const t = eventsApp(hub);
    const c = await open(t, "/events?follow=true");
    await c.waitFor((x) => x.seqs().length === 2);
    hub.appendSilently("room:active");
    hub.appendSilently("agent:turn_start");
    hub.publish("pi:message_start");
    await c.waitFor((x) => x.seqs().length === 5);
    hub.publish(TERMINAL);
    await c.ended;
    expect(c.seqs()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(c.events()).toEqual(hub.log);
  });

  it("a resume point beyond the last event waits (heartbeats) and delivers only seq > after", async () => {
    const hub = seeded(3);
    const t = eventsApp(hub, { heartbeatMs: 10 });
    const c = await open(t, "/events?follow=true", { headers: { "Last-Event-ID": "5" } });
    await c.waitFor((x) => x.frames.some((f) => f.comment === "ping"));
    expect(c.isEnded).toBe(false);
    hub.publish("room:active"); // 4
    hub.publish("room:active"); // 5
    hub.publish("room:idle"); // 6
    await c.waitFor((x) => x.seqs().length === 1);
    expect(c.seqs()).toEqual([6]);
    await c.cancel();
    await eventually(() => hub.listenerCount() === 0, "unsubscribed");
  });

  it("a follow of a closed source with nothing new closes at once", async () => {
    const hub = seeded(4, { terminal: true });
    const t = eventsApp(hub, { heartbeatMs: 1_000_000 });
    for (const after of [4, 9]) {
      const c = await open(t, `/events?follow=true&after=${after}`);
      expect(await c.ended).toBe("done");
      expect(c.seqs()).toEqual([]);
    }
    expect(t.closes).toEqual(["closed", "closed"]);
    expect(hub.listenerCount()).toBe(0);
  });

  it("heartbeat comments flow while following, through the injected timers, and stop on close", async () => {
    const hub = seeded(1);
    const timers = countingTimers();
    const t = eventsApp(hub, { heartbeatMs: 5, timers });
    const c = await open(t, "/events?follow=true");
    await c.waitFor((x) => x.frames.filter((f) => f.comment === "ping").length >= 3);
    expect(c.frames[0]).toEqual({ retry: 2000 });
    expect(timers.live()).toBe(1);
    hub.publish(TERMINAL);
    await c.ended;
    expect(timers.live()).toBe(0);
    expect(timers.created).toBe(1);
  });
});

describe("the follower and its sink", () => {
  /** A sink that records what it was given and answers `more` to every write. */
  function recordingSink(more: boolean): SseSink & { writes: string[]; ended: number } {
    const decoder = new TextDecoder();
    const sink = {
      writes: [] as string[],
      ended: 0,
      write: (chunk: Uint8Array) => {
        sink.writes.push(decoder.decode(chunk));
        return more;
      },
      end: () => void sink.ended++,
    };
    return sink;
  }
  const idsOf = (text: string): (string | undefined)[] => parseSseStream(text).map((f) => f.id);
  const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

  it("writes nothing during the publisher's call; what one event-loop turn published reaches it in one write", async () => {
    const hub = seeded(2);
    const sink = recordingSink(true);
    const feed = new SseFeed(hub, { follow: true, after: 0, signal: new AbortController().signal }, sink);
    feed.start();
    feed.ready();
    expect(sink.writes.map(idsOf)).toEqual([[undefined, "1", "2"]]);
    // Three publishers in one turn, each in its own continuation (as three requests would be).
    await Promise.all([0, 1, 2].map(async (i) => {
      await Promise.resolve();
      hub.publish("pi:message_update", { i });
    }));
    expect(sink.writes).toHaveLength(1);
    await nextTurn();
    expect(sink.writes.slice(1).map(idsOf)).toEqual([["3", "4", "5"]]);
    hub.publish(TERMINAL);
    await nextTurn();
    expect(sink.writes.slice(2).map(idsOf)).toEqual([["6"]]);
    expect(sink.ended).toBe(1);
    expect(hub.listenerCount()).toBe(0);
  });

  it("after a write the sink refused, nothing more is written until it calls ready()", async () => {
    const hub = seeded(0);
    const sink = recordingSink(false);
    const closes: string[] = [];
    const feed = new SseFeed(hub, { follow: true, after: 0, signal: new AbortController().signal, maxBufferedFrames: 5, onClose: (r) => closes.push(r) }, sink);
    feed.start();
    feed.ready();
    hub.publish("room:active");
    await nextTurn();
    expect(sink.writes).toHaveLength(1); // only the retry hint: the sink has not asked again
    feed.ready();
    expect(sink.writes.slice(1).map(idsOf)).toEqual([["1"]]);
    for (let i = 0; i < 6; i++) hub.publish("pi:message_update", { i });
    expect(closes).toEqual(["overflow"]);
    expect(sink.ended).toBe(1);
    expect(hub.listenerCount()).toBe(0);
  });
});

describe("long frames, projection, shutdown", () => {
  function recordingSink(more: boolean): SseSink & { writes: string[]; ended: number } {
    const decoder = new TextDecoder();
    const sink = {
      writes: [] as string[],
      ended: 0,
      write: (chunk: Uint8Array) => {
        sink.writes.push(decoder.decode(chunk));
        return more;
      },
      end: () => void sink.ended++,
    };
    return sink;
  }
  const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

  it("a replay of long frames is formatted and written a chunk at a time, only as the sink asks", () => {
    const hub = createMemoryEventHub();
    // A long reply's cumulative text: frame k carries k * 2000 characters.
    for (let k = 1; k <= 120; k++) hub.publish("pi:message_update", { partial: { text: "x".repeat(k * 2000) } });
    const sink = recordingSink(false);
    const closes: string[] = [];
    const feed = new SseFeed(hub, { follow: false, after: 0, signal: new AbortController().signal, onClose: (r) => closes.push(r) }, sink);
    feed.start();
    let readies = 0;
    while (sink.ended === 0) {
      feed.ready();
      readies++;
      expect(readies).toBeLessThan(10_000);
    }
    const frames = sink.writes.map((w) => parseSseStream(w));
    // A write adds no frame once it holds CHUNK_CHARS: all but its last frame stay under the bound.
    for (const [i, w] of sink.writes.entries()) {
      const last = w.lastIndexOf("\n\n", w.length - 3);
      expect(last < 0 ? 0 : last + 2, `write ${i}`).toBeLessThan(CHUNK_CHARS);
    }
    expect(frames.flat().filter((f) => f.id).map((f) => Number(f.id))).toEqual(range(1, 120));
    expect(closes).toEqual(["end"]);
  });

  it("a projection applies to replayed and live events, and a live frame is formatted once for all its followers", async () => {
    const hub = createMemoryEventHub();
    hub.publish("pi:message_update", { delta: "a", partial: { text: "a" } });
    const seen = new WeakMap<object, object>();
    let projections = 0;
    const project = (e: any) => {
      if (e.event_type !== "pi:message_update") return e;
      let p = seen.get(e);
      if (!p) {
        projections++;
        seen.set(e, (p = { ...e, payload: { delta: e.payload.delta } }));
      }
      return p as any;
    };
    const sinks = [recordingSink(true), recordingSink(true)];
    const feeds = sinks.map((sink) => new SseFeed(hub, { follow: true, after: 0, signal: new AbortController().signal, project }, sink));
    for (const f of feeds) {
      f.start();
      f.ready();
    }
    hub.publish("pi:message_update", { delta: "b", partial: { text: "ab" } });
    hub.publish(TERMINAL);
    await nextTurn();
    expect(projections).toBe(2); // once per event object, however many followers send it
    for (const sink of sinks) {
      const events = parseSseStream(sink.writes.join("")).filter((f) => f.data).map((f) => JSON.parse(f.data!));
      expect(events.map((e) => e.payload)).toEqual([{ delta: "a" }, { delta: "b" }, {}]);
      expect(sink.ended).toBe(1);
    }
    expect(sinks[0]!.writes.at(-1)).toBe(sinks[1]!.writes.at(-1));
  });

  it("closeAll: a live follower gets what was queued, one still replaying gets the log to its end, then both end cleanly", async () => {
    const hub = createMemoryEventHub();
    for (let i = 0; i < 5; i++) hub.publish("room:updated", { i });
    const followers = new SseFollowers();
    const closes: string[] = [];
    const live = recordingSink(false);
    const behind = recordingSink(false);
    const mk = (sink: SseSink) => {
      const feed = new SseFeed(hub, { follow: true, after: 0, signal: new AbortController().signal, replayBatch: 2, onClose: (r) => { closes.push(r); done(); } }, sink);
      const done = followers.add({ close: () => feed.close(), stop: () => feed.stop("aborted") });
      feed.start();
      return feed;
    };
    const a = mk(live);
    while (!live.writes.join("").includes("id: 5\n")) a.ready();
    const b = mk(behind);
    b.ready(); // has taken the retry hint and its first page only
    hub.publish("agent:turn_end"); // seq 6: queued for the live one, not yet read by the other
    hub.publish("room:idle"); // seq 7
    const closing = followers.closeAll(10_000);
    expect(followers.size).toBe(2);
    for (let i = 0; i < 20 && followers.size > 0; i++) {
      a.ready();
      b.ready();
      await nextTurn();
    }
    expect(await closing).toBe(0);
    for (const sink of [live, behind]) {
      expect(parseSseStream(sink.writes.join("")).filter((f) => f.id).map((f) => Number(f.id))).toEqual(range(1, 7));
      expect(sink.ended).toBe(1);
    }
    expect(closes).toEqual(["shutdown", "shutdown"]);
    expect(hub.listenerCount()).toBe(0);
  });

  it("closeAll stops a follower that does not take its bytes within the time it is given", async () => {
    const hub = createMemoryEventHub();
    hub.publish("room:updated");
    const followers = new SseFollowers();
    const closes: string[] = [];
    const sink = recordingSink(false);
    const feed = new SseFeed(hub, { follow: true, after: 0, signal: new AbortController().signal, onClose: (r) => { closes.push(r); done(); } }, sink);
    const done = followers.add({ close: () => feed.close(), stop: () => feed.stop("aborted") });
    feed.start();
    feed.ready(); // took the retry hint, never asks again
    expect(await followers.closeAll(20)).toBe(1);
    expect(closes).toEqual(["aborted"]);
    expect(followers.size).toBe(0);
  });
});

describe("slow follower and lifecycle", () => {
  it("a follower that never reads is cut off at its bound; a fast one gets everything; the publisher never waits", async () => {
    const hub = seeded(5);
    const t = eventsApp(hub, { maxBufferedFrames: 10 });
    const slowRes = await t.app.request("/events?follow=true");
    const fast = await open(t, "/events?follow=true");
    await fast.waitFor((x) => x.seqs().length === 5);
    expect(hub.listenerCount()).toBe(2);
    for (let i = 0; i < 200; i++) {
      hub.publish("pi:message_update", { i }); // synchronous: returns without awaiting any follower
      if (i % 5 === 4) await new Promise((r) => setImmediate(r)); // bursts below the bound: the fast reader keeps up
    }
    expect(t.closes).toEqual(["overflow"]);
    expect(hub.listenerCount()).toBe(1);
    hub.publish(TERMINAL);
    expect(await fast.ended).toBe("done");
    expect(fast.seqs()).toEqual(range(1, 206));
    // The slow reader, when it finally reads, gets a gap-free prefix, a comment saying why, and a clean end.
    const slow = new StreamClient(slowRes);
    expect(await slow.ended).toBe("done");
    expect(slow.seqs()).toEqual(range(1, slow.seqs().length));
    expect(slow.frames.at(-1)!.comment).toMatch(/^overflow/);
    expect(t.closes).toEqual(["overflow", "terminal"]);
  });

  it("the bound also holds in characters for large frames", async () => {
    const hub = seeded(0);
    const t = eventsApp(hub, { maxBufferedChars: 50_000 });
    await t.app.request("/events?follow=true"); // never read
    const big = "x".repeat(10_000);
    for (let i = 0; i < 6; i++) hub.publish("pi:message_update", { big });
    expect(t.closes).toEqual(["overflow"]);
    expect(hub.listenerCount()).toBe(0);
  });

  it("onClose runs exactly once whether cancel, abort or both end the stream", async () => {
    const hub = seeded(2);
    const timers = countingTimers();
    const t = eventsApp(hub, { timers });
    const ac1 = new AbortController();
    const c1 = await open(t, "/events?follow=true", { signal: ac1.signal });
    await c1.waitFor((x) => x.seqs().length === 2);
    await c1.cancel();
    ac1.abort();
    const ac2 = new AbortController();
    const c2 = await open(t, "/events?follow=true", { signal: ac2.signal });
    await c2.waitFor((x) => x.seqs().length === 2);
    ac2.abort();
    await c2.cancel();
    expect(await c2.ended).toBe("done");
    expect(t.closes).toEqual(["cancelled", "aborted"]);
    expect(hub.listenerCount()).toBe(0);
    expect(timers.live()).toBe(0);
  });

  it("an already aborted signal yields an empty stream and no subscription", async () => {
    const hub = seeded(3);
    const closes: string[] = [];
    const ac = new AbortController();
    ac.abort();
    const res = sseResponse(hub, { follow: true, after: 0, signal: ac.signal, onClose: (r) => closes.push(r) });
    expect(await res.text()).toBe("");
    expect(closes).toEqual(["aborted"]);
    expect(hub.listenerCount()).toBe(0);
  });

  it("a source failing mid-stream ends it with one error frame; failing on the first page throws before any byte", async () => {
    const hub = seeded(10);
    const errors: unknown[] = [];
    const t = eventsApp(hub, { replayBatch: 4, onError: (e) => errors.push(e) });
    const res = await t.app.request("/events?follow=true");
    hub.failNextReplay = true; // the second page
    const c = new StreamClient(res);
    expect(await c.ended).toBe("done");
    expect(c.seqs()).toEqual([1, 2, 3, 4]);
    expect(c.frames.at(-1)).toMatchObject({ event: "error" });
    expect(c.frames.at(-1)!.id).toBeUndefined();
    expect(JSON.parse(c.frames.at(-1)!.data!)).toMatchObject({ code: "INTERNAL" });
    expect(errors).toHaveLength(1);
    expect(t.closes).toEqual(["error"]);
    expect(hub.listenerCount()).toBe(0);

    hub.failNextReplay = true;
    const closes: string[] = [];
    expect(() => sseResponse(hub, { follow: true, after: 0, signal: new AbortController().signal, onClose: (r) => closes.push(r) })).toThrow(
      "disk on fire",
    );
    expect(closes).toEqual(["error"]);
    expect(hub.listenerCount()).toBe(0);
  });

  it("rejects invalid options as a programming error", () => {
    const hub = seeded(0);
    const signal = new AbortController().signal;
    expect(() => sseResponse(hub, { follow: false, after: -1, signal })).toThrow(RangeError);
    expect(() => sseResponse(hub, { follow: false, after: 0, signal, replayBatch: 0 })).toThrow(RangeError);
    expect(hub.listenerCount()).toBe(0);
  });
});
