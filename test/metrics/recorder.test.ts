/**
 * The recorder and the registry without a server: what each recording call
 * puts in the exposition text, exactly, including histogram buckets, cost,
 * and the caps that keep label sets bounded.
 */
import { describe, expect, it } from "vitest";
import { Histo } from "../../src/metrics/metrics.primitives.js";
import { MAX_MODELS, MAX_ROUTES, Recorder } from "../../src/metrics/metrics.recorder.js";
import { MetricsRegistry, type MetricsSources } from "../../src/metrics/metrics.registry.js";
import { insertRoom } from "../../src/room/room.store.js";
import type { TenantDb } from "../../src/storage/tenant-db.js";
import { tenantFiles } from "../support/tenant-files.js";
import { buckets, one, parseExposition, total } from "./exposition.js";

const noSources: MetricsSources = { openTenantFiles: () => [], followers: () => 0, turnsRunning: () => 0, globalStop: () => false };

async function scrape(r: Recorder, sources: MetricsSources = noSources) {
  return parseExposition(await new MetricsRegistry(r, sources).scrape());
}

describe("Histo", () => {
  it("puts a value in the first bucket whose bound is >= the value, and above all bounds in +Inf", () => {
    const h = new Histo({}, [1, 2, 5]);
    for (const v of [0, 1, 1.5, 2, 4.9, 5, 7]) h.observe(v);
    expect([...h.counts]).toEqual([2, 2, 2, 1]);
    expect(h.count).toBe(7);
    expect(h.sum).toBeCloseTo(21.4, 10);
  });
});

describe("Recorder through the registry", () => {
  it("exposes cumulative buckets, _sum and _count for each child", async () => {
    const r = new Recorder();
    for (const size of [1, 1, 3, 300]) r.groupCommit(size);
    const s = await scrape(r);
    expect(buckets(s, "roomservice_group_commit_size")).toEqual([
      [1, 2],
      [2, 2],
      [4, 3],
      [8, 3],
      [16, 3],
      [32, 3],
      [64, 3],
      [128, 3],
      [256, 3],
      [Infinity, 4],
    ]);
    expect(one(s, "roomservice_group_commit_size_sum")).toBe(305);
    expect(one(s, "roomservice_group_commit_size_count")).toBe(4);
  });

  it("times the fsyncs run off the event loop", async () => {
    const r = new Recorder();
    for (const seconds of [0.0004, 0.002, 0.3]) r.walFsynced(seconds);
    const s = await scrape(r);
    expect(buckets(s, "roomservice_wal_fsync_seconds").map(([le, n]) => [le, n])).toEqual([
      [0.0005, 1],
      [0.001, 1],
      [0.0025, 2],
      [0.005, 2],
      [0.01, 2],
      [0.025, 2],
      [0.05, 2],
      [0.1, 2],
      [0.25, 2],
      [1, 3],
      [Infinity, 3],
    ]);
    expect(one(s, "roomservice_wal_fsync_seconds_count")).toBe(3);
    expect(one(s, "roomservice_wal_fsync_seconds_sum")).toBeCloseTo(0.3024, 10);
  });

  it("counts a turn once: end status, duration, first token, tokens and cost by provider/model", async () => {
    const r = new Recorder();
    const turn = r.turnStarted("openai", "gpt-x");
    expect(turn.streaming).toBe(false);
    turn.firstToken();
    turn.firstToken();
    expect(turn.streaming).toBe(true);
    turn.ended("completed", { input: 120, output: 30, cost: { total: 0.25 } });
    turn.ended("failed", { input: 1, output: 1, cost: { total: 1 } }); // a second end is ignored
    r.turnStarted("openai", "gpt-x").ended("failed", { input: 10, output: 0, cost: { total: 0.125 } });
    const s = await scrape(r);
    const m = { provider: "openai", model: "gpt-x" };
    expect(one(s, "roomservice_turns_started_total", m)).toBe(2);
    expect(one(s, "roomservice_turns_ended_total", { ...m, status: "completed" })).toBe(1);
    expect(one(s, "roomservice_turns_ended_total", { ...m, status: "failed" })).toBe(1);
    expect(one(s, "roomservice_turn_duration_seconds_count", m)).toBe(2);
    expect(one(s, "roomservice_turn_first_token_seconds_count", m)).toBe(1);
    expect(one(s, "roomservice_model_tokens_total", { ...m, direction: "input" })).toBe(130);
    expect(one(s, "roomservice_model_tokens_total", { ...m, direction: "output" })).toBe(30);
    expect(one(s, "roomservice_model_cost_usd_total", m)).toBe(0.375);
  });

  it("keeps label sets bounded: models past MAX_MODELS and routes past MAX_ROUTES count as other; unknown methods as OTHER", async () => {
    const r = new Recorder();
    for (let i = 0; i < MAX_MODELS + 5; i++) r.turnStarted("p", `m${i}`);
    for (let i = 0; i < MAX_ROUTES + 3; i++) r.httpRequest(`/r${i}`, "GET", 200, 0.001);
    r.httpRequest("/r0", "BREW", 418, 0.001);
    const s = await scrape(r);
    expect(s.filter((x) => x.name === "roomservice_turns_started_total")).toHaveLength(MAX_MODELS + 1);
    expect(one(s, "roomservice_turns_started_total", { provider: "other", model: "other" })).toBe(5);
    expect(one(s, "roomservice_http_request_duration_seconds_count", { route: "other" })).toBe(3);
    expect(one(s, "roomservice_http_request_duration_seconds_count", { route: "/r0", method: "OTHER", status: "418" })).toBe(1);
    expect(total(s, "roomservice_http_request_duration_seconds_count")).toBe(MAX_ROUTES + 4);
  });

  it("shows the series alerts watch at 0 before anything happened", async () => {
    const s = await scrape(new Recorder());
    expect(one(s, "roomservice_http_errors_total", { code: "RATE_LIMITED" })).toBe(0);
    expect(one(s, "roomservice_http_errors_total", { code: "QUOTA_EXCEEDED" })).toBe(0);
    expect(one(s, "roomservice_sse_streams_closed_total", { reason: "overflow" })).toBe(0);
    expect(one(s, "roomservice_events_written_total")).toBe(0);
  });

  it("reads rooms by status from the open tenant files at scrape time, summed over files", async () => {
    const files = tenantFiles("metrics-rooms");
    try {
      const insert = (t: TenantDb, id: string, status: string) =>
        insertRoom(t, {
          id,
          status,
          metadata: {},
          actors: [],
          toolPolicy: {},
          wakePolicy: {},
          donePolicy: {},
          version: 1,
          rentedAt: "2026-01-01T00:00:00.000Z",
          updatedAt: "2026-01-01T00:00:00.000Z",
          usage: {},
          createdBy: "tester",
        });
      const a = files.open("a");
      const b = files.open("b");
      insert(a, "r1", "idle");
      insert(a, "r2", "active");
      insert(b, "r3", "idle");
      const open = [a, b];
      const sources = { ...noSources, openTenantFiles: () => open };
      const s = await scrape(new Recorder(), sources);
      expect(one(s, "roomservice_rooms", { status: "idle" })).toBe(2);
      expect(one(s, "roomservice_rooms", { status: "active" })).toBe(1);
      expect(one(s, "roomservice_rooms", { status: "released" })).toBe(0);
      expect(one(s, "roomservice_tenant_files_open")).toBe(2);
      open.pop(); // b's file closed: its rooms are no longer counted
      const later = await scrape(new Recorder(), sources);
      expect(one(later, "roomservice_rooms", { status: "idle" })).toBe(1);
    } finally {
      files.close();
    }
  });
});
