/**
 * The console's pure parts, without a browser: the SSE parser it reads the
 * feeds with, the room state it folds events into (what the transcript and
 * the event log show), the factory board's dependency layout, and what a
 * pasted token is taken to allow.
 */
import { describe, expect, it } from "vitest";
import { board, depths } from "../../console/src/lib/board.js";
import { RoomState } from "../../console/src/lib/room-state.js";
import { can, identityFromToken, normalizeToken } from "../../console/src/lib/session.js";
import { SseParser } from "../../console/src/lib/sse-parse.js";
import type { Message, RoomEvent } from "../../console/src/lib/types.js";

describe("SseParser", () => {
  it("yields each frame once it is complete, however the text is cut", () => {
    const wire = "retry: 2000\n\nid: 1\nevent: room:rented\ndata: {\"a\":1}\n\n: ping\n\nid: 2\nevent: room:idle\ndata: {\"b\":\ndata: 2}\n\n";
    for (let cut = 0; cut <= wire.length; cut++) {
      const p = new SseParser();
      const frames = [...p.push(wire.slice(0, cut)), ...p.push(wire.slice(cut))];
      expect(frames, `cut at ${cut}`).toEqual([
        { id: "1", event: "room:rented", data: '{"a":1}' },
        { id: "2", event: "room:idle", data: '{"b":\n2}' },
      ]);
      expect(p.retryMs).toBe(2000);
      expect(p.lastEventId).toBe("2");
      expect(p.comments).toBe(1);
    }
  });

  it("accepts CRLF and CR line ends, even a CRLF split across chunks", () => {
    const p = new SseParser();
    const frames = [...p.push("id: 7\r"), ...p.push("\nevent: x\rdata: y\r\n\r"), ...p.push("\n")];
    expect(frames).toEqual([{ id: "7", event: "x", data: "y" }]);
  });

  it("dispatches nothing for a block without data, and defaults the event name to message", () => {
    const p = new SseParser();
    expect(p.push("id: 3\n\n")).toEqual([]);
    expect(p.lastEventId).toBe("3");
    expect(p.push("data: plain\n\n")).toEqual([{ id: null, event: "message", data: "plain" }]);
    expect(p.push("retry: soon\n\n")).toEqual([]);
    expect(p.retryMs).toBeNull();
  });
});

// --- room state ---

const ROOM = "r1";
let seq = 0;
function ev(event_type: string, payload: Record<string, unknown>, extra: Partial<RoomEvent> = {}): RoomEvent {
  seq++;
  return { id: `${ROOM}:${seq}`, seq, room_id: ROOM, event_type, agent_key: null, turn_id: null, payload, created_at: "2026-01-01T00:00:00.000Z", ...extra };
}
function msg(id: string, mseq: number, content: string, over: Partial<Message> = {}): Message {
  return { id, room_id: ROOM, seq: mseq, kind: "message", author_kind: "user", author_id: "alice", actor_key: null, content, metadata: {}, status: "queued", turn_id: null, created_at: "2026-01-01T00:00:00.000Z", ...over };
}
/** The events of one turn that streams `tokens` and ends `status`. */
function turnEvents(turn: string, trigger: string, triggerSeq: number, tokens: string[], status = "completed", outId = `out-${turn}`, outSeq = triggerSeq + 1): RoomEvent[] {
  const t = { turn_id: turn, agent_key: "assistant" };
  const list = [
    ev("message:created", { message_id: trigger, seq: triggerSeq, kind: "message", author_kind: "user" }),
    ev("agent:turn_start", { turn_id: turn, message_id: trigger, status: "running" }, t),
    ev("pi:message_start", { message: { role: "assistant" } }, t),
  ];
  let text = "";
  for (const tok of tokens) {
    text += tok;
    list.push(ev("pi:message_update", { update_type: "text_delta", delta: tok, partial: { role: "assistant", text } }, t));
  }
  list.push(ev("pi:message_end", { message: { role: "assistant", text } }, t));
  if (text) {
    // A turn that did not complete keeps its text as a `partial` message, announced without `agent:output`.
    const complete = status === "completed";
    list.push(ev("message:created", { message_id: outId, seq: outSeq, kind: complete ? "output" : "partial", author_kind: "agent" }, t));
    if (complete) list.push(ev("agent:output", { message_id: outId, text }, t));
  }
  list.push(ev("agent:turn_end", { turn_id: turn, message_id: trigger, status, usage: {} }, t));
  return list;
}

