/**
 * Turn writers of one tenant that are due in the same tick share one
 * transaction; if that transaction fails, each writer is committed on its
 * own, so one room's failing write never holds back another room's events.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { GroupCommit, TurnEventWriter } from "../../src/runtime/turn-writer.js";
import type { TurnPlan } from "../../src/room/room.lifecycle.js";
import { startTestServer, type TestServer } from "../support/harness.js";

let t: TestServer;
beforeAll(async () => (t = await startTestServer()));
afterAll(() => t.close());

function plan(roomId: string): TurnPlan {
  return { tenant: "acme", roomId, turnId: "00000000-0000-4000-8000-000000000001", messageId: "m", messageSeq: 1, prompt: "", actor: { agent_id: "a" }, toolPolicy: {}, donePolicy: {} } as unknown as TurnPlan;
}

const nextTick = () => new Promise((r) => setImmediate(r));

/** What a GroupCommit logged: pino's warn(obj, msg). */
function logSink() {
  const lines: { obj: any; msg: string }[] = [];
  return { lines, log: { warn: (obj: unknown, msg?: string) => void lines.push({ obj, msg: msg ?? "" }) } as any };
}

describe("group commit of turn events", () => {
  it("commits the due writers of a tenant in one transaction, each room gap-free", async () => {
    const token = await t.token("acme");
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await t.json("POST", "/llm/room", { token, body: {} })).body.data.id);
    const tdb = t.server.tenants.get("acme");
    const sink = logSink();
    const group = new GroupCommit(t.server.events, sink.log);
    const errors: unknown[] = [];
    const writers = ids.map((id) => new TurnEventWriter(t.server.events, tdb, plan(id), 0, (e) => errors.push(e), group));
    const transactions = vi.spyOn(t.server.events, "transactionOffLoop");
    for (const w of writers) w.push({ event_type: "pi:tool_execution_start", payload: {} });
    await nextTick();
    await nextTick();
    expect(errors).toEqual([]);
    expect(sink.lines).toEqual([]);
    expect(transactions).toHaveBeenCalledTimes(1);
    transactions.mockRestore();
    for (const id of ids) {
      const h = (await t.json("GET", `/llm/room/${id}/history`, { token })).body.data;
      expect(h.events.map((e: any) => [e.seq, e.event_type])).toEqual([
        [1, "room:rented"],
        [2, "pi:tool_execution_start"],
      ]);
    }
  });

  it("when the shared transaction fails, the healthy room's events still commit, and the shared error is logged with every room and turn it held", async () => {
    const token = await t.token("acme");
    const good = (await t.json("POST", "/llm/room", { token, body: {} })).body.data.id as string;
    const tdb = t.server.tenants.get("acme");
    const sink = logSink();
    const group = new GroupCommit(t.server.events, sink.log);
    const goodErrors: unknown[] = [];
    const badErrors: unknown[] = [];
    const missing = "00000000-0000-4000-8000-00000000dead";
    const bad = new TurnEventWriter(t.server.events, tdb, plan(missing), 0, (e) => badErrors.push(e), group);
    const ok = new TurnEventWriter(t.server.events, tdb, plan(good), 0, (e) => goodErrors.push(e), group);
    bad.push({ event_type: "pi:tool_execution_start", payload: {} });
    ok.push({ event_type: "pi:tool_execution_start", payload: {} });
    await nextTick();
    await nextTick();
    expect(goodErrors).toEqual([]);
    expect(badErrors.length).toBeGreaterThan(0);
    expect(String(badErrors[0])).toContain("no such room");
    const h = (await t.json("GET", `/llm/room/${good}/history`, { token })).body.data;
    expect(h.events.map((e: any) => e.event_type)).toEqual(["room:rented", "pi:tool_execution_start"]);
    expect(sink.lines).toHaveLength(1);
    expect(sink.lines[0]!.msg).toMatch(/group commit failed/);
    expect(String(sink.lines[0]!.obj.err)).toContain("no such room");
    expect(sink.lines[0]!.obj).toMatchObject({
      tenant: "acme",
      parts: [
        { room_id: missing, turn_id: plan(missing).turnId, part: "flush" },
        { room_id: good, turn_id: plan(good).turnId, part: "flush" },
      ],
    });
    bad.drainInto({ emit: () => ({}) as never, append: () => ({}) as never, nowIso: "" });
  });
});

