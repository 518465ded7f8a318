/**
 * Usage per actor and model, the tenant's usage by day, room budgets and
 * summaries, over the real app with the built-in local/echo model.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { eventually, startTestServer, type TestServer } from "../support/harness.js";

let t: TestServer;
let token: string;
/** The server's clock: real time unless a test moves it (the tenant's days are UTC days of this clock). */
let offsetMs = 0;
beforeEach(async () => {
  offsetMs = 0;
  t = await startTestServer({ server: { now: () => Date.now() + offsetMs } });
  // Long enough to outlive a test's move of the clock by a day.
  token = await t.token("acme", { sub: "alice", ttlS: 3 * 86_400 });
});
afterEach(() => t.close());

const ACTORS = [
  { agent_id: "planner", options: { reply: "plan: one two three" } },
  { agent_id: "coder", options: { reply: "code: four five six seven eight" } },
  { agent_id: "critic", options: { reply: "critique: nine" } },
];

async function rent(body: Record<string, unknown> = {}) {
  const res = await t.json("POST", "/llm/room", { token, body });
  expect(res.status).toBe(201);
  return res.body.data as any;
}
const room = async (id: string) => (await t.json("GET", `/llm/room/${id}`, { token })).body.data;
const events = async (id: string) => (await t.json("GET", `/llm/room/${id}/history?limit=1000`, { token })).body.data.events as any[];
const post = (id: string, body: Record<string, unknown>) => t.json("POST", `/llm/room/${id}/messages`, { token, body });
/** Posts and waits (long poll, no sleeps) until the message's work has ended. */
async function ask(id: string, body: Record<string, unknown>) {
  const res = await post(id, body);
  expect(res.status).toBe(202);
  const done = await t.json("GET", `/llm/room/${id}/messages/${res.body.data.id}?wait=30`, { token });
  expect(done.body.data.done).toBe(true);
  return done.body.data;
}

describe("usage per actor and model", () => {
  it("sums each actor's turns; by_actor and by_model add up to the totals, which equal the room's usage and its turn_end events", async () => {
    const r = await rent({ agents: ACTORS });
    await ask(r.id, { content: "make a plan", actor: "planner" });
    await ask(r.id, { content: "write it", actor: "coder" });
    await ask(r.id, { content: "and again", actor: "coder" });
    await ask(r.id, { content: "review", actor: "critic" });

    const res = await t.json("GET", `/llm/room/${r.id}/usage`, { token });
    expect(res.status).toBe(200);
    const u = res.body.data;
    expect(u.by_actor.map((a: any) => [a.agent_id, a.turns])).toEqual([
      ["planner", 1],
      ["coder", 2],
      ["critic", 1],
    ]);
    // Each actor's line is the sum of its own turns' agent:turn_end usage.
    const ends = (await events(r.id)).filter((e) => e.event_type === "agent:turn_end");
    expect(ends).toHaveLength(4);
    for (const a of u.by_actor) {
      const mine = ends.filter((e) => e.agent_key === a.agent_id).map((e) => e.payload.usage);
      expect(a.totalTokens).toBe(mine.reduce((n: number, x: any) => n + x.totalTokens, 0));
      expect(a.output).toBe(mine.reduce((n: number, x: any) => n + x.output, 0));
      expect(a.totalTokens).toBeGreaterThan(0);
    }
    // The coder answered longer, twice: it used more than the others.
    const coder = u.by_actor.find((a: any) => a.agent_id === "coder");
    expect(coder.output).toBeGreaterThan(u.by_actor.find((a: any) => a.agent_id === "critic").output);

    const sum = (key: "input" | "output" | "totalTokens", lines: any[]) => lines.reduce((n, a) => n + a[key], 0);
    for (const key of ["input", "output", "totalTokens"] as const) {
      expect(sum(key, u.by_actor)).toBe(u.totals[key]);
      expect(sum(key, u.by_model)).toBe(u.totals[key]);
    }
    const record = await room(r.id);
    expect({ input: u.totals.input, output: u.totals.output, totalTokens: u.totals.totalTokens, cost: u.totals.cost }).toEqual(record.usage);
    expect(u.totals).toMatchObject({ turns: 4, summaries: 0, cost: { total: 0 } });
    expect(u.by_model).toEqual([{ provider: "local", model: "echo", ...u.totals }]);
  });

  it("is 404 for an unknown room and another tenant's room", async () => {
    const r = await rent();
    const other = await t.token("globex");
    expect((await t.json("GET", `/llm/room/${r.id}/usage`, { token: other })).body.code).toBe("ROOM_NOT_FOUND");
    expect((await t.json("GET", "/llm/room/not-a-room/usage", { token })).status).toBe(404);
  });
});

