/**
 * Several agents in one room: the roster routes, addressing (mentions,
 * mentioned_only), rounds, stopping one actor or all of them, and replay of
 * a multi-actor message. Real server in-process, built-in local/echo model.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { serve, type ServerType } from "@hono/node-server";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { eventually, startTestServer, type TestServer } from "../support/harness.js";
import { readEvents } from "../support/sse-client.js";

let t: TestServer;
let token: string;
beforeEach(async () => {
  t = await startTestServer({ env: { RATE_LIMIT_RPS: "0" } });
  token = await t.token("acme");
});
afterEach(() => t.close());

const SLOW = { token_delay_ms: 40, reply: Array.from({ length: 400 }, (_, i) => `w${i}`).join(" ") };

async function rent(body: unknown): Promise<{ id: string; version: number; actors: Array<{ agent_id: string; muted: boolean }> }> {
  const res = await t.json("POST", "/llm/room", { token, body });
  expect(res.status).toBe(201);
  return res.body.data;
}

async function post(id: string, body: Record<string, unknown>) {
  return t.json("POST", `/llm/room/${id}/messages`, { token, body });
}

/** Waits (long poll, no sleeps) until the message's work has ended. */
async function settled(id: string, messageId: string) {
  for (;;) {
    const r = await t.json("GET", `/llm/room/${id}/messages/${messageId}?wait=30`, { token });
    expect(r.status).toBe(200);
    if (r.body.data.done) return r.body.data;
  }
}

async function events(id: string): Promise<any[]> {
  return (await t.json("GET", `/llm/room/${id}/history?limit=1000`, { token })).body.data.events;
}

/** agent_key of each agent:turn_start for `messageId`, in order. */
async function answeredBy(id: string, messageId: string): Promise<string[]> {
  return (await events(id)).filter((e) => e.event_type === "agent:turn_start" && e.payload.message_id === messageId).map((e) => e.agent_key);
}

