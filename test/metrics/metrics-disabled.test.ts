/**
 * METRICS_ENABLED: the operator's switch for recording. Off, the server
 * wires the no-op recorder and no registry, serves rooms, turns and
 * followers exactly as before, and refuses a scrape (after the credential
 * check) with 404 METRICS_DISABLED saying how to turn it on. On (the
 * default, or `true`) it scrapes as it always did. Anything else is a
 * configuration error naming the variable.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";
import { NO_RECORDING } from "../../src/metrics/metrics.recorder.js";
import { eventually, startTestServer, type TestServer } from "../support/harness.js";
import { one, parseExposition } from "./exposition.js";

const METRICS_TOKEN = "a1b2c3d4e5f60789".repeat(4);
const scrapeAuth = { authorization: `Bearer ${METRICS_TOKEN}` };

let t: TestServer | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe("METRICS_ENABLED=false", () => {
  it("serves rooms, turns and followers with the no-op recorder and refuses a scrape with 404 METRICS_DISABLED", async () => {
    t = await startTestServer({ env: { METRICS_ENABLED: "false", METRICS_TOKEN } });
    expect(t.server.config.metrics.enabled).toBe(false);
    expect(t.server.recorder).toBe(NO_RECORDING);
    expect(t.server.metrics).toBeNull();
    // A turn's record from it is already "streaming", so the per-delta first-token check calls nothing.
    expect(NO_RECORDING.turnStarted("local", "echo").streaming).toBe(true);

    const token = await t.token("acme");
    const rent = await t.json("POST", "/llm/room", { token, body: {} });
    expect(rent.status).toBe(201);
    const id = rent.body.data.id as string;
    const follower = await t.req("GET", `/llm/room/${id}/events?follow=true`, { token });
    expect(follower.status).toBe(200);
    const reader = follower.body!.getReader();
    expect((await reader.read()).done).toBe(false);
    expect((await t.json("POST", `/llm/room/${id}/messages`, { token, body: { content: "hello" } })).status).toBe(202);
    await eventually(async () => (await t!.json("GET", `/llm/room/${id}`, { token })).body.data.status === "idle", 10_000, "turn ended");
    const history = (await t.json("GET", `/llm/room/${id}/history`, { token })).body.data;
    const ends = history.events.filter((e: any) => e.event_type === "agent:turn_end");
    expect(ends).toHaveLength(1);
    expect(ends[0].payload.status).toBe("completed");
    await reader.cancel();

    const refused = await t.json("GET", "/metrics", { headers: scrapeAuth });
    expect(refused.status).toBe(404);
    expect(refused.body).toMatchObject({ success: false, code: "METRICS_DISABLED" });
    expect(refused.body.message).toContain("METRICS_ENABLED=true");
    expect(JSON.stringify(refused.body)).not.toContain("roomservice_");

    // The credential is still checked first: an anonymous caller learns nothing about the setting.
    const anonymous = await t.json("GET", "/metrics");
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.code).toBe("AUTH_REQUIRED");
    const tenant = await t.json("GET", "/metrics", { token });
    expect(tenant.status).toBe(403);

    // Readiness does not depend on metrics (main.ts reports the listener; in process, the test does).
    t.server.readiness.listening();
    await eventually(async () => (await t!.req("GET", "/ready")).status === 200, 5000, "ready");
  });
});

describe("METRICS_ENABLED on", () => {
  for (const env of [{}, { METRICS_ENABLED: "true" }] as Record<string, string>[]) {
    it(`records and scrapes with ${JSON.stringify(env)}`, async () => {
      t = await startTestServer({ env: { ...env, METRICS_TOKEN } });
      expect(t.server.config.metrics.enabled).toBe(true);
      expect(t.server.metrics).not.toBeNull();
      const token = await t.token("acme");
      expect((await t.json("POST", "/llm/room", { token, body: {} })).status).toBe(201);
      const res = await t.req("GET", "/metrics", { headers: scrapeAuth });
      expect(res.status).toBe(200);
      const s = parseExposition(await res.text());
      expect(one(s, "roomservice_http_request_duration_seconds_count", { route: "/llm/room", method: "POST", status: "201" })).toBe(1);
    });
  }

  it("refuses any other value at start-up, naming the variable", () => {
    expect(() => loadConfig({ METRICS_ENABLED: "no" })).toThrow(ConfigError);
    expect(() => loadConfig({ METRICS_ENABLED: "no" })).toThrow(/METRICS_ENABLED/);
    expect(loadConfig({ METRICS_ENABLED: "false" }).metrics.enabled).toBe(false);
  });
});
