/**
 * Issue 14 bug 4: storage fails while a turn ends. The turn's end cannot be
 * written after the retries; once storage answers again the turn must end
 * `failed` (durable `error` and `agent:turn_end`, room `failed`) and the room
 * must serve again without a restart. `interrupt` and `wake` never answer 200
 * while changing nothing.
 *
 * The outage is a trigger on the server's own connection that refuses to
 * move a turn out of `running` (exactly the write a turn's end makes);
 * dropping it is storage answering again.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { eventually, startTestServer, type TestServer } from "../support/harness.js";

let t: TestServer;
let token: string;
beforeEach(async () => {
  t = await startTestServer({
    // The sweep is run by hand; a turn's end is tried 3 times, a few ms apart, before it counts as lost.
    env: { LIFECYCLE_SWEEP_MS: "600000", RATE_LIMIT_RPS: "0" },
    server: { turnEndRetry: { attempts: 3, baseMs: 1, maxMs: 5 } },
  });
  token = await t.token("acme");
});
afterEach(() => t.close());

function storageFails(): void {
  t.server.tenants
    .get("acme")
    .sqlite.exec(
      "CREATE TEMP TRIGGER turn_end_fails BEFORE UPDATE OF status ON main.room_turns WHEN NEW.status <> 'running' BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END",
    );
}

function storageAnswers(): void {
  t.server.tenants.get("acme").sqlite.exec("DROP TRIGGER temp.turn_end_fails");
}

/** A room whose turn ran while storage failed: its end is lost, the room still says `active`. */
async function stuckRoom(): Promise<{ id: string; turnId: string }> {
  const id = (await t.json("POST", "/llm/room", { token, body: {} })).body.data.id as string;
  storageFails();
  const sent = await t.json("POST", `/llm/room/${id}/messages`, { token, body: { content: "hello" } });
  expect(sent.status).toBe(202);
  await eventually(() => t.server.workers.lostCount("acme") === 1, 10_000, "the turn's end to be given up");
  const room = (await t.json("GET", `/llm/room/${id}`, { token })).body.data;
  expect(room.status).toBe("active");
  expect(room.active_turn).not.toBeNull();
  expect(t.server.workers.isRunning("acme", id)).toBe(false);
  return { id, turnId: room.active_turn.id as string };
}

async function events(id: string): Promise<any[]> {
  return (await t.json("GET", `/llm/room/${id}/history`, { token })).body.data.events;
}

function expectEndedFailed(evs: any[], turnId: string): void {
  const ends = evs.filter((e) => e.event_type === "agent:turn_end" && e.turn_id === turnId);
  expect(ends).toHaveLength(1);
  expect(ends[0].payload.status).toBe("failed");
  const errors = evs.filter((e) => e.event_type === "error" && e.turn_id === turnId);
  expect(errors).toHaveLength(1);
  expect(errors[0].payload.code).toBe("TURN_NOT_RECORDED");
}

describe("a turn whose end cannot be recorded", () => {
  it("ends failed by the sweep once storage answers again, and the room serves again without a restart", async () => {
    const { id, turnId } = await stuckRoom();

    // While storage still fails, the sweep cannot end it and nothing changes.
    t.server.lifecycle.sweepAll();
    expect((await t.json("GET", `/llm/room/${id}`, { token })).body.data.status).toBe("active");

    storageAnswers();
    t.server.lifecycle.sweepAll();
    const room = (await t.json("GET", `/llm/room/${id}`, { token })).body.data;
    expect(room).toMatchObject({ status: "failed", active_turn: null, last_error: { code: "TURN_NOT_RECORDED", turn_id: turnId } });
    expectEndedFailed(await events(id), turnId);
    expect(t.server.workers.lostCount()).toBe(0);

    // The room serves again: wake retries the failed message, and the retry completes.
    const woken = await t.json("POST", `/llm/room/${id}/wake`, { token, body: {} });
    expect(woken.status).toBe(200);
    expect(woken.body.data.status).toBe("active");
    await eventually(async () => (await t.json("GET", `/llm/room/${id}`, { token })).body.data.status === "idle", 5000, "the retried turn to end");
    const ends = (await events(id)).filter((e) => e.event_type === "agent:turn_end");
    expect(ends.map((e) => e.payload.status)).toEqual(["failed", "completed"]);
  });

  it("interrupt and wake do not answer 200 while storage still fails", async () => {
    const { id } = await stuckRoom();
    const interrupted = await t.json("POST", `/llm/room/${id}/interrupt`, { token, body: {} });
    expect(interrupted.status).not.toBe(200);
    expect(interrupted.body.success).toBe(false);
    const woken = await t.json("POST", `/llm/room/${id}/wake`, { token, body: {} });
    expect(woken.status).not.toBe(200);
    expect(woken.body.success).toBe(false);
    expect((await t.json("GET", `/llm/room/${id}`, { token })).body.data.status).toBe("active");
  });

  it("interrupt, once storage answers, ends the turn failed and answers with the failed room", async () => {
    const { id, turnId } = await stuckRoom();
    storageAnswers();
    const res = await t.json("POST", `/llm/room/${id}/interrupt`, { token, body: {} });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ status: "failed", active_turn: null, last_error: { code: "TURN_NOT_RECORDED" } });
    expectEndedFailed(await events(id), turnId);
    // The sweep then has nothing left to end, and writes nothing more.
    const before = (await events(id)).length;
    t.server.lifecycle.sweepAll();
    expect(t.server.workers.lostCount()).toBe(0);
    expect(await events(id)).toHaveLength(before);
  });

  it("wake, once storage answers, ends the turn failed and retries its message", async () => {
    const { id, turnId } = await stuckRoom();
    storageAnswers();
    const res = await t.json("POST", `/llm/room/${id}/wake`, { token, body: {} });
    expect(res.status).toBe(200);
    expect(res.body.data.status).toBe("active");
    expect(res.body.data.active_turn.id).not.toBe(turnId);
    await eventually(async () => (await t.json("GET", `/llm/room/${id}`, { token })).body.data.status === "idle", 5000, "the retried turn to end");
    const evs = await events(id);
    expectEndedFailed(evs, turnId);
    expect(evs.filter((e) => e.event_type === "agent:turn_end").map((e) => e.payload.status)).toEqual(["failed", "completed"]);
  });

  it("a message sent to the stuck room waits, and runs once the room has been woken", async () => {
    const { id } = await stuckRoom();
    const queued = await t.json("POST", `/llm/room/${id}/messages`, { token, body: { content: "second" } });
    expect(queued.status).toBe(202);
    expect(queued.body.data.status).toBe("queued");
    storageAnswers();
    t.server.lifecycle.sweepAll();
    expect((await t.json("GET", `/llm/room/${id}`, { token })).body.data.status).toBe("failed");
    expect((await t.json("POST", `/llm/room/${id}/wake`, { token, body: {} })).status).toBe(200);
    await eventually(async () => (await t.json("GET", `/llm/room/${id}`, { token })).body.data.status === "idle", 5000, "both turns to end");
    const msgs = (await t.json("GET", `/llm/room/${id}/history`, { token })).body.data.messages;
    expect(msgs.find((m: any) => m.id === queued.body.data.id).status).toBe("done");
  });
});