describe("roster routes", () => {
  it("add, mute, unmute and remove change who answers; history stays; each change is versioned and durable", async () => {
    const room = await rent({ agents: [{ agent_id: "planner" }] });
    const added = await t.json("POST", `/llm/room/${room.id}/actors`, { token, body: { agent_id: "coder", system_prompt: "You write code." }, headers: { "If-Match": "1" } });
    expect(added.status).toBe(201);
    expect(added.res.headers.get("etag")).toBe('"2"');
    expect(added.body.data.version).toBe(2);
    expect(added.body.data.actors.map((a: any) => a.agent_id)).toEqual(["planner", "coder"]);
    expect(added.body.data.actors[1]).toMatchObject({ provider: "local", model: "echo", muted: false, system_prompt: "You write code." });

    const both = await post(room.id, { content: "plan it", mentions: ["planner", "coder"] });
    expect(both.status).toBe(202);
    await settled(room.id, both.body.data.id);
    expect(await answeredBy(room.id, both.body.data.id)).toEqual(["planner", "coder"]);

    const muted = await t.json("PATCH", `/llm/room/${room.id}/actors/planner`, { token, body: { muted: true }, headers: { "If-Match": "2" } });
    expect(muted.status).toBe(200);
    expect(muted.body.data.version).toBe(3);
    expect(muted.body.data.actors[0].muted).toBe(true);
    // The default answerer is now the first unmuted actor; a mention of a muted actor starts no turn for it.
    const plain = await post(room.id, { content: "who answers" });
    await settled(room.id, plain.body.data.id);
    expect(await answeredBy(room.id, plain.body.data.id)).toEqual(["coder"]);
    const mentioned = await post(room.id, { content: "both again", mentions: ["planner", "coder"] });
    await settled(room.id, mentioned.body.data.id);
    expect(await answeredBy(room.id, mentioned.body.data.id)).toEqual(["coder"]);
    // Named with `actor`, a muted actor answers.
    const named = await post(room.id, { content: "you, planner", actor: "planner" });
    await settled(room.id, named.body.data.id);
    expect(await answeredBy(room.id, named.body.data.id)).toEqual(["planner"]);

    const unmuted = await t.json("PATCH", `/llm/room/${room.id}/actors/planner`, { token, body: { muted: false } });
    expect(unmuted.body.data.version).toBe(4);
    const again = await post(room.id, { content: "after unmute" });
    await settled(room.id, again.body.data.id);
    expect(await answeredBy(room.id, again.body.data.id)).toEqual(["planner"]);

    // A PATCH that changes nothing writes nothing.
    const same = await t.json("PATCH", `/llm/room/${room.id}/actors/planner`, { token, body: { muted: false } });
    expect(same.body.data.version).toBe(4);

    const removed = await t.json("DELETE", `/llm/room/${room.id}/actors/coder`, { token, headers: { "If-Match": "4" } });
    expect(removed.status).toBe(200);
    expect(removed.body.data.version).toBe(5);
    expect(removed.body.data.actors.map((a: any) => a.agent_id)).toEqual(["planner"]);
    const h = (await t.json("GET", `/llm/room/${room.id}/history`, { token })).body.data;
    // The removed actor's answers stay in the transcript.
    expect(h.messages.filter((m: any) => m.kind === "output" && m.author_id === "coder")).toHaveLength(3);
    const roster = h.events.filter((e: any) => e.event_type.startsWith("room:actor_"));
    expect(roster.map((e: any) => [e.event_type, e.payload.version])).toEqual([
      ["room:actor_added", 2],
      ["room:actor_updated", 3],
      ["room:actor_updated", 4],
      ["room:actor_removed", 5],
    ]);
    expect(roster[1].payload).toMatchObject({ agent_id: "planner", changes: ["muted"] });
    const mentionGone = await post(room.id, { content: "x", mentions: ["coder"] });
    expect(mentionGone.status).toBe(400);
  });

  it("refuses what would break the roster: duplicates, unknown actors, the last actor, stale versions, released rooms", async () => {
    const room = await rent({ agents: [{ agent_id: "a" }] });
    const dup = await t.json("POST", `/llm/room/${room.id}/actors`, { token, body: { agent_id: "a" } });
    expect(dup.status).toBe(409);
    expect(dup.body.code).toBe("ACTOR_EXISTS");
    expect((await t.json("PATCH", `/llm/room/${room.id}/actors/zz`, { token, body: { muted: true } })).body.code).toBe("ACTOR_NOT_FOUND");
    const last = await t.json("DELETE", `/llm/room/${room.id}/actors/a`, { token });
    expect(last.status).toBe(409);
    expect(last.body.code).toBe("LAST_ACTOR");
    const unknownModel = await t.json("POST", `/llm/room/${room.id}/actors`, { token, body: { agent_id: "b", provider: "nope", model: "x" } });
    expect(unknownModel.status).toBe(400);
    expect(unknownModel.body.code).toBe("UNKNOWN_MODEL");
    const stale = await t.json("POST", `/llm/room/${room.id}/actors`, { token, body: { agent_id: "b" }, headers: { "If-Match": "7" } });
    expect(stale.status).toBe(409);
    expect(stale.body.code).toBe("VERSION_CONFLICT");
    expect((await t.json("GET", `/llm/room/${room.id}`, { token })).body.data.version).toBe(1);

    await t.json("POST", `/llm/room/${room.id}/release`, { token, body: {} });
    for (const [method, url, body] of [
      ["POST", `/llm/room/${room.id}/actors`, { agent_id: "b" }],
      ["PATCH", `/llm/room/${room.id}/actors/a`, { muted: true }],
      ["DELETE", `/llm/room/${room.id}/actors/a`, undefined],
      ["POST", `/llm/room/${room.id}/context`, { name: "n", content: "c" }],
    ] as const) {
      const res = await t.json(method, url, { token, ...(body ? { body } : {}) });
      expect(res.status, `${method} ${url}`).toBe(409);
      expect(res.body.code).toBe("ROOM_RELEASED");
    }
  });

  it("honours Idempotency-Key: a retried add or remove replays its answer and changes nothing twice", async () => {
    const room = await rent({ agents: [{ agent_id: "a" }] });
    const add = () => t.json("POST", `/llm/room/${room.id}/actors`, { token, body: { agent_id: "b" }, headers: { "Idempotency-Key": "add-b-1" } });
    const first = await add();
    const retry = await add();
    expect(first.status).toBe(201);
    expect(retry.status).toBe(201);
    expect(retry.res.headers.get("idempotent-replayed")).toBe("true");
    expect(retry.body).toEqual(first.body);
    const del = () => t.json("DELETE", `/llm/room/${room.id}/actors/b`, { token, headers: { "Idempotency-Key": "del-b-1" } });
    const gone = await del();
    const gone2 = await del();
    expect(gone.status).toBe(200);
    expect(gone2.status).toBe(200);
    expect(gone2.res.headers.get("idempotent-replayed")).toBe("true");
    expect((await t.json("GET", `/llm/room/${room.id}`, { token })).body.data.version).toBe(3);
    expect((await events(room.id)).filter((e) => e.event_type.startsWith("room:actor_"))).toHaveLength(2);
  });

  it("50 concurrent adds with the same If-Match: exactly one wins, the rest are 409 VERSION_CONFLICT", async () => {
    const room = await rent({ agents: [{ agent_id: "a" }] });
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => t.json("POST", `/llm/room/${room.id}/actors`, { token, body: { agent_id: `racer-${i}` }, headers: { "If-Match": "1" } })),
    );
    const won = results.filter((r) => r.status === 201);
    expect(won).toHaveLength(1);
    expect(results.filter((r) => r.status === 409 && r.body.code === "VERSION_CONFLICT")).toHaveLength(49);
    const now = (await t.json("GET", `/llm/room/${room.id}`, { token })).body.data;
    expect(now.version).toBe(2);
    expect(now.actors.map((a: any) => a.agent_id)).toEqual(["a", won[0]!.body.data.actors[1].agent_id]);
    expect((await events(room.id)).filter((e) => e.event_type === "room:actor_added")).toHaveLength(1);
  });
});

