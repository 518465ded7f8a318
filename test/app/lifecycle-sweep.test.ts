/**
 * The lifecycle sweep applies deadlines in bounded transactions: thousands of
 * rooms can fall due together (rented in one burst, or deadlines that passed
 * while the server was down), and each batch is its own transaction.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { EventLog } from "../../src/events/event.log.js";
import { LifecycleTimers } from "../../src/runtime/lifecycle-timers.js";
import { startTestServer, type TestServer } from "../support/harness.js";

let t: TestServer;
let token: string;
beforeEach(async () => {
  // The server's own sweep stays out of the way (every 10 minutes); the test runs one by hand.
  t = await startTestServer({ env: { LIFECYCLE_SWEEP_MS: "600000", RATE_LIMIT_RPS: "0" } });
  token = await t.token("acme");
});
afterEach(() => t.close());

async function idleRoom(): Promise<string> {
  const id = (await t.json("POST", "/llm/room", { token, body: { wake_policy: { idle_timeout_s: 1 } } })).body.data.id as string;
  expect((await t.json("POST", `/llm/room/${id}/wake`, { token, body: {} })).body.data.status).toBe("idle");
  return id;
}

describe("lifecycle sweep", () => {
  it("puts every due room to sleep, a bounded batch per transaction, and skips rooms with a running turn without looping", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push(await idleRoom());
    const running = new Set(ids.slice(0, 3));
    let transactions = 0;
    const events = t.server.events;
    const counting = { transaction: (...args: Parameters<EventLog["transaction"]>) => (transactions++, events.transaction(...args)) } as unknown as EventLog;
    const timers = new LifecycleTimers(counting, (_tenant, roomId) => running.has(roomId), () => Date.now() + 5_000, 2);

    timers.sweep(t.server.tenants.get("acme"));

    // 7 due rooms in id order, 2 per transaction: 4 transactions, whichever rooms were skipped.
    expect(transactions).toBe(4);
    const statuses = new Map<string, string>();
    for (const id of ids) statuses.set(id, (await t.json("GET", `/llm/room/${id}`, { token })).body.data.status);
    for (const id of ids) expect(statuses.get(id)).toBe(running.has(id) ? "idle" : "sleeping");

    // The skipped rooms stay due and are handled by a later sweep.
    running.clear();
    transactions = 0;
    timers.sweep(t.server.tenants.get("acme"));
    expect(transactions).toBe(2);
    for (const id of ids) expect((await t.json("GET", `/llm/room/${id}`, { token })).body.data.status).toBe("sleeping");
  });
});
