/**
 * The helper behind a real @hono/node-server on 127.0.0.1: what a client on
 * the wire sees, reconnects, fan-out, slow readers and disconnect cleanup.
 */
import { afterEach, describe, expect, it } from "vitest";
import { countingTimers, createMemoryEventHub, TERMINAL, type MemoryHub } from "./memory-hub.js";
import { eventsApp, eventually, rng, serveApp, StreamClient, type Served, type TestApp } from "./sse-harness.js";

const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

let served: Served | undefined;
afterEach(async () => {
  await served?.close();
  served = undefined;
});

async function start(hub: MemoryHub, tune: Parameters<typeof eventsApp>[1] = {}): Promise<{ t: TestApp; url: string }> {
  const t = eventsApp(hub, tune);
  served = await serveApp(t.app);
  return { t, url: served.url };
}

async function connect(url: string, opts: { lastId?: number; follow?: boolean; signal?: AbortSignal; query?: string } = {}): Promise<StreamClient> {
  const headers: Record<string, string> = {};
  if (opts.lastId !== undefined) headers["Last-Event-ID"] = String(opts.lastId);
  const res = await fetch(`${url}/events?follow=${opts.follow ?? true}${opts.query ?? ""}`, { headers, ...(opts.signal ? { signal: opts.signal } : {}) });
  expect(res.status).toBe(200);
  return new StreamClient(res);
}