describe("the tenant's usage by day and model", () => {
  it("reports each UTC day's usage per model, only in the range asked for", async () => {
    const today = new Date().toISOString().slice(0, 10);
    const r = await rent();
    await ask(r.id, { content: "first day" });
    offsetMs = 86_400_000;
    const tomorrow = new Date(Date.now() + offsetMs).toISOString().slice(0, 10);
    await ask(r.id, { content: "second day, a longer message" });
    await ask(r.id, { content: "and one more" });

    const u = await t.json("GET", `/llm/usage?from=${today}&to=${tomorrow}`, { token });
    expect(u.status).toBe(200);
    expect(u.body.data.days.map((d: any) => d.day)).toEqual([today, tomorrow]);
    for (const d of u.body.data.days) {
      expect(d.by_model).toHaveLength(1);
      expect(d.by_model[0]).toMatchObject({ provider: "local", model: "echo", totalTokens: d.totalTokens, cost: { total: 0 } });
    }
    const roomUsage = (await room(r.id)).usage;
    expect(u.body.data.totals.totalTokens).toBe(roomUsage.totalTokens);
    expect(u.body.data.days[0].totalTokens + u.body.data.days[1].totalTokens).toBe(roomUsage.totalTokens);

    const onlyToday = await t.json("GET", `/llm/usage?from=${today}&to=${today}`, { token });
    expect(onlyToday.body.data.days.map((d: any) => d.day)).toEqual([today]);
    // Defaults: the 30 days up to today (the server's clock says tomorrow now).
    const dflt = await t.json("GET", "/llm/usage", { token });
    expect(dflt.body.data.to).toBe(tomorrow);
    expect(dflt.body.data.totals).toEqual(u.body.data.totals);
    // Another tenant sees none of it.
    const other = await t.json("GET", `/llm/usage?from=${today}&to=${tomorrow}`, { token: await t.token("globex", { ttlS: 3 * 86_400 }) });
    expect(other.body.data).toMatchObject({ days: [], totals: { totalTokens: 0 } });
  });

  it("refuses bad dates with 400 VALIDATION_FAILED naming the parameter, with a range that works in the message", async () => {
    const bad = await t.json("GET", "/llm/usage?from=2026-02-30", { token });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe("VALIDATION_FAILED");
    expect(JSON.stringify(bad.body.details)).toContain("from");
    const shape = await t.json("GET", "/llm/usage?to=05/01/2026", { token });
    expect(shape.status).toBe(400);
    expect(JSON.stringify(shape.body.details)).toContain("to");
    const reversed = await t.json("GET", "/llm/usage?from=2026-03-02&to=2026-03-01", { token });
    expect(reversed.status).toBe(400);
    expect(reversed.body.message).toContain("?from=2026-03-01&to=2026-03-01");
    expect((await t.json("GET", "/llm/usage?from=2026-03-01&to=2026-03-01", { token })).status).toBe(200);
    const long = await t.json("GET", "/llm/usage?from=2024-01-01&to=2026-01-01", { token });
    expect(long.status).toBe(400);
    const hint = /\?from=(\d{4}-\d{2}-\d{2})&to=(\d{4}-\d{2}-\d{2})/.exec(long.body.message)!;
    expect((await t.json("GET", `/llm/usage${hint[0]}`, { token })).status).toBe(200);
  });
});

