/** Every limit hit once, with its documented status, code and Retry-After. */
import { afterEach, describe, expect, it } from "vitest";
import { eventually, startTestServer, type TestServer } from "../support/harness.js";

let t: TestServer | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** A turn that runs until it is released (a minute per token): the quota tests need it still running, however slow the machine. */
const SLOW = { agents: [{ agent_id: "a", options: { token_delay_ms: 60_000, reply: "a b c d e f g h i j k l m n o p" } }] };

describe("limits", () => {
  it("message length over the limit is 400 and stores nothing", async () => {
    t = await startTestServer({ env: { MAX_MESSAGE_CHARS: "10" } });
    const token = await t.token("acme");
    const id = (await t.json("POST", "/llm/room", { token, body: {} })).body.data.id;
    const res = await t.json("POST", `/llm/room/${id}/messages`, { token, body: { content: "x".repeat(11) } });
    expect(res.status).toBe(400);
    expect(res.body.details[0].path).toBe("content");
    expect((await t.json("GET", `/llm/room/${id}/history`, { token })).body.data.messages).toHaveLength(0);
    const empty = await t.json("POST", `/llm/room/${id}/messages`, { token, body: { content: "" } });
    expect(empty.status).toBe(400);
  });

  it("rooms per tenant: 429 QUOTA_EXCEEDED with Retry-After; released rooms do not count", async () => {
    t = await startTestServer({ env: { MAX_ROOMS_PER_TENANT: "2" } });
    const token = await t.token("acme");
    const a = (await t.json("POST", "/llm/room", { token, body: {} })).body.data.id;
    await t.json("POST", "/llm/room", { token, body: {} });
    const third = await t.json("POST", "/llm/room", { token, body: {} });
    expect(third.status).toBe(429);
    expect(third.body.code).toBe("QUOTA_EXCEEDED");
    expect(Number(third.res.headers.get("retry-after"))).toBeGreaterThan(0);
    await t.json("POST", `/llm/room/${a}/release`, { token, body: {} });
    expect((await t.json("POST", "/llm/room", { token, body: {} })).status).toBe(201);
    const other = await t.token("globex");
    expect((await t.json("POST", "/llm/room", { token: other, body: {} })).status).toBe(201);
  });

  it("active turns per tenant: the next turn is 429 and its message is not stored", async () => {
    t = await startTestServer({ env: { MAX_ACTIVE_TURNS_PER_TENANT: "1" } });
    const token = await t.token("acme");
    const a = (await t.json("POST", "/llm/room", { token, body: SLOW })).body.data.id;
    const b = (await t.json("POST", "/llm/room", { token, body: SLOW })).body.data.id;
    expect((await t.json("POST", `/llm/room/${a}/messages`, { token, body: { content: "go" } })).status).toBe(202);
    const res = await t.json("POST", `/llm/room/${b}/messages`, { token, body: { content: "go" } });
    expect(res.status).toBe(429);
    expect(res.body.code).toBe("QUOTA_EXCEEDED");
    expect(res.res.headers.get("retry-after")).not.toBeNull();
    expect((await t.json("GET", `/llm/room/${b}/history`, { token })).body.data.messages).toHaveLength(0);
    const other = await t.token("globex");
    const c = (await t.json("POST", "/llm/room", { token: other, body: {} })).body.data.id;
    expect((await t.json("POST", `/llm/room/${c}/messages`, { token: other, body: { content: "go" } })).status).toBe(202);
    // Once the running turn is gone, the tenant may start one again.
    await t.json("POST", `/llm/room/${a}/release`, { token, body: {} });
    expect((await t.json("POST", `/llm/room/${b}/messages`, { token, body: { content: "go" } })).status).toBe(202);
    await t.json("POST", `/llm/room/${b}/release`, { token, body: {} });
  });

  it("active turns per server", async () => {
    t = await startTestServer({ env: { MAX_ACTIVE_TURNS: "1" } });
    const acme = await t.token("acme");
    const globex = await t.token("globex");
    const a = (await t.json("POST", "/llm/room", { token: acme, body: SLOW })).body.data.id;
    const b = (await t.json("POST", "/llm/room", { token: globex, body: SLOW })).body.data.id;
    expect((await t.json("POST", `/llm/room/${a}/messages`, { token: acme, body: { content: "go" } })).status).toBe(202);
    const res = await t.json("POST", `/llm/room/${b}/messages`, { token: globex, body: { content: "go" } });
    expect(res.status).toBe(429);
    expect(res.body.code).toBe("QUOTA_EXCEEDED");
    await t.json("POST", `/llm/room/${a}/release`, { token: acme, body: {} });
    expect((await t.json("POST", `/llm/room/${b}/messages`, { token: globex, body: { content: "go" } })).status).toBe(202);
    await t.json("POST", `/llm/room/${b}/release`, { token: globex, body: {} });
  });

  it("followers per room and per tenant: 429 QUOTA_EXCEEDED; closing one frees a place", async () => {
    t = await startTestServer({ env: { MAX_FOLLOWERS_PER_ROOM: "2", MAX_FOLLOWERS_PER_TENANT: "3" } });
    const token = await t.token("acme");
    const a = (await t.json("POST", "/llm/room", { token, body: {} })).body.data.id;
    const b = (await t.json("POST", "/llm/room", { token, body: {} })).body.data.id;
    const aborts: AbortController[] = [];
    const follow = async (id: string) => {
      const ac = new AbortController();
      aborts.push(ac);
      const res = await t!.server.app.request(`/llm/room/${id}/events?follow=true`, { headers: { authorization: `Bearer ${token}` }, signal: ac.signal });
      return res;
    };
    expect((await follow(a)).status).toBe(200);
    expect((await follow(a)).status).toBe(200);
    const third = await follow(a);
    expect(third.status).toBe(429);
    expect(((await third.json()) as { code: string }).code).toBe("QUOTA_EXCEEDED");
    expect((await follow(b)).status).toBe(200);
    expect((await follow(b)).status).toBe(429);
    aborts[0]!.abort();
    await eventually(() => t!.server.rooms.followerCount("acme", a) === 1, 2000, "follower released");
    expect((await follow(b)).status).toBe(200);
    for (const ac of aborts) ac.abort();
  });

  // The rate tests stop the server's clock: the bucket refills only when the test moves it, however slow the machine.
  it("per-tenant request rate: 429 RATE_LIMITED with Retry-After; another tenant is unaffected", async () => {
    const frozen = Date.now();
    let offsetMs = 0;
    t = await startTestServer({ env: { RATE_LIMIT_RPS: "5", RATE_LIMIT_BURST: "10" }, server: { now: () => frozen + offsetMs } });
    const flood = await t.token("flood");
    const calm = await t.token("calm");
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) statuses.push((await t.req("GET", "/llm/room", { token: flood })).status);
    // The burst, then nothing.
    expect(statuses).toEqual([...Array(10).fill(200), ...Array(30).fill(429)]);
    const limited = await t.json("GET", "/llm/room", { token: flood });
    expect(limited.status).toBe(429);
    expect(limited.body.code).toBe("RATE_LIMITED");
    expect(Number(limited.res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < 5; i++) expect((await t.req("GET", "/llm/room", { token: calm })).status).toBe(200);
    // A second later, 5 more requests (the rate) are let through.
    offsetMs = 1000;
    const next: number[] = [];
    for (let i = 0; i < 6; i++) next.push((await t.req("GET", "/llm/room", { token: flood })).status);
    expect(next).toEqual([200, 200, 200, 200, 200, 429]);
  });

  it("while one tenant floods concurrently, another tenant's requests still succeed", async () => {
    const frozen = Date.now();
    t = await startTestServer({ env: { RATE_LIMIT_RPS: "20", RATE_LIMIT_BURST: "20" }, server: { now: () => frozen } });
    const flood = await t.token("flood");
    const calm = await t.token("calm");
    const floodDone = Promise.all(Array.from({ length: 400 }, () => t!.req("GET", "/llm/room", { token: flood }).then((r) => r.status)));
    const calmStatuses = await Promise.all(Array.from({ length: 10 }, () => t!.req("GET", "/llm/room", { token: calm }).then((r) => r.status)));
    expect(calmStatuses.every((s) => s === 200)).toBe(true);
    const floodStatuses = await floodDone;
    expect(floodStatuses.filter((s) => s === 200)).toHaveLength(20);
    expect(floodStatuses.filter((s) => s === 429)).toHaveLength(380);
    expect(floodStatuses.some((s) => s >= 500)).toBe(false);
  });

  it("daily token budget: a turn that would overrun it is stopped mid-stream with a recorded reason, and new turns are refused", async () => {
    t = await startTestServer({ env: { TENANT_DAILY_TOKEN_BUDGET: "20" } });
    const token = await t.token("acme");
    const reply = Array.from({ length: 200 }, (_, i) => `word${i}`).join(" ");
    const id = (await t.json("POST", "/llm/room", { token, body: { agents: [{ agent_id: "a", options: { reply, token_delay_ms: 2 } }] } })).body.data.id;
    await t.json("POST", `/llm/room/${id}/messages`, { token, body: { content: "go" } });
    await eventually(async () => (await t!.json("GET", `/llm/room/${id}`, { token })).body.data.status === "failed", 10_000, "budget stop");
    const room = (await t.json("GET", `/llm/room/${id}`, { token })).body.data;
    expect(room.last_error.code).toBe("QUOTA_EXCEEDED");
    const h = (await t.json("GET", `/llm/room/${id}/history`, { token })).body.data;
    // The cut reply is kept, but as partial text, not as an answer.
    expect(h.messages.some((m: any) => m.kind === "output")).toBe(false);
    const out = h.messages.find((m: any) => m.kind === "partial");
    expect(out.metadata.turn_status).toBe("failed");
    expect(out.content.length).toBeLessThan(reply.length);
    expect(h.events.find((e: any) => e.event_type === "error").payload.code).toBe("QUOTA_EXCEEDED");
    const id2 = (await t.json("POST", "/llm/room", { token, body: {} })).body.data.id;
    const refused = await t.json("POST", `/llm/room/${id2}/messages`, { token, body: { content: "more" } });
    expect(refused.status).toBe(429);
    expect(refused.body.code).toBe("QUOTA_EXCEEDED");
  });
});