describe("over HTTP", () => {
  it("frames on the wire: headers, retry first, events, heartbeat, forged text intact", async () => {
    const hub = createMemoryEventHub();
    hub.publish("room:rented");
    const { t, url } = await start(hub, { heartbeatMs: 20 });
    const c = await connect(url);
    expect(c.res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(c.res.headers.get("cache-control")).toBe("no-cache, no-transform");
    expect(c.res.headers.get("x-accel-buffering")).toBe("no");
    expect(c.res.headers.get("content-encoding")).toBeNull();
    await c.waitFor((x) => x.frames.some((f) => f.comment === "ping"));
    const text = "line1\n\nid: 99\nevent: x\ndata: {}\n\nline2\r\rdata: z\r\n";
    hub.publish("agent:output", { text, emoji: "é😀" });
    hub.publish(TERMINAL);
    expect(await c.ended).toBe("done");
    expect(c.frames[0]).toEqual({ retry: 2000 });
    expect(c.seqs()).toEqual([1, 2, 3]);
    expect(c.frames.filter((f) => f.id !== undefined).map((f) => f.event)).toEqual(["room:rented", "agent:output", TERMINAL]);
    expect(c.events()[1]!.payload).toEqual({ text, emoji: "é😀" });
    expect(c.frames.filter((f) => f.id === "99")).toHaveLength(0);
    await eventually(() => t.open() === 0, "stream closed");
  });

  it("a bad Last-Event-ID is a 400", async () => {
    const { t, url } = await start(createMemoryEventHub());
    const res = await fetch(`${url}/events?follow=true`, { headers: { "Last-Event-ID": "twelve" } });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: "VALIDATION_FAILED" });
    expect(t.opened).toBe(0);
  });

  it("a source failing on the first page is an error status, and the response is not touched before that", async () => {
    const hub = createMemoryEventHub();
    hub.failNextReplay = true;
    const { t, url } = await start(hub);
    const res = await fetch(`${url}/events?follow=true`);
    expect(res.status).toBe(500);
    expect(res.headers.get("content-type")).not.toMatch(/event-stream/);
    expect(t.closes).toEqual(["error"]);
    expect(hub.listenerCount()).toBe(0);
  });

  it("HEAD answers the stream's status and headers, no body, and holds no follower", async () => {
    const hub = createMemoryEventHub();
    hub.publish("room:rented");
    const { t, url } = await start(hub);
    for (const follow of ["true", "false"]) {
      const res = await fetch(`${url}/events?follow=${follow}`, { method: "HEAD" });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
      expect(await res.text()).toBe("");
    }
    expect(t.closes).toEqual(["cancelled", "cancelled"]);
    expect(hub.listenerCount()).toBe(0);
    // The connection is still good for the next request.
    const c = await connect(url, { follow: false });
    expect(await c.ended).toBe("done");
    expect(c.seqs()).toEqual([1]);
  });

  it("200 concurrent followers of one source all receive the full sequence", async () => {
    const hub = createMemoryEventHub();
    for (let i = 0; i < 20; i++) hub.publish("room:updated", { i });
    const { t, url } = await start(hub);
    const clients = await Promise.all(Array.from({ length: 200 }, (_, i) => connect(url, { lastId: i % 7 === 0 ? 5 : 0 })));
    await Promise.all(clients.map((c) => c.waitFor((x) => x.seqs().at(-1) === 20, 30_000)));
    // Every client has the replay from its own cursor, exactly, before anything live is published.
    clients.forEach((c, i) => expect(c.seqs(), `client ${i}`).toEqual(range(i % 7 === 0 ? 6 : 1, 20)));
    expect(hub.listenerCount()).toBe(200);
    for (let i = 0; i < 100; i++) {
      hub.publish("pi:message_update", { i });
      if (i % 10 === 9) await tick();
    }
    hub.publish(TERMINAL);
    const ends = await Promise.all(clients.map((c) => c.ended));
    expect(new Set(ends)).toEqual(new Set(["done"]));
    clients.forEach((c, i) => expect(c.seqs(), `client ${i}`).toEqual(range(i % 7 === 0 ? 6 : 1, 121)));
    expect(hub.listenerCount()).toBe(0);
    await eventually(() => t.open() === 0, "all closed");
    expect(new Set(t.closes)).toEqual(new Set(["terminal"]));
  });

  it("randomized reconnects (seeded): the union of what a client received is the log, no gap, no duplicate", async () => {
    for (const seed of [1, 7, 42]) {
      const rand = rng(seed);
      const hub = createMemoryEventHub();
      const { t, url } = await start(hub, { replayBatch: 16 });
      const N = 300;
      const producer = (async () => {
        while (hub.log.length < N - 1) {
          const burst = 1 + Math.floor(rand() * 6);
          for (let i = 0; i < burst && hub.log.length < N - 1; i++) hub.publish("pi:message_update", { n: hub.log.length + 1 });
          if (rand() < 0.5) await tick();
          else for (let k = Math.floor(rand() * 3); k >= 0; k--) await tick();
        }
        hub.publish(TERMINAL);
      })();

      const received: number[] = [];
      let lastId = 0;
      let connections = 0;
      for (;;) {
        connections++;
        const ac = new AbortController();
        const c = await connect(url, { ...(lastId > 0 || rand() < 0.5 ? { lastId } : {}), signal: ac.signal });
        const want = Math.floor(rand() * 40);
        await c.waitFor((x) => x.seqs().length >= want || x.isEnded, 30_000);
        if (!c.isEnded) {
          if (rand() < 0.5) {
            ac.abort();
            // Node's fetch leaves a pending read hanging when the abort lands after the server
            // already finished the body (here: right after the terminal event); release it.
            await c.cancel();
          } else {
            await c.cancel();
          }
        }
        await c.ended;
        const seqs = c.seqs();
        // Each connection continues exactly where the last one stopped.
        expect(seqs, `seed ${seed} connection ${connections}`).toEqual(range(lastId + 1, lastId + seqs.length));
        received.push(...seqs);
        if (seqs.length > 0) lastId = seqs.at(-1)!;
        if (c.events().at(-1)?.event_type === TERMINAL) break;
        expect(connections).toBeLessThan(5_000);
      }
      await producer;
      expect(received).toEqual(range(1, N));
      expect(connections).toBeGreaterThan(3);
      await eventually(() => hub.listenerCount() === 0 && t.open() === 0, "all followers released");
      await served!.close();
      served = undefined;
    }
  });

  it("no leak: after 500 abrupt disconnects the source has no listeners and no live timers", async () => {
    const hub = createMemoryEventHub();
    hub.publish("room:rented");
    const timers = countingTimers();
    const { t, url } = await start(hub, { timers, heartbeatMs: 50 });
    const rand = rng(99);
    let n = 0;
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(
        Array.from({ length: 50 }, async () => {
          const i = n++;
          const ac = new AbortController();
          const c = await connect(url, { signal: ac.signal, lastId: Math.floor(rand() * 2) });
          if (i % 5 !== 0) await c.waitFor((x) => x.frames.length >= 1); // some leave before reading anything
          if (i % 2 === 0) ac.abort();
          else await c.cancel();
          await c.ended;
        }),
      );
      hub.publish("room:updated", { batch }); // some disconnect mid-delivery
    }
    expect(t.opened).toBe(500);
    await eventually(() => t.open() === 0, "every stream closed");
    expect(hub.listenerCount()).toBe(0);
    expect(timers.created).toBe(500);
    expect(timers.live()).toBe(0);
    expect(t.closes).toHaveLength(500);
    expect(t.closes.every((r) => r === "aborted" || r === "cancelled")).toBe(true);
  });

  it("a follower that never reads is cut off once its socket and bound are full; a fast one gets everything", async () => {
    const hub = createMemoryEventHub();
    const { t, url } = await start(hub, { maxBufferedFrames: 20 });
    const slowRes = await fetch(`${url}/events?follow=true`); // body never read
    expect(slowRes.status).toBe(200);
    const fast = await connect(url);
    await eventually(() => hub.listenerCount() === 2, "both subscribed");
    const big = "x".repeat(64 * 1024);
    let published = 0;
    while (!t.closes.includes("overflow")) {
      for (let i = 0; i < 10; i++) hub.publish("pi:message_update", { n: ++published, big });
      const last = hub.log.length;
      await fast.waitFor((x) => x.seqs().at(-1) === last, 30_000);
      expect(published, "slow follower was never cut off").toBeLessThan(5_000);
    }
    expect(hub.listenerCount()).toBe(1);
    hub.publish(TERMINAL);
    expect(await fast.ended).toBe("done");
    expect(fast.seqs()).toEqual(range(1, hub.log.length));
    // Read late, the slow body is a gap-free prefix, then the overflow comment, then a clean end.
    const slow = new StreamClient(slowRes);
    expect(await slow.ended).toBe("done");
    expect(slow.seqs().length).toBeGreaterThan(0);
    expect(slow.seqs()).toEqual(range(1, slow.seqs().length));
    expect(slow.frames.at(-1)!.comment).toMatch(/^overflow/);
    await eventually(() => t.open() === 0, "all closed");
    expect(t.closes.filter((r) => r === "overflow")).toHaveLength(1);
  });
});
