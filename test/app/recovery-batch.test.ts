/**
 * Recovery applies its changes in bounded transactions, like the sweep: a
 * tenant can hold thousands of resting rooms, and one transaction for all of
 * them held every row, event and dirty page at once. A turn it resumes
 * starts only after the transaction that began it has committed.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { EventLog } from "../../src/events/event.log.js";
import type { TurnPlan } from "../../src/room/room.lifecycle.js";
import { recoverTenant } from "../../src/runtime/recovery.js";
import { eventually, startTestServer, type TestServer } from "../support/harness.js";

let t: TestServer;
let token: string;
beforeEach(async () => {
  t = await startTestServer({ env: { LIFECYCLE_SWEEP_MS: "600000", RATE_LIMIT_RPS: "0" } });
  token = await t.token("acme");
});
afterEach(() => t.close());

describe("recovery", () => {
  it("sleeps resting rooms a bounded batch per transaction and starts a resumed turn after its batch commits", async () => {
    const resting: string[] = [];
    for (let i = 0; i < 6; i++) {
      const id = (await t.json("POST", "/llm/room", { token, body: {} })).body.data.id as string;
      expect((await t.json("POST", `/llm/room/${id}/wake`, { token, body: {} })).body.data.status).toBe("idle");
      resting.push(id);
    }
    // One idle room with a queued message, as a stop between a turn's end and the next one's start leaves it.
    const waiting = (await t.json("POST", "/llm/room", { token, body: { wake_policy: { mode: "manual" } } })).body.data.id as string;
    await t.json("POST", `/llm/room/${waiting}/wake`, { token, body: {} });
    await t.json("POST", `/llm/room/${waiting}/messages`, { token, body: { content: "resume me" } });
    expect((await t.json("PATCH", `/llm/room/${waiting}`, { token, body: { wake_policy: { mode: "on_message" } } })).body.data.status).toBe("idle");

    const tdb = t.server.tenants.get("acme");
    let transactions = 0;
    const events = t.server.events;
    const counting = { transaction: (...args: Parameters<EventLog["transaction"]>) => (transactions++, events.transaction(...args)) } as unknown as EventLog;
    const resumed: Array<{ plan: TurnPlan; statusAtStart: string; inTransaction: boolean }> = [];
    const report = recoverTenant(
      tdb,
      counting,
      t.server.admission,
      (plan) => {
        const row = tdb.sqlite.prepare("SELECT status FROM rooms WHERE id = ?").get(plan.roomId) as { status: string };
        resumed.push({ plan, statusAtStart: row.status, inTransaction: tdb.sqlite.inTransaction });
        t.server.workers.start(plan);
      },
      2,
    );

    // 7 idle rooms, 2 per transaction: 4 transactions; nothing was running or releasing.
    expect(transactions).toBe(4);
    expect(report).toEqual({ failedTurns: 0, sleeping: 6, released: 0, resumed: 1 });
    expect(resumed).toHaveLength(1);
    expect(resumed[0]).toMatchObject({ statusAtStart: "active", inTransaction: false });
    expect(resumed[0]!.plan.roomId).toBe(waiting);
    for (const id of resting) {
      const h = (await t.json("GET", `/llm/room/${id}/history`, { token })).body.data;
      expect(h.room.status).toBe("sleeping");
      expect(h.events.filter((e: any) => e.event_type === "room:sleeping").map((e: any) => e.payload)).toEqual([{ reason: "server_restarted" }]);
    }
    await eventually(async () => (await t.json("GET", `/llm/room/${waiting}`, { token })).body.data.status === "idle", 5000, "the resumed turn to end");

    // Run again: only the room that came to rest since (the resumed one) is put to sleep, in one transaction.
    transactions = 0;
    expect(recoverTenant(tdb, counting, t.server.admission, () => {}, 2)).toEqual({ failedTurns: 0, sleeping: 1, released: 0, resumed: 0 });
    expect(transactions).toBe(1);
  });
});