describe("addressing and rounds", () => {
  it("mentioned_only: no mention is stored as a note without a turn; mentions answer in mention order", async () => {
    const room = await rent({ addressing: "mentioned_only", agents: [{ agent_id: "a" }, { agent_id: "b" }, { agent_id: "c" }] });
    expect((await t.json("GET", `/llm/room/${room.id}`, { token })).body.data.addressing).toBe("mentioned_only");
    const note = await post(room.id, { content: "just saying" });
    expect(note.status).toBe(201);
    expect(note.body.data).toMatchObject({ kind: "note", status: "done", turn_id: null });
    expect((await events(room.id)).some((e) => e.event_type === "agent:turn_start")).toBe(false);

    const m = await post(room.id, { content: "c then a", mentions: ["c", "a"] });
    expect(m.status).toBe(202);
    const result = await settled(room.id, m.body.data.id);
    expect(result.message.status).toBe("done");
    expect(await answeredBy(room.id, m.body.data.id)).toEqual(["c", "a"]);
    const ev = await events(room.id);
    expect(ev.filter((e) => e.event_type === "message:completed")).toEqual([expect.objectContaining({ payload: { message_id: m.body.data.id, turns: 2, rounds: 0 } })]);

    // PATCH addressing back: a message without mentions has the first unmuted actor answer again.
    const patched = await t.json("PATCH", `/llm/room/${room.id}`, { token, body: { addressing: "first_unmuted" } });
    expect(patched.body.data.addressing).toBe("first_unmuted");
    const plain = await post(room.id, { content: "anyone" });
    await settled(room.id, plain.body.data.id);
    expect(await answeredBy(room.id, plain.body.data.id)).toEqual(["a"]);
  });

  it("rounds: actors × (rounds + 1) turns, each its own turn_id and one turn end, then one message:completed; each actor sees the others", async () => {
    // Paced (30 ms a token, about 1 s in all) so the exchange is surely still running when the next message arrives.
    const paced = { token_delay_ms: 30 };
    const room = await rent({ agents: [{ agent_id: "a", options: paced }, { agent_id: "b", options: paced }, { agent_id: "c", options: paced }] });
    const m = await post(room.id, { content: "design a cache", mentions: ["a", "b", "c"], rounds: 2 });
    expect(m.status).toBe(202);
    // The one-queued-message rule holds across the whole sequence.
    const queued = await post(room.id, { content: "next" });
    expect(queued.status).toBe(202);
    expect(queued.body.data.status).toBe("queued");
    const full = await post(room.id, { content: "one too many" });
    expect(full.status).toBe(409);
    expect(full.body.code).toBe("ROOM_QUEUE_FULL");

    await settled(room.id, m.body.data.id);
    await settled(room.id, queued.body.data.id);
    const ev = await events(room.id);
    const mine = ev.filter((e) => e.payload.message_id === m.body.data.id || e.payload.trigger_message_id === m.body.data.id);
    const starts = mine.filter((e) => e.event_type === "agent:turn_start");
    const ends = mine.filter((e) => e.event_type === "agent:turn_end");
    expect(starts.map((e) => e.agent_key)).toEqual(["a", "b", "c", "a", "b", "c", "a", "b", "c"]);
    expect(new Set(starts.map((e) => e.turn_id)).size).toBe(9);
    expect(ends.map((e) => e.turn_id)).toEqual(starts.map((e) => e.turn_id));
    expect(ends.every((e) => e.payload.status === "completed")).toBe(true);
    const completed = ev.filter((e) => e.event_type === "message:completed");
    expect(completed).toHaveLength(1);
    expect(completed[0].payload).toEqual({ message_id: m.body.data.id, turns: 9, rounds: 2 });
    // message:completed comes right after the last turn's end, before the queued message's turn.
    const lastEnd = ends.at(-1)!.seq;
    expect(completed[0].seq).toBeGreaterThan(lastEnd);
    const queuedStart = ev.find((e) => e.event_type === "agent:turn_start" && e.payload.message_id === queued.body.data.id);
    expect(queuedStart.seq).toBeGreaterThan(completed[0].seq);

    // Each answer is attributed to its actor; b's first turn answered a's output, attributed to a.
    const outputs = (await t.json("GET", `/llm/room/${room.id}/history`, { token })).body.data.messages.filter((x: any) => x.kind === "output");
    expect(outputs.slice(0, 9).map((x: any) => x.author_id)).toEqual(["a", "b", "c", "a", "b", "c", "a", "b", "c"]);
    expect(outputs[0].content).toBe("Echo: design a cache");
    expect(outputs[1].content).toBe("Echo: [a]: Echo: design a cache");
    expect(outputs[2].content).toBe("Echo: [b]: Echo: [a]: Echo: design a cache");
  });

  it("interrupt with scope all stops the running turn, drops the message's remaining turns and cancels the queued message", async () => {
    const room = await rent({ agents: [{ agent_id: "a", options: SLOW }, { agent_id: "b", options: SLOW }] });
    const m = await post(room.id, { content: "go", mentions: ["a", "b"], rounds: 1 });
    const queued = await post(room.id, { content: "behind it" });
    expect(queued.body.data.status).toBe("queued");
    await eventually(async () => (await events(room.id)).some((e) => e.event_type === "pi:message_update"), 10_000, "a to stream");
    const stopped = await t.json("POST", `/llm/room/${room.id}/interrupt`, { token, body: { scope: "all" } });
    expect(stopped.status).toBe(200);
    expect(stopped.body.data).toMatchObject({ status: "idle", queued_message_id: null, active_turn: null });
    const ev = await events(room.id);
    expect(ev.filter((e) => e.event_type === "agent:turn_start").map((e) => e.agent_key)).toEqual(["a"]);
    expect(ev.filter((e) => e.event_type === "agent:turn_end").map((e) => e.payload.status)).toEqual(["interrupted"]);
    const cancelled = ev.filter((e) => e.event_type === "message:cancelled");
    expect(cancelled.map((e) => [e.payload.message_id, e.payload.reason])).toEqual([
      [queued.body.data.id, "interrupted"],
      [m.body.data.id, "interrupted"],
    ]);
    expect(ev.some((e) => e.event_type === "message:completed")).toBe(false);
    expect((await settled(room.id, queued.body.data.id)).message.status).toBe("cancelled");
    expect((await settled(room.id, m.body.data.id)).message.status).toBe("cancelled");
  });

  it("muting the running actor stops its turn (reason muted) and skips its pending turns; the next actor still runs", async () => {
    const room = await rent({ agents: [{ agent_id: "a", options: SLOW }, { agent_id: "b" }] });
    const m = await post(room.id, { content: "go", mentions: ["a", "b"], rounds: 1 });
    await eventually(async () => (await events(room.id)).some((e) => e.event_type === "pi:message_update"), 10_000, "a to stream");
    const muted = await t.json("PATCH", `/llm/room/${room.id}/actors/a`, { token, body: { muted: true } });
    expect(muted.status).toBe(200);
    await settled(room.id, m.body.data.id);
    const ev = await events(room.id);
    const ends = ev.filter((e) => e.event_type === "agent:turn_end");
    expect(ends.map((e) => [e.agent_key, e.payload.status, e.payload.reason])).toEqual([
      ["a", "interrupted", "muted"],
      ["b", "completed", undefined],
      ["b", "completed", undefined],
    ]);
    expect(ev.filter((e) => e.event_type === "message:completed")).toHaveLength(1);
  });

  it("an actor interrupt stops that actor and drops its pending turns; the others answer", async () => {
    const room = await rent({ agents: [{ agent_id: "a", options: SLOW }, { agent_id: "b" }] });
    const m = await post(room.id, { content: "go", mentions: ["a", "b"], rounds: 1 });
    await eventually(async () => (await events(room.id)).some((e) => e.event_type === "pi:message_update"), 10_000, "a to stream");
    const stopped = await t.json("POST", `/llm/room/${room.id}/actors/a/interrupt`, { token, body: {} });
    expect(stopped.status).toBe(200);
    await settled(room.id, m.body.data.id);
    const ends = (await events(room.id)).filter((e) => e.event_type === "agent:turn_end");
    expect(ends.map((e) => [e.agent_key, e.payload.status, e.payload.reason])).toEqual([
      ["a", "interrupted", "actor_interrupt"],
      ["b", "completed", undefined],
      ["b", "completed", undefined],
    ]);
    const again = await t.json("POST", `/llm/room/${room.id}/actors/a/interrupt`, { token, body: {} });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe("NO_ACTIVE_TURN");
  });

  it("removing the running actor stops its turn (reason removed); the next actor runs and the removed actor's history stays", async () => {
    const room = await rent({ agents: [{ agent_id: "a", options: SLOW }, { agent_id: "b" }] });
    const m = await post(room.id, { content: "go", mentions: ["a", "b"] });
    await eventually(async () => (await events(room.id)).some((e) => e.event_type === "pi:message_update"), 10_000, "a to stream");
    expect((await t.json("DELETE", `/llm/room/${room.id}/actors/a`, { token })).status).toBe(200);
    await settled(room.id, m.body.data.id);
    const ev = await events(room.id);
    expect(ev.filter((e) => e.event_type === "agent:turn_end").map((e) => [e.agent_key, e.payload.status, e.payload.reason])).toEqual([
      ["a", "interrupted", "removed"],
      ["b", "completed", undefined],
    ]);
    const messages = (await t.json("GET", `/llm/room/${room.id}/history`, { token })).body.data.messages;
    expect(messages.some((x: any) => x.kind === "partial" && x.author_id === "a")).toBe(true);
  });
});