describe("room budgets", () => {
  it("a turn reaching max_tokens blocks the room: room:budget_blocked, 409 with a PATCH hint that works; raising it runs the queued message", async () => {
    const r = await rent({ agents: [{ agent_id: "slow", options: { token_delay_ms: 30, reply: "a b c d e f g h" } }], budget: { max_tokens: 5 } });
    expect(r.budget).toEqual({ max_tokens: 5, max_cost_usd: null });
    expect(r.budget_exceeded).toBeNull();
    const first = await post(r.id, { content: "go" });
    expect(first.body.data.status).toBe("running");
    // Queued behind the running turn; the turn that ends over budget leaves it waiting, not cancelled.
    const queued = await post(r.id, { content: "then this" });
    expect(queued.body.data.status).toBe("queued");
    await eventually(async () => (await room(r.id)).status === "idle", 5000, "room idle");

    const blocked = await room(r.id);
    expect(blocked.budget_exceeded).toBe("max_tokens");
    expect(blocked.queued_message_id).toBe(queued.body.data.id);
    const evs = await events(r.id);
    const end = evs.find((e) => e.event_type === "agent:turn_end");
    const block = evs.filter((e) => e.event_type === "room:budget_blocked");
    expect(block).toHaveLength(1);
    expect(block[0].seq).toBeGreaterThan(end.seq);
    expect(block[0].payload).toMatchObject({ limit: "max_tokens", max: 5, turn_id: end.payload.turn_id, used: { total_tokens: blocked.usage.totalTokens } });
    expect(block[0].turn_id).toBe(end.payload.turn_id);

    const refused = await post(r.id, { content: "more" });
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe("ROOM_BUDGET_EXCEEDED");
    expect(refused.body.details).toMatchObject({ limit: "max_tokens", max: 5 });
    const wake = await t.json("POST", `/llm/room/${r.id}/wake`, { token, body: {} });
    expect(wake.body.code).toBe("ROOM_BUDGET_EXCEEDED");
    // Nothing was stored by the refusals.
    expect((await t.json("GET", `/llm/room/${r.id}/history`, { token })).body.data.messages).toHaveLength(3);

    // The hint, copy-pasted: PATCH /llm/room/<id> with the body it gives.
    const hint = /PATCH (\/llm\/room\/[0-9a-f-]+) and the body (\{.*?\}\}) /.exec(refused.body.message)!;
    expect(hint[1]).toBe(`/llm/room/${r.id}`);
    const patched = await t.json("PATCH", hint[1]!, { token, body: JSON.parse(hint[2]!) });
    expect(patched.status).toBe(200);
    expect(patched.body.data.budget_exceeded).toBeNull();
    // The queued message began its turn in the PATCH's transaction.
    expect(patched.body.data.status).toBe("active");
    const done = await t.json("GET", `/llm/room/${r.id}/messages/${queued.body.data.id}?wait=30`, { token });
    expect(done.body.data).toMatchObject({ done: true, output: { content: "a b c d e f g h" } });
    expect((await post(r.id, { content: "and now" })).status).toBe(202);
  });

  it("a message queued when the budget ran out is cancelled by a release, as any queued message", async () => {
    const r = await rent({ agents: [{ agent_id: "slow", options: { token_delay_ms: 30, reply: "a b c d" } }], budget: { max_tokens: 5 } });
    await post(r.id, { content: "go" });
    const queued = await post(r.id, { content: "then this" });
    await eventually(async () => (await room(r.id)).status === "idle", 5000, "room idle");
    expect((await room(r.id)).queued_message_id).toBe(queued.body.data.id);
    await t.json("POST", `/llm/room/${r.id}/release`, { token, body: {} });
    const msg = await t.json("GET", `/llm/room/${r.id}/messages/${queued.body.data.id}`, { token });
    expect(msg.body.data).toMatchObject({ done: true, message: { status: "cancelled" }, turn: null });
  });

  it("lowering the budget below what was used blocks at once (room:budget_blocked without a turn); removing it unblocks", async () => {
    const r = await rent();
    await ask(r.id, { content: "hello there" });
    const used = (await room(r.id)).usage.totalTokens;
    const low = await t.json("PATCH", `/llm/room/${r.id}`, { token, body: { budget: { max_tokens: used } } });
    expect(low.body.data).toMatchObject({ budget: { max_tokens: used, max_cost_usd: null }, budget_exceeded: "max_tokens" });
    const block = (await events(r.id)).filter((e) => e.event_type === "room:budget_blocked");
    expect(block).toHaveLength(1);
    expect(block[0].payload).toMatchObject({ limit: "max_tokens", max: used, turn_id: null });
    expect((await post(r.id, { content: "x" })).body.code).toBe("ROOM_BUDGET_EXCEEDED");
    // A note starts no turn: it is still stored.
    expect((await post(r.id, { kind: "note", content: "remember this" })).status).toBe(201);
    const off = await t.json("PATCH", `/llm/room/${r.id}`, { token, body: { budget: { max_tokens: null } } });
    expect(off.body.data).toMatchObject({ budget: null, budget_exceeded: null });
    await ask(r.id, { content: "works again" });
  });

  it("validates the budget: positive numbers, known fields", async () => {
    for (const budget of [{ max_tokens: 0 }, { max_tokens: 1.5 }, { max_cost_usd: -1 }, { tokens: 5 }]) {
      const res = await t.json("POST", "/llm/room", { token, body: { budget } });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe("VALIDATION_FAILED");
    }
  });
});

