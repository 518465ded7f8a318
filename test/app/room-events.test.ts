/** GET /llm/room/:id/events over a real socket: replay, follow, resume, fan-out, cleanup. */
import { serve, type ServerType } from "@hono/node-server";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { eventually, startTestServer, type TestServer } from "../support/harness.js";
import { parseFrames, readEvents } from "../support/sse-client.js";

let t: TestServer;
let http: ServerType;
let base: string;
let token: string;

beforeEach(async () => {
  t = await startTestServer({ env: { EVENT_COALESCE_MS: "10", RATE_LIMIT_RPS: "0" } });
  token = await t.token("acme");
  await new Promise<void>((resolve) => {
    http = serve({ fetch: t.server.app.fetch, hostname: "127.0.0.1", port: 0 }, (info) => {
      base = `http://127.0.0.1:${info.port}`;
      resolve();
    });
  });
});
afterEach(async () => {
  (http as any).closeAllConnections?.();
  await new Promise((r) => http.close(r));
  await t.close();
});

const auth = (extra: Record<string, string> = {}) => ({ authorization: `Bearer ${token}`, ...extra });
const rent = async (body: unknown = {}) => (await t.json("POST", "/llm/room", { token, body })).body.data.id as string;
const say = (id: string, content: string) => t.json("POST", `/llm/room/${id}/messages`, { token, body: { content } });
const waitIdle = (id: string) => eventually(async () => (await t.json("GET", `/llm/room/${id}`, { token })).body.data.status === "idle", 5000, "idle");
const history = async (id: string) => (await t.json("GET", `/llm/room/${id}/history`, { token })).body.data;