describe("an exchange that cannot go on", () => {
  it("a failed turn cancels the exchange's remaining turns once; a wake does not run them", async () => {
    const room = await rent({ agents: [{ agent_id: "a" }, { agent_id: "flaky", options: { fail_after_tokens: 1 } }] });
    const m = await post(room.id, { content: "hello there friend", mentions: ["a", "flaky"], rounds: 1 });
    const result = await settled(room.id, m.body.data.id);
    expect(result.message.status).toBe("failed");
    let ev = await events(room.id);
    expect(ev.filter((e) => e.event_type === "agent:turn_start").map((e) => e.agent_key)).toEqual(["a", "flaky"]);
    expect(ev.filter((e) => e.event_type === "message:cancelled").map((e) => e.payload)).toEqual([{ message_id: m.body.data.id, reason: "PROVIDER_ERROR", turns_run: 2 }]);
    const woke = await t.json("POST", `/llm/room/${room.id}/wake`, { token, body: {} });
    expect(woke.body.data.status).toBe("idle");
    ev = await events(room.id);
    expect(ev.filter((e) => e.event_type === "agent:turn_start")).toHaveLength(2);
    expect(ev.filter((e) => e.event_type.startsWith("message:c") && e.event_type !== "message:created")).toHaveLength(1);
  });

  it("a queued exchange whose addressed actors were all muted meanwhile is cancelled (no_actor), and the room rests", async () => {
    const room = await rent({ agents: [{ agent_id: "a", options: SLOW }, { agent_id: "b" }, { agent_id: "c" }] });
    const first = await post(room.id, { content: "first", actor: "a" });
    const queued = await post(room.id, { content: "b and c", mentions: ["b", "c"] });
    expect(queued.body.data.status).toBe("queued");
    await t.json("PATCH", `/llm/room/${room.id}/actors/b`, { token, body: { muted: true } });
    await t.json("PATCH", `/llm/room/${room.id}/actors/c`, { token, body: { muted: true } });
    await t.json("POST", `/llm/room/${room.id}/interrupt`, { token, body: {} });
    expect((await settled(room.id, first.body.data.id)).message.status).toBe("cancelled");
    expect((await settled(room.id, queued.body.data.id)).message.status).toBe("cancelled");
    const ev = await events(room.id);
    expect(ev.filter((e) => e.event_type === "message:cancelled").map((e) => [e.payload.message_id, e.payload.reason])).toEqual([[queued.body.data.id, "no_actor"]]);
    expect((await t.json("GET", `/llm/room/${room.id}`, { token })).body.data).toMatchObject({ status: "idle", queued_message_id: null });
  });

  it("a turn that reaches the room's budget ends the exchange: its remaining turns are cancelled (ROOM_BUDGET_EXCEEDED)", async () => {
    const room = await rent({ agents: [{ agent_id: "a" }, { agent_id: "b" }], budget: { max_tokens: 1 } });
    const m = await post(room.id, { content: "spend it", mentions: ["a", "b"], rounds: 1 });
    expect(m.status).toBe(202);
    expect((await settled(room.id, m.body.data.id)).message.status).toBe("cancelled");
    const ev = await events(room.id);
    expect(ev.filter((e) => e.event_type === "agent:turn_start").map((e) => e.agent_key)).toEqual(["a"]);
    expect(ev.filter((e) => e.event_type === "message:cancelled").map((e) => e.payload)).toEqual([{ message_id: m.body.data.id, reason: "ROOM_BUDGET_EXCEEDED", turns_run: 1 }]);
    expect(ev.filter((e) => e.event_type === "room:budget_blocked")).toHaveLength(1);
    expect((await t.json("GET", `/llm/room/${room.id}`, { token })).body.data.status).toBe("idle");
  });

  it("a graceful shutdown mid-exchange interrupts the running turn and cancels the rest (stopped); a restart runs none of it", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "roomservice-multi-stop-"));
    try {
      const first = await startTestServer({ dataDir });
      const tok = await first.token("acme");
      const id = (await first.json("POST", "/llm/room", { token: tok, body: { agents: [{ agent_id: "a", options: SLOW }, { agent_id: "b" }] } })).body.data.id as string;
      const m = (await first.json("POST", `/llm/room/${id}/messages`, { token: tok, body: { content: "go", mentions: ["a", "b"] } })).body.data.id as string;
      await eventually(async () => (await first.json("GET", `/llm/room/${id}/history`, { token: tok })).body.data.events.some((e: any) => e.event_type === "pi:message_update"), 10_000, "a to stream");
      await first.server.shutdown(0);
      const second = await startTestServer({ dataDir });
      try {
        const h = (await second.json("GET", `/llm/room/${id}/history`, { token: tok })).body.data;
        expect(h.events.filter((e: any) => e.event_type === "agent:turn_end").map((e: any) => [e.agent_key, e.payload.status])).toEqual([["a", "interrupted"]]);
        expect(h.events.filter((e: any) => e.event_type === "message:cancelled").map((e: any) => e.payload)).toEqual([{ message_id: m, reason: "stopped", turns_run: 1 }]);
        expect(h.messages.find((x: any) => x.id === m).status).toBe("cancelled");
        expect(h.events.some((e: any) => e.event_type === "agent:turn_start" && e.agent_key === "b")).toBe(false);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("bounds: rounds 0..6, shared context per text and per room", async () => {
    const room = await rent({ agents: [{ agent_id: "a" }] });
    const tooMany = await post(room.id, { content: "x", rounds: 7 });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.details[0].path).toContain("rounds");
    for (let i = 0; i < 8; i++) expect((await t.json("POST", `/llm/room/${room.id}/context`, { token, body: { name: `n${i}`, content: "c" } })).status).toBe(201);
    const ninth = await t.json("POST", `/llm/room/${room.id}/context`, { token, body: { name: "n8", content: "c" } });
    expect(ninth.status).toBe(409);
    expect(ninth.body.code).toBe("CONTEXT_FULL");
    const big = await t.json("POST", `/llm/room/${room.id}/context`, { token, body: { name: "big", content: "x".repeat(100_001) } });
    expect(big.status).toBe(400);
  });
});

