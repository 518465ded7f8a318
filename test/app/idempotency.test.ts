import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { decodeAnswer } from "../../src/idempotency/idempotency.service.js";
import { eventually, startTestServer, type TestServer } from "../support/harness.js";

let t: TestServer;
let token: string;
beforeEach(async () => {
  t = await startTestServer();
  token = await t.token("acme", { sub: "alice" });
});
afterEach(() => t.close());

const withKey = (key: string, extra: Record<string, string> = {}) => ({ "idempotency-key": key, ...extra });

describe("Idempotency-Key", () => {
  it("replays the first response for the same request and does nothing twice", async () => {
    const first = await t.json("POST", "/llm/room", { token, body: { purpose: "once" }, headers: withKey("rent-1") });
    expect(first.status).toBe(201);
    expect(first.res.headers.get("idempotent-replayed")).toBeNull();
    const again = await t.json("POST", "/llm/room", { token, body: { purpose: "once" }, headers: withKey("rent-1") });
    expect(again.status).toBe(201);
    expect(again.res.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body).toEqual(first.body);
    expect((await t.json("GET", "/llm/room", { token })).body.data).toHaveLength(1);
  });

  it("compares JSON bodies by meaning, not by spacing or key order", async () => {
    await t.req("POST", "/llm/room", { token, rawBody: '{"purpose":"x","metadata":{"a":1,"b":2}}', headers: withKey("k", { "content-type": "application/json" }) });
    const res = await t.req("POST", "/llm/room", { token, rawBody: '{ "metadata": {"b":2, "a":1}, "purpose": "x" }', headers: withKey("k", { "content-type": "application/json" }) });
    expect(res.headers.get("idempotent-replayed")).toBe("true");
  });

  it("the same key with a different request is 422 IDEMPOTENCY_KEY_REUSED", async () => {
    await t.json("POST", "/llm/room", { token, body: { purpose: "a" }, headers: withKey("k2") });
    const res = await t.json("POST", "/llm/room", { token, body: { purpose: "b" }, headers: withKey("k2") });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe("IDEMPOTENCY_KEY_REUSED");
    expect((await t.json("GET", "/llm/room", { token })).body.data).toHaveLength(1);
  });

  it("a retried message never runs a second turn", async () => {
    const id = (await t.json("POST", "/llm/room", { token, body: {} })).body.data.id;
    const a = await t.json("POST", `/llm/room/${id}/messages`, { token, body: { content: "hi" }, headers: withKey("msg-1") });
    expect(a.status).toBe(202);
    await eventually(async () => (await t.json("GET", `/llm/room/${id}`, { token })).body.data.status === "idle");
    const b = await t.json("POST", `/llm/room/${id}/messages`, { token, body: { content: "hi" }, headers: withKey("msg-1") });
    expect(b.status).toBe(202);
    expect(b.res.headers.get("idempotent-replayed")).toBe("true");
    expect(b.body.data.id).toBe(a.body.data.id);
    const h = (await t.json("GET", `/llm/room/${id}/history`, { token })).body.data;
    expect(h.events.filter((e: any) => e.event_type === "agent:turn_start")).toHaveLength(1);
    expect(h.messages.filter((m: any) => m.author_kind === "user")).toHaveLength(1);
  });

  it("the key is checked before If-Match: a retried PATCH replays its 200", async () => {
    const id = (await t.json("POST", "/llm/room", { token, body: {} })).body.data.id;
    const first = await t.json("PATCH", `/llm/room/${id}`, { token, body: { purpose: "p" }, headers: withKey("patch-1", { "if-match": "1" }) });
    expect(first.status).toBe(200);
    const retry = await t.json("PATCH", `/llm/room/${id}`, { token, body: { purpose: "p" }, headers: withKey("patch-1", { "if-match": "1" }) });
    expect(retry.status).toBe(200);
    expect(retry.res.headers.get("idempotent-replayed")).toBe("true");
    expect((await t.json("GET", `/llm/room/${id}`, { token })).body.data.version).toBe(2);
  });

  it("the same key while the first request is still running is 409 IDEMPOTENCY_IN_PROGRESS", async () => {
    const id = (await t.json("POST", "/llm/room", { token, body: { agents: [{ agent_id: "a", options: { token_delay_ms: 100, reply: "a b c d e f g h i j" } }] } })).body.data.id;
    await t.json("POST", `/llm/room/${id}/messages`, { token, body: { content: "go" } });
    const [one, two] = await Promise.all([
      t.json("POST", `/llm/room/${id}/release`, { token, body: {}, headers: withKey("rel") }),
      t.json("POST", `/llm/room/${id}/release`, { token, body: {}, headers: withKey("rel") }),
    ]);
    expect(one.status).toBe(200);
    expect(two.status).toBe(409);
    expect(two.body.code).toBe("IDEMPOTENCY_IN_PROGRESS");
    const three = await t.json("POST", `/llm/room/${id}/release`, { token, body: {}, headers: withKey("rel") });
    expect(three.status).toBe(200);
    expect(three.res.headers.get("idempotent-replayed")).toBe("true");
    expect(three.body.data.status).toBe("released");
  });

  it("keys are per caller and per route", async () => {
    const bob = await t.token("acme", { sub: "bob" });
    await t.json("POST", "/llm/room", { token, body: { purpose: "a" }, headers: withKey("shared") });
    const other = await t.json("POST", "/llm/room", { token: bob, body: { purpose: "b" }, headers: withKey("shared") });
    expect(other.status).toBe(201);
    expect(other.res.headers.get("idempotent-replayed")).toBeNull();
  });

  it("refuses keys that are empty, too long or not visible ASCII", async () => {
    for (const key of ["a".repeat(256), "has space", "tab\there", "é"]) {
      const res = await t.req("POST", "/llm/room", { token, body: {}, headers: { "idempotency-key": key } });
      expect(res.status, JSON.stringify(key)).toBe(400);
    }
    expect((await t.json("GET", "/llm/room", { token })).body.data).toHaveLength(0);
  });

  it("a failed validation does not burn the key", async () => {
    const bad = await t.json("POST", "/llm/room", { token, body: { status: "x" }, headers: withKey("k3") });
    expect(bad.status).toBe(400);
    const good = await t.json("POST", "/llm/room", { token, body: { status: "x" }, headers: withKey("k3") });
    expect(good.status).toBe(400);
    const fixed = await t.json("POST", "/llm/room", { token, body: {}, headers: withKey("k4") });
    expect(fixed.status).toBe(201);
  });

  it("the key row is written in the same transaction as the effect, with a replayable provisional answer", async () => {
    const res = await t.json("POST", "/llm/room", { token, body: { purpose: "durable" }, headers: withKey("crash-1") });
    const db = t.server.tenants.get("acme").sqlite;
    const rows = db.prepare("SELECT status, body FROM idempotency_keys").all() as Array<{ status: number; body: string }>;
    expect(rows).toHaveLength(1);
    expect(rows[0]!.status).toBe(201);
    const stored = decodeAnswer(rows[0]!.body);
    expect(JSON.parse(stored.body)).toEqual(res.body);
    expect(stored.headers).toEqual({ location: `/llm/room/${res.body.data.id}`, etag: '"1"' });
  });
});