describe("RoomState", () => {
  it("streams a turn's text delta by delta, then shows the stored answer in its place", () => {
    seq = 0;
    const s = new RoomState();
    s.load([], [ev("room:rented", { actors: [] })], false);
    s.upsertMessages([msg("m1", 1, "hi")]);
    const events = turnEvents("t1", "m1", 1, ["Echo: ", "hi"]);
    const upToDeltas = events.findIndex((e) => e.event_type === "pi:message_end");
    s.apply(events.slice(0, upToDeltas));
    expect(s.streamingText()).toBe("Echo: hi");
    expect(s.turn).toMatchObject({ id: "t1", status: "running" });
    s.apply(events.slice(upToDeltas));
    expect(s.streamingText()).toBeNull();
    expect(s.items.map((i) => i.kind)).toEqual(["message", "message"]);
    const answer = s.items[1]!;
    expect(answer).toMatchObject({ kind: "message", content: "Echo: hi", authorKind: "agent", actorKey: "assistant", streamed: "match", turnStatus: "completed" });
    expect(s.items[0]).toMatchObject({ id: "m1", content: "hi", status: "done" });
    expect(s.turn).toMatchObject({ id: "t1", status: "completed" });
  });

  it("ignores events it already has (a resumed feed that repeats some) and records a gap if one is skipped", () => {
    seq = 0;
    const s = new RoomState();
    const rented = ev("room:rented", {});
    s.load([], [rented], false);
    const events = turnEvents("t1", "m1", 1, ["a ", "b ", "c"]);
    const half = Math.floor(events.length / 2);
    expect(s.apply(events.slice(0, half + 2))).toBe(half + 2);
    // The reconnect replays from an older id: the overlap is skipped, nothing doubles.
    expect(s.apply(events.slice(half - 1))).toBe(events.length - half - 2);
    expect(s.events.map((e) => e.seq)).toEqual([1, ...events.map((e) => e.seq)]);
    expect(s.gaps).toEqual([]);
    const answer = s.items.find((i) => i.kind === "message" && i.authorKind === "agent");
    expect(answer).toMatchObject({ content: "a b c", streamed: "match" });
    // A feed that skipped an event would show it.
    s.apply([{ ...ev("room:idle", {}), seq: s.lastSeq + 2 }]);
    expect(s.gaps).toEqual([s.lastSeq - 2]);
  });

  it("flags an answer whose streamed deltas do not add up to the stored text", () => {
    seq = 0;
    const s = new RoomState();
    s.load([], [ev("room:rented", {})], false);
    const events = turnEvents("t1", "m1", 1, ["one ", "two ", "three"]);
    // Lose one delta (what a resume without Last-Event-ID could do), seqs still consecutive.
    const lost = events.filter((e) => !(e.event_type === "pi:message_update" && e.payload["delta"] === "two ")).map((e, i) => ({ ...e, seq: 2 + i }));
    s.apply(lost);
    expect(s.gaps).toEqual([]);
    const answer = s.items.find((i) => i.kind === "message" && i.authorKind === "agent");
    expect(answer).toMatchObject({ content: "one two three", streamed: "mismatch" });
  });

  it("keeps an interrupted turn's streamed text until its partial answer is read, then shows that, marked with how the turn ended", () => {
    seq = 0;
    const s = new RoomState();
    s.load([], [ev("room:rented", {})], false);
    s.apply(turnEvents("t1", "m1", 1, ["Echo: ", "A "], "interrupted"));
    // The partial answer's text is not in any event: it is fetched, and meanwhile the streamed text stays, marked.
    expect(s.missing.has("out-t1")).toBe(true);
    expect(s.items.filter((i) => i.kind === "stream").map((i) => i.kind === "stream" && [i.text, i.state])).toEqual([["Echo: A ", "interrupted"]]);
    s.upsertMessages([msg("out-t1", 2, "Echo: A ", { kind: "partial", author_kind: "agent", author_id: "assistant", actor_key: "assistant", turn_id: "t1", status: "done", metadata: { partial: true, turn_status: "interrupted" } })]);
    expect(s.missing.has("out-t1")).toBe(false);
    expect(s.items.filter((i) => i.kind === "stream")).toEqual([]);
    const answer = s.items.find((i) => i.kind === "message" && i.authorKind === "agent");
    expect(answer).toMatchObject({ msgKind: "partial", content: "Echo: A ", turnStatus: "interrupted", streamed: "match" });
    expect(s.items.find((i) => i.kind === "message" && i.id === "m1")).toMatchObject({ status: "cancelled" });
  });

  it("loads a finished interrupted turn from history without showing its text twice", () => {
    seq = 0;
    const s = new RoomState();
    const events = [ev("room:rented", {}), ...turnEvents("t1", "m1", 1, ["Echo: ", "A "], "interrupted")];
    s.load([msg("m1", 1, "hi", { status: "cancelled" }), msg("out-t1", 2, "Echo: A ", { kind: "partial", author_kind: "agent", author_id: "assistant", turn_id: "t1", status: "done" })], events, false);
    expect(s.items.map((i) => i.kind)).toEqual(["message", "message"]);
    expect(s.items[1]).toMatchObject({ content: "Echo: A ", streamed: "match", turnStatus: "interrupted" });
  });

  it("orders the transcript by event seq though messages count their own seqs, and asks for texts it lacks", () => {
    seq = 0;
    const s = new RoomState();
    // History: the newest events only; m1's creation is older than the window.
    const m1 = msg("m1", 1, "old", { status: "done" });
    seq = 40;
    const created = ev("message:created", { message_id: "m2", seq: 2, kind: "note", author_kind: "user" });
    s.load([m1], [created], true);
    expect(s.items.map((i) => (i.kind === "message" ? i.id : i.kind))).toEqual(["m1", "m2"]);
    expect(s.missing.has("m2")).toBe(true);
    // A message posted here is shown at the end at once, and moves to its event when that arrives.
    s.upsertMessages([msg("m3", 3, "mine")]);
    expect(s.items.at(-1)).toMatchObject({ id: "m3", content: "mine" });
    const tool = ev("pi:tool_execution_start", { tool_call_id: "c1", tool_name: "calculator", args: { expression: "1+1" } });
    s.apply([tool, ev("message:created", { message_id: "m3", seq: 3, kind: "message", author_kind: "user" })]);
    expect(s.items.map((i) => (i.kind === "message" ? i.id : i.kind))).toEqual(["m1", "m2", "tool", "m3"]);
    s.upsertMessages([msg("m2", 2, "a note", { kind: "note", status: "done" })]);
    expect(s.missing.size).toBe(0);
    expect(s.items[1]).toMatchObject({ id: "m2", content: "a note" });
    // Older events go in front of the log without disturbing the newer ones.
    seq = 0;
    s.prepend([], [ev("room:rented", {}), ev("message:created", { message_id: "m1", seq: 1, kind: "message", author_kind: "user" })], false);
    expect(s.events.map((e) => e.seq)).toEqual([1, 2, 41, 42, 43]);
    expect(s.hasOlder).toBe(false);
    expect(s.items.map((i) => (i.kind === "message" ? i.id : i.kind))).toEqual(["m1", "m2", "tool", "m3"]);
  });

  it("notes a released room, so its feed is not resumed", () => {
    seq = 0;
    const s = new RoomState();
    s.load([], [ev("room:rented", {})], false);
    expect(s.released).toBe(false);
    s.apply([ev("room:releasing", { reason: "x" }), ev("room:released", { reason: "x" })]);
    expect(s.released).toBe(true);
  });
});