describe("turn ends joining the group commit", () => {
  /** Two fresh rooms; a writer (coalescing off) streams into `a` through `group`. */
  async function twoRoomsOneWriter() {
    const token = await t.token("acme");
    const a = (await t.json("POST", "/llm/room", { token, body: {} })).body.data.id as string;
    const b = (await t.json("POST", "/llm/room", { token, body: {} })).body.data.id as string;
    const tdb = t.server.tenants.get("acme");
    const sink = logSink();
    const group = new GroupCommit(t.server.events, sink.log);
    const errors: unknown[] = [];
    const writer = new TurnEventWriter(t.server.events, tdb, plan(a), 0, (e) => errors.push(e), group);
    return { token, a, b, tdb, group, errors, writer, sink };
  }

  it("commits joined bodies with the tick's flushes in one transaction and resolves after it", async () => {
    const { token, a, b, tdb, group, errors, writer } = await twoRoomsOneWriter();
    const transactions = vi.spyOn(t.server.events, "transactionOffLoop");
    writer.push({ event_type: "pi:tool_execution_start", payload: {} });
    const joined = group.join(tdb, (tx) => tx.emit(b, { event_type: "room:updated", payload: {} }).seq);
    expect(transactions).toHaveBeenCalledTimes(0);
    expect(await joined).toBe(2);
    expect(transactions).toHaveBeenCalledTimes(1);
    transactions.mockRestore();
    expect(errors).toEqual([]);
    for (const [id, type] of [
      [a, "pi:tool_execution_start"],
      [b, "room:updated"],
    ]) {
      const h = (await t.json("GET", `/llm/room/${id}/history`, { token })).body.data;
      expect(h.events.map((e: any) => e.event_type)).toEqual(["room:rented", type]);
    }
  });

  it("a failing joined body neither loses nor duplicates the others' events", async () => {
    const { token, a, b, tdb, group, errors, writer, sink } = await twoRoomsOneWriter();
    const seen: string[] = [];
    const unsubscribe = t.server.events.bus.subscribe("acme", "room", b, (ev) => seen.push(ev.event_type));
    writer.push({ event_type: "pi:tool_execution_start", payload: {} });
    const good = group.join(tdb, (tx) => {
      tx.emit(b, { event_type: "room:updated", payload: {} });
      return "ok";
    });
    const bad = group.join(
      tdb,
      (tx) => {
        tx.emit(b, { event_type: "room:updated", payload: { lost: true } });
        throw new Error("boom");
      },
      { roomId: b, turnId: "00000000-0000-4000-8000-0000000000bb" },
    );
    await expect(bad).rejects.toThrow("boom");
    expect(await good).toBe("ok");
    unsubscribe();
    expect(errors).toEqual([]);
    expect(sink.lines.map((l) => [String(l.obj.err), l.obj.parts])).toEqual([
      [
        "Error: boom",
        [
          { room_id: a, turn_id: plan(a).turnId, part: "flush" },
          { room_id: null, turn_id: null, part: "joined" },
          { room_id: b, turn_id: "00000000-0000-4000-8000-0000000000bb", part: "joined" },
        ],
      ],
    ]);
    // The shared transaction rolled back as a whole and was published to no one; each part then committed (or failed) alone.
    expect(seen).toEqual(["room:updated"]);
    for (const [id, type] of [
      [a, "pi:tool_execution_start"],
      [b, "room:updated"],
    ]) {
      const h = (await t.json("GET", `/llm/room/${id}/history`, { token })).body.data;
      expect(h.events.map((e: any) => [e.seq, e.event_type, e.payload.lost ?? false])).toEqual([
        [1, "room:rented", false],
        [2, type, false],
      ]);
    }
  });

  it("a closed writer's queue goes out once, through the joined body that drains it", async () => {
    const token = await t.token("acme");
    const a = (await t.json("POST", "/llm/room", { token, body: {} })).body.data.id as string;
    const tdb = t.server.tenants.get("acme");
    const group = new GroupCommit(t.server.events, logSink().log);
    const writer = new TurnEventWriter(t.server.events, tdb, plan(a), 0, () => {}, group);
    writer.push({ event_type: "pi:tool_execution_start", payload: {} }); // due in this tick's group commit
    writer.close();
    await group.join(tdb, (tx) => writer.drainInto(tx));
    writer.committed();
    const h = (await t.json("GET", `/llm/room/${a}/history`, { token })).body.data;
    expect(h.events.map((e: any) => e.event_type)).toEqual(["room:rented", "pi:tool_execution_start"]);
  });
});

