/**
 * Long replies: every `pi:message_update` carries the whole text so far, so a
 * reply's events weigh the square of its length. History pages stay bounded
 * in bytes with a cursor per list, and `partial_text=false` gives the deltas
 * alone on /history and /events.
 */
import { serve, type ServerType } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, startTestServer, type TestServer } from "../support/harness.js";
import { parseFrames, readEvents } from "../support/sse-client.js";

let t: TestServer;
let token: string;
let room: string;
let reply: string;
/** The room's whole log as a non-follow replay gives it. */
let all: any[];

const TOKENS = 300;
const PAGE_LIST_BYTES = 512 * 1024;

beforeAll(async () => {
  t = await startTestServer({ env: { EVENT_COALESCE_MS: "0", RATE_LIMIT_RPS: "0" } });
  token = await t.token("acme");
  // 300 echo tokens of 100 characters: one pi:message_update each, 30,000 characters in all.
  reply = Array.from({ length: TOKENS }, (_, i) => `${String(i).padStart(4, "0")}${"abcdefghij".repeat(10).slice(4)}`).join(" ");
  room = (await t.json("POST", "/llm/room", { token, body: { agents: [{ agent_id: "a", options: { reply, token_delay_ms: 0 } }] } })).body.data.id;
  await t.json("POST", `/llm/room/${room}/messages`, { token, body: { content: "go" } });
  await eventually(async () => (await t.json("GET", `/llm/room/${room}`, { token })).body.data.status === "idle", 10_000, "idle");
  all = parseFrames(await (await t.req("GET", `/llm/room/${room}/events`, { token })).text())
    .filter((f) => f.data)
    .map((f) => JSON.parse(f.data!));
});
afterAll(() => t.close());

const updates = (events: any[]) => events.filter((e) => e.event_type === "pi:message_update" && e.payload.update_type === "text_delta");

async function historyPages(query: string, cursor: "events" | "messages"): Promise<{ pages: any[]; bytes: number[] }> {
  const pages: any[] = [];
  const bytes: number[] = [];
  let before: number | null = null;
  for (let guard = 0; guard < 1000; guard++) {
    const res = await t.req("GET", `/llm/room/${room}/history?${query}${before === null ? "" : `&${cursor}_before_seq=${before}`}`, { token });
    expect(res.status).toBe(200);
    const text = await res.text();
    bytes.push(Buffer.byteLength(text));
    const body = JSON.parse(text);
    pages.push(body);
    if (!body.meta[cursor].has_more) break;
    before = body.meta[cursor].next_before_seq;
    expect(before).toBe(body.data[cursor][0].seq);
  }
  return { pages, bytes };
}