describe("factory board layout", () => {
  it("puts each issue below everything it depends on, stages in their own dependency order", () => {
    const stages = [
      { id: "s2", depends_on: ["s1"], name: "write" },
      { id: "s1", depends_on: [], name: "research" },
    ];
    const issues = [
      { id: "c", depends_on: ["a", "b"], stage_id: "s2" },
      { id: "a", depends_on: [], stage_id: "s1" },
      { id: "b", depends_on: ["a"], stage_id: "s1" },
      { id: "d", depends_on: [], stage_id: "s2" },
      { id: "e", depends_on: ["zz"], stage_id: null },
    ];
    const cols = board(stages, issues);
    expect(cols.map((c) => c.stage?.id ?? null)).toEqual(["s1", "s2", null]);
    expect(cols[0]!.rows.map((r) => r.map((i) => i.id))).toEqual([["a"], ["b"]]);
    expect(cols[1]!.rows.map((r) => r.map((i) => i.id))).toEqual([["d"], ["c"]]);
    expect(cols[2]!.rows.map((r) => r.map((i) => i.id))).toEqual([["e"]]);
  });

  it("still places every node when dependencies form a cycle", () => {
    const d = depths([
      { id: "x", depends_on: ["y"] },
      { id: "y", depends_on: ["x"] },
      { id: "z", depends_on: ["z"] },
    ]);
    expect([...d.keys()].sort()).toEqual(["x", "y", "z"]);
    expect(d.get("z")).toBe(0);
  });
});