describe("room event stream", () => {
  it("replay without follow ends after the replay and equals /history", async () => {
    const id = await rent({ agents: [{ agent_id: "a", options: { reply: "line one\n\nid: 999\nevent: forged\ndata: {}\r\nend", token_delay_ms: 1 } }] });
    await say(id, "go");
    await waitIdle(id);
    const res = await fetch(`${base}/llm/room/${id}/events`, { headers: auth() });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(res.headers.get("cache-control")).toMatch(/no-cache/);
    expect(res.headers.get("x-accel-buffering")).toBe("no");
    expect(res.headers.get("content-encoding")).toBeNull();
    const frames = parseFrames(await res.text());
    expect(frames[0]!.retry).toBeDefined();
    const events = frames.filter((f) => f.event).map((f) => ({ id: f.id, event: f.event, data: JSON.parse(f.data!) }));
    const h = await history(id);
    expect(events.map((e) => e.data)).toEqual(h.events);
    for (const e of events) {
      expect(e.id).toBe(String(e.data.seq));
      expect(e.event).toBe(e.data.event_type);
    }
    expect(events.some((e) => e.event === "forged")).toBe(false);
    expect(h.messages.at(-1).content).toContain("event: forged");
  });

  it("follows live across two turns, then closes after room:released", async () => {
    const id = await rent();
    const res = await fetch(`${base}/llm/room/${id}/events?follow=true`, { headers: auth() });
    const got: any[] = [];
    const done = readEvents(res.body!, (ev) => void got.push(ev));
    await eventually(() => got.length >= 1, 2000, "replayed room:rented");
    await say(id, "first");
    await waitIdle(id);
    await say(id, "second");
    await waitIdle(id);
    await t.json("POST", `/llm/room/${id}/release`, { token, body: {} });
    await done;
    const h = await history(id);
    expect(got).toEqual(h.events);
    expect(got.at(-1).event_type).toBe("room:released");
    expect(got.filter((e) => e.event_type === "agent:turn_end")).toHaveLength(2);
  });

  it("resuming from every Last-Event-ID of a finished room yields exactly the suffix", async () => {
    const id = await rent();
    await say(id, "one two three");
    await waitIdle(id);
    await t.json("POST", `/llm/room/${id}/release`, { token, body: {} });
    const all = (await history(id)).events;
    for (let last = 0; last <= all.length; last++) {
      const res = await fetch(`${base}/llm/room/${id}/events?follow=true`, { headers: auth({ "last-event-id": String(last) }) });
      const seqs = parseFrames(await res.text()).filter((f) => f.event).map((f) => Number(f.id));
      expect(seqs).toEqual(all.slice(last).map((e: any) => e.seq));
    }
    const viaQuery = parseFrames(await (await fetch(`${base}/llm/room/${id}/events?after=3`, { headers: auth() })).text()).filter((f) => f.event);
    expect(viaQuery[0]!.id).toBe("4");
  });

  it("a Last-Event-ID that is not a number is 400; one beyond the end waits for new events", async () => {
    const id = await rent();
    for (const bad of ["abc", "-1", "1.5", "1e3"]) {
      const res = await fetch(`${base}/llm/room/${id}/events`, { headers: auth({ "last-event-id": bad }) });
      expect(res.status, bad).toBe(400);
      expect(((await res.json()) as { code: string }).code).toBe("VALIDATION_FAILED");
    }
    const res = await fetch(`${base}/llm/room/${id}/events?follow=true`, { headers: auth({ "last-event-id": "5" }) });
    const got: any[] = [];
    const done = readEvents(res.body!, (ev) => {
      got.push(ev);
      return got.length < 1;
    });
    await say(id, "hi");
    await done;
    expect(got[0].seq).toBe(6);
  });

  it("200 concurrent followers of one room all receive the full sequence", async () => {
    const id = await rent();
    const followers = await Promise.all(
      Array.from({ length: 200 }, async () => {
        const res = await t.server.app.request(`/llm/room/${id}/events?follow=true`, { headers: auth() });
        const seqs: number[] = [];
        const done = readEvents(res.body!, (ev) => void seqs.push(ev.seq));
        return { seqs, done };
      }),
    );
    await say(id, "fan out please");
    await waitIdle(id);
    await t.json("POST", `/llm/room/${id}/release`, { token, body: {} });
    await Promise.all(followers.map((f) => f.done));
    const expected = (await history(id)).events.map((e: any) => e.seq);
    for (const f of followers) expect(f.seqs).toEqual(expected);
    expect(t.server.events.bus.subscriberCount({ tenant: "acme", kind: "room", streamId: id })).toBe(0);
  });

  it("500 abrupt disconnects leave no subscriber, follower slot or tenant hold behind", async () => {
    const id = await rent();
    for (let i = 0; i < 500; i++) {
      const ac = new AbortController();
      const res = await t.server.app.request(`/llm/room/${id}/events?follow=true`, { headers: auth(), signal: ac.signal });
      const reader = res.body!.getReader();
      await reader.read();
      if (i % 2 === 0) ac.abort();
      else await reader.cancel();
    }
    const released = () => t.server.events.bus.subscriberCount({ tenant: "acme", kind: "room", streamId: id }) === 0 && t.server.rooms.followerCount("acme") === 0 && t.server.tenants.holdCount("acme") === 0;
    // While one follower is attached, it holds a slot and the tenant's file; the checks below can fail.
    const probe = await t.server.app.request(`/llm/room/${id}/events?follow=true`, { headers: auth() });
    const probeReader = probe.body!.getReader();
    await probeReader.read();
    expect([t.server.rooms.followerCount("acme"), t.server.tenants.holdCount("acme")]).toEqual([1, 1]);
    await probeReader.cancel();
    await eventually(released, 3000, "all released");
    // Over real sockets too.
    for (let i = 0; i < 20; i++) {
      const ac = new AbortController();
      const res = await fetch(`${base}/llm/room/${id}/events?follow=true`, { headers: auth(), signal: ac.signal });
      await res.body!.getReader().read();
      ac.abort();
    }
    await eventually(released, 3000, "all released over sockets");
  });

  it("another tenant's room is 404 on the stream", async () => {
    const other = await t.token("globex");
    const gid = (await t.json("POST", "/llm/room", { token: other, body: {} })).body.data.id;
    const res = await fetch(`${base}/llm/room/${gid}/events`, { headers: auth() });
    expect(res.status).toBe(404);
  });
});