describe("expired Idempotency-Keys", () => {
  it("are purged from every open tenant by the periodic lifecycle sweep, with no keyed request needed", async () => {
    let offsetMs = 0;
    const s = await startTestServer({ env: { LIFECYCLE_SWEEP_MS: "600000", RATE_LIMIT_RPS: "0" }, server: { now: () => Date.now() + offsetMs } });
    try {
      const keys = (tenant: string) => (s.server.tenants.get(tenant).sqlite.prepare("SELECT count(*) AS n FROM idempotency_keys").get() as { n: number }).n;
      for (const tenant of ["acme", "globex"]) {
        const tok = await s.token(tenant);
        expect((await s.json("POST", "/llm/room", { token: tok, body: {}, headers: withKey("old") })).status).toBe(201);
        expect(keys(tenant)).toBe(1);
      }
      // A minute on, the keys are still within their 24 h: the sweep keeps them.
      offsetMs = 61_000;
      s.server.lifecycle.sweepAll();
      expect([keys("acme"), keys("globex")]).toEqual([1, 1]);
      // A day on, they have expired: the next sweep removes them, though no request carried a key since.
      // (The files are held open, so it is the periodic sweep that purges, not a reopen.)
      const holds = ["acme", "globex"].map((tenant) => s.server.tenants.hold(tenant));
      offsetMs = 24 * 3600_000 + 122_000;
      s.server.lifecycle.sweepAll();
      expect([keys("acme"), keys("globex")]).toEqual([0, 0]);
      expect(s.server.tenants.openTenants().sort()).toEqual(["acme", "globex"]);
      for (const release of holds) release();
    } finally {
      await s.close();
    }
  });
});