describe("what a pasted token is taken to allow", () => {
  const jwt = (claims: Record<string, unknown>) => `e30.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.c2ln`;

  it("reads tenant, subject, access and expiry from the claims; no access claim means read, as on the server", () => {
    const r = identityFromToken(jwt({ tenant: "acme", sub: "alice", exp: 2_000_000_000 }), 1_000_000_000);
    expect(r).toEqual({ ok: true, identity: { tenant: "acme", sub: "alice", access: "read", expiresAt: 2_000_000_000, source: "claims" } });
    expect(identityFromToken(jwt({ tenant: "acme", access: "edit" }), 0)).toMatchObject({ ok: true, identity: { access: "edit", expiresAt: null } });
    expect(normalizeToken("  Bearer abc.def.ghi \n")).toBe("abc.def.ghi");
  });

  it("refuses what is not a usable token, saying why", () => {
    expect(identityFromToken("hello", 0)).toMatchObject({ ok: false, message: expect.stringContaining("not a JWT") });
    expect(identityFromToken(jwt({ sub: "x" }), 0)).toMatchObject({ ok: false, message: expect.stringContaining("tenant") });
    expect(identityFromToken(jwt({ tenant: "acme", access: "admin" }), 0)).toMatchObject({ ok: false, message: expect.stringContaining("unknown access level") });
    expect(identityFromToken(jwt({ tenant: "acme", exp: 10 }), 20)).toMatchObject({ ok: false, message: expect.stringContaining("expired") });
  });

  it("offers each verb only from the access level the server requires", () => {
    const at = (access: "read" | "edit" | "full" | "root") => ({ access });
    expect(["send", "interrupt", "wake", "rent", "release", "runCreate", "runAdvance"].filter((v) => can(at("read"), v as never))).toEqual([]);
    expect(["send", "interrupt", "wake", "rent", "release"].filter((v) => can(at("edit"), v as never))).toEqual(["send", "interrupt", "wake"]);
    expect(["send", "interrupt", "wake", "rent", "release", "runStart", "runCancel"].every((v) => can(at("full"), v as never))).toBe(true);
    expect(can(null, "send")).toBe(false);
  });
});