describe("turn writer coalescing window", () => {
  /** A writer whose group commit only records when it was asked to flush; `commit()` plays the commit. */
  function paced(coalesceMs: number) {
    const asked: number[] = [];
    let due: TurnEventWriter | null = null;
    const group = { schedule: (w: TurnEventWriter) => void (asked.push(Date.now()), (due = w)), cancel: () => undefined } as unknown as GroupCommit;
    const w = new TurnEventWriter(t.server.events, t.server.tenants.get("acme"), plan("r"), coalesceMs, () => undefined, group);
    const commit = () => {
      if (!due) return 0;
      const n = due.emitQueued({ emit: () => ({}) } as never);
      due.flushed(n);
      due = null;
      return n;
    };
    const delta = (text: string) => w.push({ event_type: "pi:message_update", payload: { update_type: "text_delta", delta: text } });
    return { asked, commit, delta };
  }

  it("a model streaming about one token per window has every token flushed at once, jitter included", () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"], now: 1_000_000 });
    try {
      const { asked, commit, delta } = paced(50);
      // 20 tokens/s against a 50 ms window, arriving up to 3 ms early or late; each commit takes 2 ms.
      const gaps = [0, 47, 53, 49, 51, 48, 52, 50, 47, 53, 50, 49, 51];
      const arrived: number[] = [];
      for (const gap of gaps) {
        vi.advanceTimersByTime(gap);
        arrived.push(Date.now());
        delta("w ");
        vi.advanceTimersByTime(2);
        expect(commit()).toBe(1);
      }
      expect(asked).toEqual(arrived);
    } finally {
      vi.useRealTimers();
    }
  });

  it("a fast model is still merged: about one event per window", () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"], now: 1_000_000 });
    try {
      const { asked, commit, delta } = paced(50);
      let events = 0;
      // 1,000 tokens/s for 1 s: 1,000 deltas.
      for (let i = 0; i < 1000; i++) {
        delta("w ");
        vi.advanceTimersByTime(1);
        if (commit() > 0) events++;
      }
      vi.advanceTimersByTime(100);
      if (commit() > 0) events++;
      expect(events).toBe(asked.length);
      // One per 50 ms window over the second, plus the burst allowance of two at the start.
      expect(events).toBeGreaterThanOrEqual(20);
      expect(events).toBeLessThanOrEqual(23);
    } finally {
      vi.useRealTimers();
    }
  });

  it("a post while other turns stream into the file commits with their off-loop fsync and is answered after it; alone, its fsync is inline", async () => {
    const token = await t.token("acme");
    const id = (await t.json("POST", "/llm/room", { token, body: {} })).body.data.id as string;
    const tdb = t.server.tenants.get("acme");
    const durable = vi.spyOn(t.server.events, "transactionDurable");
    try {
      expect((await t.json("POST", `/llm/room/${id}/messages`, { token, body: { kind: "note", content: "alone" } })).status).toBe(201);
      expect(durable).not.toHaveBeenCalled();
      const streaming = [tdb.streamingTurn(), tdb.streamingTurn()];
      try {
        const headers = { "idempotency-key": "post-among-streams" };
        const first = await t.json("POST", `/llm/room/${id}/messages`, { token, headers, body: { kind: "note", content: "among streams" } });
        expect(first.status).toBe(201);
        expect(durable).toHaveBeenCalledTimes(1);
        // A retry with the same key replays the first answer and stores nothing more.
        const retry = await t.json("POST", `/llm/room/${id}/messages`, { token, headers, body: { kind: "note", content: "among streams" } });
        expect(retry.status).toBe(201);
        expect(retry.body.data.id).toBe(first.body.data.id);
      } finally {
        for (const end of streaming) end();
      }
    } finally {
      durable.mockRestore();
    }
    const h = (await t.json("GET", `/llm/room/${id}/history`, { token })).body.data;
    expect(h.messages.map((m: any) => m.content)).toEqual(["alone", "among streams"]);
  });
});
