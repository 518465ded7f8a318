/**
 * The lifecycle table of ROOMS.md, row by row, over the real app with the
 * built-in local/echo model.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { eventually, startTestServer, type TestServer } from "../support/harness.js";

let t: TestServer;
let token: string;
beforeEach(async () => {
  t = await startTestServer({ env: { LIFECYCLE_SWEEP_MS: "50", EVENT_COALESCE_MS: "20" } });
  token = await t.token("acme", { sub: "alice" });
});
afterEach(() => t.close());

const SLOW = { token_delay_ms: 40, reply: "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty" };

async function rent(body: Record<string, unknown> = {}) {
  const res = await t.json("POST", "/llm/room", { token, body });
  expect(res.status).toBe(201);
  return res.body.data.id as string;
}
const room = async (id: string) => (await t.json("GET", `/llm/room/${id}`, { token })).body.data;
const history = async (id: string) => (await t.json("GET", `/llm/room/${id}/history`, { token })).body.data;
const post = (id: string, body: Record<string, unknown>) => t.json("POST", `/llm/room/${id}/messages`, { token, body });
const types = async (id: string) => (await history(id)).events.map((e: any) => e.event_type);
const waitStatus = (id: string, status: string, ms = 5000) => eventually(async () => (await room(id)).status === status, ms, `room ${status}`);

function expectGapFree(events: Array<{ seq: number }>) {
  events.forEach((e, i) => expect(e.seq).toBe(i + 1));
}

describe("messages and turns", () => {
  it("rented + message starts a turn at once; the answer is an output message; the room goes idle", async () => {
    const id = await rent();
    const res = await post(id, { content: "hello there" });
    expect(res.status).toBe(202);
    expect(res.body.data).toMatchObject({ room_id: id, seq: 1, kind: "message", author_kind: "user", author_id: "alice", actor_key: "assistant", content: "hello there", status: "running" });
    expect(res.body.data.turn_id).toMatch(/^[0-9a-f-]{36}$/);
    await waitStatus(id, "idle");
    const h = await history(id);
    expect(h.messages).toHaveLength(2);
    const [trigger, output] = h.messages;
    expect(trigger.status).toBe("done");
    expect(output).toMatchObject({ kind: "output", author_kind: "agent", author_id: "assistant", actor_key: "assistant", status: "done", turn_id: trigger.turn_id, seq: 2 });
    expect(output.content).toContain("hello there");
    expectGapFree(h.events);
    const ts = h.events.map((e: any) => e.event_type);
    expect(ts.slice(0, 5)).toEqual(["room:rented", "message:created", "room:active", "agent:turn_start", "pi:message_start"]);
    expect(ts.slice(-4)).toEqual(["message:created", "agent:output", "agent:turn_end", "room:idle"]);
    expect(ts).toContain("pi:message_update");
    expect(ts).toContain("pi:message_end");
    const end = h.events.find((e: any) => e.event_type === "agent:turn_end");
    expect(end.payload).toMatchObject({ turn_id: trigger.turn_id, message_id: trigger.id, status: "completed" });
    expect(end.payload.usage.output).toBeGreaterThan(0);
    const idle = h.events.at(-1);
    expect(idle.payload).toEqual({ reason: "turn_completed" });
    const agentOutput = h.events.find((e: any) => e.event_type === "agent:output");
    expect(agentOutput.payload).toEqual({ message_id: output.id, text: output.content });
    const r = await room(id);
    expect(r.usage.output).toBe(end.payload.usage.output);
    expect(r.last_active_at).not.toBeNull();
    expect(r.active_turn).toBeNull();
  });

  it("partial.text in pi:message_update is the text so far and ends as the full answer", async () => {
    const id = await rent({ agents: [{ agent_id: "a", options: { reply: "alpha beta gamma delta", token_delay_ms: 5 } }] });
    await post(id, { content: "x" });
    await waitStatus(id, "idle");
    const updates = (await history(id)).events.filter((e: any) => e.event_type === "pi:message_update" && e.payload.update_type === "text_delta");
    expect(updates.length).toBeGreaterThan(0);
    let acc = "";
    for (const u of updates) {
      acc += u.payload.delta;
      expect(u.payload.partial).toEqual({ role: "assistant", text: acc });
    }
    expect(acc).toBe("alpha beta gamma delta");
  });

  it("answers 'Calculate 42 * 19' with the calculator tool", async () => {
    const id = await rent({ tool_policy: { allowed_tools: ["calculator"] } });
    await post(id, { content: "Calculate 42 * 19" });
    await waitStatus(id, "idle");
    const h = await history(id);
    expect(h.messages.at(-1).content).toContain("798");
    const start = h.events.find((e: any) => e.event_type === "pi:tool_execution_start");
    const end = h.events.find((e: any) => e.event_type === "pi:tool_execution_end");
    expect(start.payload).toMatchObject({ tool_name: "calculator" });
    expect(end.payload).toMatchObject({ tool_name: "calculator", is_error: false });
    expect(JSON.stringify(end.payload.result)).toContain("798");
  });

  it("active + message: queued, then runs after the current turn without going idle in between", async () => {
    const id = await rent({ agents: [{ agent_id: "a", options: SLOW }] });
    await post(id, { content: "first" });
    const second = await post(id, { content: "second" });
    expect(second.status).toBe(202);
    expect(second.body.data.status).toBe("queued");
    expect((await room(id)).queued_message_id).toBe(second.body.data.id);
    await waitStatus(id, "idle", 10_000);
    const h = await history(id);
    const ts = h.events.map((e: any) => e.event_type);
    const firstEnd = ts.indexOf("agent:turn_end");
    expect(ts.indexOf("agent:turn_start", firstEnd)).toBeGreaterThan(firstEnd);
    expect(ts.slice(0, ts.lastIndexOf("agent:turn_start"))).not.toContain("room:idle");
    expect(h.messages.filter((m: any) => m.kind === "output")).toHaveLength(2);
    expect(h.messages.find((m: any) => m.id === second.body.data.id).status).toBe("done");
  });

  it("active + message while one is queued: 409 ROOM_QUEUE_FULL with Retry-After, nothing stored", async () => {
    const id = await rent({ agents: [{ agent_id: "a", options: SLOW }] });
    await post(id, { content: "first" });
    await post(id, { content: "second" });
    const before = (await history(id)).messages.length;
    const third = await post(id, { content: "third" });
    expect(third.status).toBe(409);
    expect(third.body.code).toBe("ROOM_QUEUE_FULL");
    expect(Number(third.res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await history(id)).messages.length).toBe(before);
    await t.json("POST", `/llm/room/${id}/release`, { token, body: {} });
  });

  it("a note is stored without a turn (201)", async () => {
    const id = await rent();
    const res = await post(id, { kind: "note", content: "remember the milk" });
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({ kind: "note", status: "done", turn_id: null });
    expect((await room(id)).status).toBe("rented");
    expect(await types(id)).toEqual(["room:rented", "message:created"]);
  });

  it("actor and mentions pick who answers; an unknown actor is 400", async () => {
    const id = await rent({ agents: [{ agent_id: "first", options: { reply: "from first" } }, { agent_id: "second", options: { reply: "from second" } }] });
    await post(id, { content: "hi", actor: "second" });
    await waitStatus(id, "idle");
    await post(id, { content: "hi", mentions: ["first"] });
    await waitStatus(id, "idle");
    const outs = (await history(id)).messages.filter((m: any) => m.kind === "output");
    expect(outs.map((m: any) => [m.author_id, m.content])).toEqual([
      ["second", "from second"],
      ["first", "from first"],
    ]);
    const bad = await post(id, { content: "hi", actor: "nobody" });
    expect(bad.status).toBe(400);
  });

  it("the model sees the conversation so far", async () => {
    const id = await rent();
    await post(id, { content: "my name is Ada" });
    await waitStatus(id, "idle");
    await post(id, { content: "what is my name?" });
    await waitStatus(id, "idle");
    const end = (await history(id)).events.filter((e: any) => e.event_type === "agent:turn_end");
    expect(end[1].payload.usage.input).toBeGreaterThan(end[0].payload.usage.input);
  });
});

describe("wake policy", () => {
  it("manual: a message waits queued until wake; wake with nothing waiting makes the room idle", async () => {
    const id = await rent({ wake_policy: { mode: "manual" } });
    const m = await post(id, { content: "later" });
    expect(m.status).toBe(202);
    expect(m.body.data.status).toBe("queued");
    expect((await room(id)).status).toBe("rented");
    const woke = await t.json("POST", `/llm/room/${id}/wake`, { token, body: { reason: "go" } });
    expect(woke.status).toBe(200);
    expect(woke.body.data.status).toBe("active");
    await waitStatus(id, "idle");
    const again = await t.json("POST", `/llm/room/${id}/wake`, { token, body: {} });
    expect(again.body.data.status).toBe("idle");
    const ts = await types(id);
    expect(ts).toContain("room:woken");
    expect((await history(id)).events.at(-1).payload).toEqual({ reason: "woken" });
  });

  it("idle_timeout_s puts an idle room to sleep; a message wakes it", async () => {
    const id = await rent({ wake_policy: { idle_timeout_s: 1 } });
    await post(id, { content: "hi" });
    await waitStatus(id, "idle");
    await waitStatus(id, "sleeping", 5000);
    expect((await history(id)).events.at(-1)).toMatchObject({ event_type: "room:sleeping", payload: { reason: "idle_timeout" } });
    expect(t.server.workers.isRunning("acme", id)).toBe(false);
    const res = await post(id, { content: "again" });
    expect(res.body.data.status).toBe("running");
    await waitStatus(id, "idle");
  });

  it("release_after_s releases a room nobody used", async () => {
    const id = await rent({ wake_policy: { release_after_s: 1 } });
    await waitStatus(id, "released", 5000);
    const h = await history(id);
    expect(h.events.map((e: any) => e.event_type)).toEqual(["room:rented", "room:releasing", "room:released"]);
    expect(h.room.released_at).not.toBeNull();
  });
});

describe("interrupt", () => {
  it("aborts the running turn, which ends interrupted; the room goes idle", async () => {
    const id = await rent({ agents: [{ agent_id: "a", options: SLOW }] });
    const m = await post(id, { content: "go" });
    await eventually(async () => (await types(id)).includes("pi:message_update"), 5000, "streaming");
    const res = await t.json("POST", `/llm/room/${id}/interrupt`, { token, body: { reason: "enough" } });
    expect(res.status).toBe(200);
    expect(res.body.data.status).toBe("idle");
    expect(res.body.data.active_turn).toBeNull();
    const h = await history(id);
    const ends = h.events.filter((e: any) => e.event_type === "agent:turn_end");
    expect(ends).toHaveLength(1);
    expect(ends[0].payload.status).toBe("interrupted");
    expect(h.events.at(-1).payload).toEqual({ reason: "interrupted" });
    expect(h.messages.find((x: any) => x.id === m.body.data.id).status).toBe("cancelled");
  });

  it("the queued message runs next, unless drop_queued", async () => {
    const id = await rent({ agents: [{ agent_id: "a", options: SLOW }] });
    await post(id, { content: "one" });
    const q = await post(id, { content: "two" });
    await t.json("POST", `/llm/room/${id}/interrupt`, { token, body: {} });
    expect((await room(id)).active_turn?.message_id).toBe(q.body.data.id);
    const q2 = await post(id, { content: "three" });
    const res = await t.json("POST", `/llm/room/${id}/interrupt`, { token, body: { drop_queued: true } });
    expect(res.body.data.status).toBe("idle");
    expect(res.body.data.queued_message_id).toBeNull();
    const h = await history(id);
    expect(h.messages.find((x: any) => x.id === q2.body.data.id).status).toBe("cancelled");
  });

  it("with no running turn is 409 NO_ACTIVE_TURN", async () => {
    const id = await rent();
    const res = await t.json("POST", `/llm/room/${id}/interrupt`, { token, body: {} });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("NO_ACTIVE_TURN");
  });
});

describe("failure", () => {
  it("a provider error fails the turn and the room; messages are then 409 ROOM_FAILED; wake retries", async () => {
    const id = await rent({ agents: [{ agent_id: "a", options: { fail_after_tokens: 2, reply: "one two three four" } }] });
    const m = await post(id, { content: "boom" });
    await waitStatus(id, "failed");
    const r = await room(id);
    expect(r.last_error).toMatchObject({ code: "PROVIDER_ERROR", turn_id: m.body.data.turn_id });
    const h = await history(id);
    const err = h.events.find((e: any) => e.event_type === "error");
    expect(err.payload).toMatchObject({ code: "PROVIDER_ERROR", turn_id: m.body.data.turn_id });
    expect(h.events.filter((e: any) => e.event_type === "agent:turn_end").map((e: any) => e.payload.status)).toEqual(["failed"]);
    expect(h.messages[0].status).toBe("failed");

    const refused = await post(id, { content: "again" });
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe("ROOM_FAILED");

    await t.json("PATCH", `/llm/room/${id}`, { token, body: { agents: [{ agent_id: "a", options: { reply: "fixed" } }] } });
    const woke = await t.json("POST", `/llm/room/${id}/wake`, { token, body: {} });
    expect(woke.body.data.status).toBe("active");
    await waitStatus(id, "idle");
    const after = await history(id);
    expect(after.messages[0].status).toBe("done");
    expect(after.messages.at(-1).content).toBe("fixed");
    expect((await room(id)).last_error).toBeNull();
  });

  it("max_turn_s ends a turn failed with TURN_TIMEOUT", async () => {
    const id = await rent({ agents: [{ agent_id: "a", options: { token_delay_ms: 400, reply: "a b c d e f g h" } }], done_policy: { max_turn_s: 1 } });
    await post(id, { content: "slow" });
    await waitStatus(id, "failed", 8000);
    expect((await room(id)).last_error.code).toBe("TURN_TIMEOUT");
  });
});

describe("release", () => {
  it("aborts the in-flight turn, cancels the queued message, ends released; releasing again is 200", async () => {
    const id = await rent({ agents: [{ agent_id: "a", options: SLOW }] });
    await post(id, { content: "one" });
    const q = await post(id, { content: "two" });
    const res = await t.json("POST", `/llm/room/${id}/release`, { token, body: { reason: "done" } });
    expect(res.status).toBe(200);
    expect(res.body.data.status).toBe("released");
    expect(res.body.data.released_at).not.toBeNull();
    const h = await history(id);
    const ts = h.events.map((e: any) => e.event_type);
    expect(ts.at(-1)).toBe("room:released");
    expect(ts).toContain("room:releasing");
    expect(h.events.filter((e: any) => e.event_type === "agent:turn_end").map((e: any) => e.payload.status)).toEqual(["cancelled"]);
    expect(h.messages.find((x: any) => x.id === q.body.data.id).status).toBe("cancelled");
    expect(t.server.workers.isRunning("acme", id)).toBe(false);
    const again = await t.json("POST", `/llm/room/${id}/release`, { token, body: {} });
    expect(again.status).toBe(200);
    expect((await history(id)).events.length).toBe(h.events.length);
  });

  it("a released room refuses message, wake, PATCH and interrupt with 409 ROOM_RELEASED", async () => {
    const id = await rent();
    await t.json("POST", `/llm/room/${id}/release`, { token, body: {} });
    for (const [method, url, body] of [
      ["POST", `/llm/room/${id}/messages`, { content: "x" }],
      ["POST", `/llm/room/${id}/wake`, {}],
      ["PATCH", `/llm/room/${id}`, { purpose: "x" }],
      ["POST", `/llm/room/${id}/interrupt`, {}],
    ] as const) {
      const res = await t.json(method, url, { token, body });
      expect(res.status, url).toBe(409);
      expect(res.body.code).toBe("ROOM_RELEASED");
    }
  });
});
