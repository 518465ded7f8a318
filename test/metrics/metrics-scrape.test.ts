/**
 * A scripted sequence over the real app (rent, a completed turn, a follower,
 * an interrupted turn, a failed turn, an idempotent replay, refusals), then a
 * scrape: the counters, gauges and histograms moved exactly as the sequence
 * says, and no tenant, room, turn or caller id appears anywhere in the text.
 */
import { afterEach, describe, expect, it } from "vitest";
import { eventually, startTestServer, type TestServer } from "../support/harness.js";
import { buckets, one, parseExposition, total, type Sample } from "./exposition.js";

const METRICS_TOKEN = "0123456789abcdef".repeat(4);
const TENANT = "zebra_tenant";
const CALLER = "caller_quokka";
const ECHO = { provider: "local", model: "echo" };
const SLOW = { token_delay_ms: 40, reply: Array.from({ length: 250 }, (_, i) => `w${i}`).join(" ") };
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

let t: TestServer;
afterEach(() => t.close());

async function scrapeText(): Promise<string> {
  const res = await t.req("GET", "/metrics", { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  return res.text();
}
const scrape = async (): Promise<Sample[]> => parseExposition(await scrapeText());

describe("GET /metrics after a scripted sequence", () => {
  it("counts requests, turns by end status, tokens, events, group commits, followers and replays, with no id in any label", async () => {
    t = await startTestServer({ env: { METRICS_TOKEN, EVENT_COALESCE_MS: "20" } });
    const token = await t.token(TENANT, { sub: CALLER });
    const rent = async (body: Record<string, unknown> = {}, headers: Record<string, string> = {}) => {
      const res = await t.json("POST", "/llm/room", { token, body, headers });
      expect(res.status).toBe(201);
      return res;
    };
    const post = async (id: string, content: string) => expect((await t.json("POST", `/llm/room/${id}/messages`, { token, body: { content } })).status).toBe(202);
    const status = async (id: string) => (await t.json("GET", `/llm/room/${id}`, { token })).body.data.status as string;
    const history = async (id: string) => (await t.json("GET", `/llm/room/${id}/history`, { token })).body.data;

    // 1. A completed turn.
    const a = (await rent()).body.data.id as string;
    await post(a, "hello there");
    await eventually(async () => (await status(a)) === "idle", 10_000, "room a idle");

    // 2. A follower: connected while open, counted as cancelled when its reader leaves.
    const follower = await t.req("GET", `/llm/room/${a}/events?follow=true`, { token });
    expect(follower.status).toBe(200);
    const reader = follower.body!.getReader();
    expect((await reader.read()).done).toBe(false);
    expect(one(await scrape(), "roomservice_sse_followers")).toBe(1);
    await reader.cancel();
    await eventually(async () => one(await scrape(), "roomservice_sse_streams_closed_total", { reason: "cancelled" }) === 1, 5000, "follower closed");
    expect(one(await scrape(), "roomservice_sse_followers")).toBe(0);

    // 3. An interrupted turn.
    const b = (await rent({ agents: [{ agent_id: "slow", options: SLOW }] })).body.data.id as string;
    await post(b, "go on");
    await eventually(async () => (await history(b)).events.some((e: any) => e.event_type === "pi:message_update"), 10_000, "room b streaming");
    const interrupted = await t.json("POST", `/llm/room/${b}/interrupt`, { token, body: { reason: "enough" } });
    expect(interrupted.status).toBe(200);

    // 4. A failed turn (echo fails after two streamed tokens).
    const c = (await rent({ agents: [{ agent_id: "flaky", options: { fail_after_tokens: 2, reply: "one two three four five" } }] })).body.data.id as string;
    await post(c, "try");

    // 5. An idempotent replay of a rent.
    const first = await rent({}, { "idempotency-key": "rent-once" });
    const again = await rent({}, { "idempotency-key": "rent-once" });
    expect(again.res.headers.get("idempotent-replayed")).toBe("true");
    const d = first.body.data.id as string;
    expect(again.body.data.id).toBe(d);

    const ended = (s: Sample[], status: string) => one(s, "roomservice_turns_ended_total", { ...ECHO, status });
    const s = await eventually(async () => {
      const now = await scrape();
      return ended(now, "completed") + ended(now, "interrupted") + ended(now, "failed") === 3 ? now : null;
    }, 10_000, "three turn ends counted");

    expect(one(s, "roomservice_turns_started_total", ECHO)).toBe(3);
    expect(ended(s, "completed")).toBe(1);
    expect(ended(s, "interrupted")).toBe(1);
    expect(ended(s, "failed")).toBe(1);
    expect(ended(s, "cancelled")).toBe(0);
    expect(one(s, "roomservice_turns_running")).toBe(0);
    for (const h of ["roomservice_turn_duration_seconds", "roomservice_turn_first_token_seconds"]) {
      // Every one of the three turns streamed before it ended, so each has a first-token observation too.
      expect(one(s, `${h}_count`, ECHO), h).toBe(3);
      expect(one(s, `${h}_sum`, ECHO), h).toBeGreaterThan(0);
      const bs = buckets(s, h, ECHO);
      expect(bs.at(-1), h).toEqual([Infinity, 3]);
      bs.forEach(([, n], i) => expect(n).toBeGreaterThanOrEqual(i === 0 ? 0 : bs[i - 1]![1]));
    }
    expect(one(s, "roomservice_model_tokens_total", { ...ECHO, direction: "output" })).toBeGreaterThan(0);
    expect(one(s, "roomservice_model_tokens_total", { ...ECHO, direction: "input" })).toBeGreaterThan(0);
    expect(one(s, "roomservice_model_cost_usd_total", ECHO)).toBe(0); // local/echo is free

    // Every durable event of every room was counted once, and nothing else was.
    let stored = 0;
    for (const id of [a, b, c, d]) stored += (await history(id)).events.length;
    expect(one(s, "roomservice_events_written_total")).toBe(stored);
    expect(one(s, "roomservice_event_commit_seconds_count")).toBeGreaterThan(0);
    expect(one(s, "roomservice_event_commit_seconds_sum")).toBeGreaterThan(0);
    // The off-loop fsyncs are exported from the start (they move only when a tick commits more than one thing: test/metrics/recorder.test.ts, test/unit/wal-sync.test.ts).
    expect(one(s, "roomservice_wal_fsync_seconds_count")).toBeGreaterThanOrEqual(0);
    // Each turn's end joined a group commit: at least three members over all groups.
    expect(one(s, "roomservice_group_commit_size_sum")).toBeGreaterThanOrEqual(3);

    // HTTP by route template, method and status: four rents plus the replay, one interrupt.
    const http = (labels: Record<string, string>) => one(s, "roomservice_http_request_duration_seconds_count", labels);
    expect(http({ route: "/llm/room", method: "POST", status: "201" })).toBe(5);
    expect(http({ route: "/llm/room/:id/interrupt", method: "POST", status: "200" })).toBe(1);
    expect(http({ route: "/llm/room/:id/messages", method: "POST", status: "202" })).toBe(3);
    expect(http({ route: "/llm/room/:id/events", method: "GET", status: "200" })).toBe(1);
    expect(one(s, "roomservice_idempotent_replays_total")).toBe(1);

    // Rooms by status agree with the API's list; the one tenant file is open.
    const listed = (await t.json("GET", "/llm/room?limit=200", { token })).body.data as Array<{ status: string }>;
    expect(listed).toHaveLength(4);
    for (const st of ["rented", "active", "idle", "sleeping", "releasing", "released", "failed"]) {
      expect(one(s, "roomservice_rooms", { status: st }), st).toBe(listed.filter((r) => r.status === st).length);
    }
    expect(one(s, "roomservice_tenant_files_open")).toBe(1);
    expect(one(s, "roomservice_global_stop_active")).toBe(0);

    // Process metrics from prom-client.
    expect(one(s, "process_resident_memory_bytes")).toBeGreaterThan(0);
    expect(one(s, "nodejs_heap_size_used_bytes")).toBeGreaterThan(0);
    expect(one(s, "nodejs_eventloop_lag_seconds")).toBeGreaterThanOrEqual(0);
    // The GC histogram is left out on purpose (it observes every collection: metrics.registry.ts).
    expect(s.some((x) => x.name.startsWith("nodejs_gc_duration_seconds"))).toBe(false);
    expect(one(s, "process_cpu_seconds_total")).toBeGreaterThan(0);

    // No tenant, caller, room or turn id leaves the process.
    const text = await scrapeText();
    for (const secret of [TENANT, CALLER, a, b, c, d]) expect(text).not.toContain(secret);
    expect(text).not.toMatch(UUID);
  });

  it("counts requests refused by the rate limit and by a quota, by error code", async () => {
    const frozen = Date.now();
    // A frozen clock: the tenant's token bucket never refills, so the third request is refused whatever the machine's speed.
    t = await startTestServer({ env: { METRICS_TOKEN, RATE_LIMIT_RPS: "1", RATE_LIMIT_BURST: "2", MAX_ROOMS_PER_TENANT: "1" }, server: { now: () => frozen } });
    const token = await t.token(TENANT);
    const before = await scrape();
    expect(one(before, "roomservice_http_errors_total", { code: "RATE_LIMITED" })).toBe(0);
    expect(one(before, "roomservice_http_errors_total", { code: "QUOTA_EXCEEDED" })).toBe(0);

    expect((await t.json("POST", "/llm/room", { token, body: {} })).status).toBe(201);
    const quota = await t.json("POST", "/llm/room", { token, body: {} });
    expect(quota.status).toBe(429);
    expect(quota.body.code).toBe("QUOTA_EXCEEDED");
    const limited = await t.json("GET", "/llm/room", { token });
    expect(limited.status).toBe(429);
    expect(limited.body.code).toBe("RATE_LIMITED");

    const s = await scrape();
    expect(one(s, "roomservice_http_errors_total", { code: "QUOTA_EXCEEDED" })).toBe(1);
    expect(one(s, "roomservice_http_errors_total", { code: "RATE_LIMITED" })).toBe(1);
    expect(one(s, "roomservice_http_request_duration_seconds_count", { route: "/llm/room", method: "POST", status: "429" })).toBe(1);
    expect(one(s, "roomservice_http_request_duration_seconds_count", { route: "/llm/room", method: "GET", status: "429" })).toBe(1);
    expect(total(s, "roomservice_http_errors_total")).toBe(2);
  });

  it("counts a follower that fell behind and was cut off as overflow", async () => {
    t = await startTestServer({ env: { METRICS_TOKEN, EVENT_COALESCE_MS: "0" } });
    const token = await t.token(TENANT);
    // 1,500 uncoalesced deltas: more than the 1,000 frames a follower may have waiting.
    const reply = Array.from({ length: 1500 }, (_, i) => `t${i}`).join(" ");
    const id = (await t.json("POST", "/llm/room", { token, body: { agents: [{ agent_id: "long", options: { reply, token_delay_ms: 0 } }] } })).body.data.id as string;
    const unread = await t.req("GET", `/llm/room/${id}/events?follow=true`, { token }); // its body is never read
    expect(unread.status).toBe(200);
    expect(one(await scrape(), "roomservice_sse_followers")).toBe(1);
    expect((await t.json("POST", `/llm/room/${id}/messages`, { token, body: { content: "go" } })).status).toBe(202);
    await eventually(async () => one(await scrape(), "roomservice_sse_streams_closed_total", { reason: "overflow" }) === 1, 20_000, "the follower cut off");
    expect(one(await scrape(), "roomservice_sse_followers")).toBe(0);
  });
});