describe("operator global stop", () => {
  it("operator only; while on, no new turn starts (503), reads and interrupts work; survives restart", async () => {
    t = await startTestServer({ env: {} });
    const dataDir = t.dataDir;
    const root = await t.token("ops", { access: "root", operator: true });
    const token = await t.token("acme");
    expect((await t.json("POST", "/llm/operator/stop", { token, body: { active: true } })).status).toBe(403);
    expect((await t.json("POST", "/llm/operator/stop", { token: await t.token("acme", { access: "root" }), body: { active: true } })).status).toBe(403);
    const running = (await t.json("POST", "/llm/room", { token, body: SLOW })).body.data.id;
    await t.json("POST", `/llm/room/${running}/messages`, { token, body: { content: "go" } });

    const on = await t.json("POST", "/llm/operator/stop", { token: root, body: { active: true, reason: "incident" } });
    expect(on.status).toBe(200);
    expect(on.body.data).toMatchObject({ active: true, reason: "incident" });

    const id = (await t.json("POST", "/llm/room", { token, body: {} })).body.data.id;
    const refused = await t.json("POST", `/llm/room/${id}/messages`, { token, body: { content: "hi" } });
    expect(refused.status).toBe(503);
    expect(refused.body.code).toBe("GLOBAL_STOP_ACTIVE");
    expect(refused.res.headers.get("retry-after")).not.toBeNull();
    expect((await t.json("GET", `/llm/room/${id}`, { token })).status).toBe(200);
    const int = await t.json("POST", `/llm/room/${running}/interrupt`, { token, body: {} });
    expect(int.status).toBe(200);
    expect(int.body.data.status).toBe("idle");

    await t.server.shutdown(1000);
    t = await startTestServer({ dataDir });
    const root2 = await t.token("ops", { access: "root", operator: true });
    const token2 = await t.token("acme");
    expect((await t.json("GET", "/llm/operator/stop", { token: root2 })).body.data.active).toBe(true);
    expect((await t.json("POST", `/llm/room/${id}/messages`, { token: token2, body: { content: "hi" } })).status).toBe(503);
    await t.json("POST", "/llm/operator/stop", { token: root2, body: { active: false } });
    expect((await t.json("POST", `/llm/room/${id}/messages`, { token: token2, body: { content: "hi" } })).status).toBe(202);
  });
});