describe("summaries", () => {
  it("POST /summary writes a deterministic digest on local/echo, shown on GET and in the list, with room:summary_updated", async () => {
    const r = await rent({ agents: ACTORS.slice(0, 2), metadata: { name: "sum" } });
    expect(r.summary_text).toBeNull();
    await ask(r.id, { content: "make a plan", actor: "planner" });
    await ask(r.id, { content: "write it", actor: "coder" });

    const res = await t.json("POST", `/llm/room/${r.id}/summary`, { token, body: {} });
    expect(res.status).toBe(200);
    const text = res.body.data.summary_text as string;
    expect(text).toBe(
      ["4 messages (seq 1–4): 2 from people, 2 from agents (planner ×1, coder ×1).", "- alice: make a plan", "- planner: plan: one two three", "- alice: write it", "- coder: code: four five six seven eight"].join("\n"),
    );
    expect(res.body.data.summary_updated_at).not.toBeNull();
    expect((await room(r.id)).summary_text).toBe(text);
    const list = await t.json("GET", "/llm/room?name=sum", { token });
    expect(list.body.data[0].summary_text).toBe(text);
    const ev = (await events(r.id)).filter((e) => e.event_type === "room:summary_updated");
    expect(ev).toHaveLength(1);
    expect(ev[0].payload).toMatchObject({ trigger: "request", method: "digest", agent_id: "planner", provider: "local", model: "echo", through_seq: 4, messages: 4, chars: text.length });
    // Deterministic: the same transcript gives the same text; the digest calls no model and costs nothing.
    expect((await t.json("POST", `/llm/room/${r.id}/summary`, { token, body: {} })).body.data.summary_text).toBe(text);
    expect((await t.json("GET", `/llm/room/${r.id}/usage`, { token })).body.data.totals.summaries).toBe(0);
  });

  it("is bounded by max_chars, keeping the newest messages", async () => {
    const r = await rent({ agents: [{ agent_id: "a", options: { reply: "x".repeat(300) } }] });
    for (let i = 0; i < 6; i++) await ask(r.id, { content: `question ${i} ${"y".repeat(200)}` });
    const res = await t.json("POST", `/llm/room/${r.id}/summary`, { token, body: { max_chars: 600 } });
    const text = res.body.data.summary_text as string;
    expect(text.length).toBeLessThanOrEqual(600);
    expect(text).toContain("earlier messages not shown");
    expect(text.split("\n").at(-1)).toMatch(/^- a: x+…$/);
    expect((await t.json("POST", `/llm/room/${r.id}/summary`, { token, body: { max_chars: 50 } })).status).toBe(400);
  });

  it("summary_every_turns rewrites it after every N ended turns, and not before", async () => {
    const r = await rent({ summary_every_turns: 2 });
    expect(r.summary_every_turns).toBe(2);
    await ask(r.id, { content: "one" });
    await ask(r.id, { content: "two" });
    await eventually(async () => (await room(r.id)).summary_text !== null, 5000, "summary after two turns");
    let evs = await events(r.id);
    let sums = evs.filter((e) => e.event_type === "room:summary_updated");
    expect(sums).toHaveLength(1);
    expect(sums[0].payload).toMatchObject({ trigger: "every_turns", through_seq: 4 });
    const ends = evs.filter((e) => e.event_type === "agent:turn_end");
    expect(sums[0].seq).toBeGreaterThan(ends[1].seq);
    // A third turn is not enough for another; the fourth is.
    await ask(r.id, { content: "three" });
    await ask(r.id, { content: "four" });
    await eventually(async () => (await events(r.id)).filter((e) => e.event_type === "room:summary_updated").length === 2, 5000, "second summary");
    evs = await events(r.id);
    sums = evs.filter((e) => e.event_type === "room:summary_updated");
    expect(sums[1].seq).toBeGreaterThan(evs.filter((e) => e.event_type === "agent:turn_end")[3].seq);
    expect((await room(r.id)).summary_text).toContain("8 messages");
    // PATCH turns it off.
    expect((await t.json("PATCH", `/llm/room/${r.id}`, { token, body: { summary_every_turns: null } })).body.data.summary_every_turns).toBeNull();
  });

  it("honours Idempotency-Key: a retry replays the first answer and writes nothing more", async () => {
    const r = await rent();
    await ask(r.id, { content: "one" });
    const headers = { "idempotency-key": "sum-1" };
    const first = await t.json("POST", `/llm/room/${r.id}/summary`, { token, body: {}, headers });
    await ask(r.id, { content: "two" });
    const again = await t.json("POST", `/llm/room/${r.id}/summary`, { token, body: {}, headers });
    expect(again.res.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body).toEqual(first.body);
    expect((await events(r.id)).filter((e) => e.event_type === "room:summary_updated")).toHaveLength(1);
  });

  it("a released room is 409 ROOM_RELEASED; a reader may not write a summary", async () => {
    const r = await rent();
    const reader = await t.token("acme", { access: "read" });
    expect((await t.json("POST", `/llm/room/${r.id}/summary`, { token: reader, body: {} })).status).toBe(403);
    await t.json("POST", `/llm/room/${r.id}/release`, { token, body: {} });
    const res = await t.json("POST", `/llm/room/${r.id}/summary`, { token, body: {} });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("ROOM_RELEASED");
  });
});