describe("a long reply's history", () => {
  it("is long: its updates repeat the text so far", () => {
    expect(updates(all).length).toBeGreaterThanOrEqual(TOKENS);
    expect(updates(all).at(-1).payload.partial.text).toBe(reply);
    const total = all.reduce((n, e) => n + JSON.stringify(e).length, 0);
    expect(total).toBeGreaterThan(8 * PAGE_LIST_BYTES);
  });

  it("pages of events are bounded in bytes as well as rows, and walking events_before_seq back gives the whole log once", async () => {
    const { pages, bytes } = await historyPages("limit=1000", "events");
    expect(pages.length).toBeGreaterThan(8);
    for (const [i, b] of bytes.entries()) expect(b, `page ${i}`).toBeLessThan(2 * PAGE_LIST_BYTES + 64 * 1024);
    for (const p of pages.slice(0, -1)) {
      expect(p.meta.has_more).toBe(true);
      expect(p.meta.events.has_more).toBe(true);
    }
    expect(pages.at(-1).meta.events).toEqual({ has_more: false, next_before_seq: null });
    const walked = pages.map((p) => p.data.events).reverse().flat();
    expect(walked).toEqual(all);
    // The newest page is the newest events, and says where the log ends.
    expect(pages[0].data.events.at(-1).seq).toBe(all.at(-1).seq);
    expect(pages[0].meta.last_seq).toBe(all.at(-1).seq);
  });

  it("partial_text=false: one small page holds every event, updates carry deltas that rebuild the reply", async () => {
    const res = await t.req("GET", `/llm/room/${room}/history?limit=1000&partial_text=false`, { token });
    const text = await res.text();
    const body = JSON.parse(text);
    expect(body.meta.events).toEqual({ has_more: false, next_before_seq: null });
    expect(body.data.events.map((e: any) => e.seq)).toEqual(all.map((e) => e.seq));
    expect(Buffer.byteLength(text)).toBeLessThan(PAGE_LIST_BYTES);
    const ups = updates(body.data.events);
    expect(ups.every((e: any) => e.payload.partial.text === undefined && e.payload.partial.role === "assistant")).toBe(true);
    expect(ups.map((e: any) => e.payload.delta).join("")).toBe(reply);
    // Everything but the cumulative text is what the full form carries.
    const full = new Map(all.map((e) => [e.seq, e]));
    for (const e of body.data.events) {
      const f = full.get(e.seq);
      if (e.event_type === "pi:message_update") expect({ ...e, payload: { ...e.payload, partial: { ...e.payload.partial, text: f.payload.partial.text } } }).toEqual(f);
      else expect(e).toEqual(f);
    }
  });

  it("messages page on their own cursor, bounded in bytes, and do not move the events list", async () => {
    const note = (i: number) => `${i}:${"m".repeat(60_000)}`;
    const id = (await t.json("POST", "/llm/room", { token, body: {} })).body.data.id;
    for (let i = 0; i < 20; i++) expect((await t.json("POST", `/llm/room/${id}/messages`, { token, body: { kind: "note", content: note(i) } })).status).toBe(201);
    const seen: string[] = [];
    let before: number | null = null;
    let pages = 0;
    for (;;) {
      const r: { body: any } = await t.json("GET", `/llm/room/${id}/history?partial_text=false${before === null ? "" : `&messages_before_seq=${before}`}`, { token });
      pages++;
      const msgs = r.body.data.messages;
      expect(JSON.stringify(msgs).length).toBeLessThan(PAGE_LIST_BYTES + 61_000);
      // The events list is the newest events on every page: it has its own cursor.
      expect(r.body.data.events.at(-1).seq).toBe(r.body.meta.last_seq);
      seen.unshift(...msgs.map((m: any) => m.content));
      if (!r.body.meta.messages.has_more) {
        expect(r.body.meta.messages.next_before_seq).toBeNull();
        break;
      }
      before = r.body.meta.messages.next_before_seq;
      expect(pages).toBeLessThan(50);
    }
    expect(pages).toBeGreaterThan(2);
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => note(i)));
  });

  it("before_seq still applies to both lists when the per-list cursors are absent", async () => {
    const r = await t.json("GET", `/llm/room/${room}/history?before_seq=3&partial_text=false`, { token });
    expect(r.body.data.events.map((e: any) => e.seq)).toEqual([1, 2]);
    expect(r.body.data.messages.every((m: any) => m.seq < 3)).toBe(true);
  });
});

describe("a long reply's event stream", () => {
  let http: ServerType;
  let base: string;
  beforeAll(async () => {
    await new Promise<void>((resolve) => {
      http = serve({ fetch: t.server.app.fetch, hostname: "127.0.0.1", port: 0 }, (info) => {
        base = `http://127.0.0.1:${info.port}`;
        resolve();
      });
    });
  });
  afterAll(async () => {
    (http as any).closeAllConnections?.();
    await new Promise((r) => http.close(r));
  });

  it("replays exactly the log over a socket", async () => {
    const res = await fetch(`${base}/llm/room/${room}/events`, { headers: { authorization: `Bearer ${token}` } });
    const events = parseFrames(await res.text()).filter((f) => f.data).map((f) => JSON.parse(f.data!));
    expect(events).toEqual(all);
  });

  it("partial_text=false replays and follows deltas without the cumulative text", async () => {
    const id = (await t.json("POST", "/llm/room", { token, body: { agents: [{ agent_id: "a", options: { reply, token_delay_ms: 0 } }] } })).body.data.id;
    await t.json("POST", `/llm/room/${id}/messages`, { token, body: { content: "first" } });
    await eventually(async () => (await t.json("GET", `/llm/room/${id}`, { token })).body.data.status === "idle", 10_000, "idle");
    const res = await fetch(`${base}/llm/room/${id}/events?follow=true&partial_text=false`, { headers: { authorization: `Bearer ${token}` } });
    const got: any[] = [];
    let turnEnds = 0;
    const reading = readEvents(res.body!, (ev) => {
      got.push(ev);
      if (ev.event_type === "agent:turn_end" && ++turnEnds === 2) return false;
    });
    await eventually(() => turnEnds === 1, 10_000, "the replayed turn");
    await t.json("POST", `/llm/room/${id}/messages`, { token, body: { content: "second" } });
    await reading;
    const ups = updates(got);
    expect(ups.length).toBeGreaterThanOrEqual(2 * TOKENS);
    expect(ups.every((e) => e.payload.partial.text === undefined)).toBe(true);
    const turns = [...new Set(ups.map((e) => e.turn_id))];
    expect(turns).toHaveLength(2);
    for (const turn of turns) expect(ups.filter((e) => e.turn_id === turn).map((e) => e.payload.delta).join("")).toBe(reply);
    expect(got.map((e) => e.seq)).toEqual(Array.from({ length: got.length }, (_, i) => i + 1));
  });
});