describe("replay", () => {
  let http: ServerType;
  afterEach(() => new Promise<void>((r) => http.close(() => r())));

  it("a multi-actor, multi-round message replays exactly as it streamed live", async () => {
    const base = await new Promise<string>((resolve) => {
      http = serve({ fetch: t.server.app.fetch, hostname: "127.0.0.1", port: 0 }, (info) => resolve(`http://127.0.0.1:${info.port}`));
    });
    const room = await rent({ agents: [{ agent_id: "a" }, { agent_id: "b" }] });
    const res = await fetch(`${base}/llm/room/${room.id}/events?follow=true`, { headers: { authorization: `Bearer ${token}` } });
    const live: any[] = [];
    const done = readEvents(res.body!, (ev) => {
      live.push(ev);
      return ev.event_type !== "message:completed";
    });
    await eventually(() => live.length >= 1, 5000, "room:rented");
    await post(room.id, { content: "talk", mentions: ["a", "b"], rounds: 1 });
    await done;
    const replay = await fetch(`${base}/llm/room/${room.id}/events`, { headers: { authorization: `Bearer ${token}` } });
    const replayed: any[] = [];
    await readEvents(replay.body!, (ev) => void replayed.push(ev));
    expect(live.filter((e) => e.event_type === "agent:turn_end")).toHaveLength(4);
    expect(replayed.slice(0, live.length)).toEqual(live);
  });
});
