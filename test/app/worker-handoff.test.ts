/**
 * A committed turn always runs. A caller can begin a new turn in a room the
 * moment its last turn's end commits, while that turn's worker has not yet
 * left the registry: a bus listener (how the factory supervisor wakes) runs
 * synchronously after that commit. `start` used to drop such a turn; it now
 * runs next in the same worker.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { systemActor } from "../../src/auth/actor.js";
import { eventually, startTestServer, type TestServer } from "../support/harness.js";

let t: TestServer;
let token: string;
beforeEach(async () => {
  t = await startTestServer({ env: { RATE_LIMIT_RPS: "0" } });
  token = await t.token("acme");
});
afterEach(() => t.close());

describe("starting a turn while the room's worker is finishing", () => {
  it("runs the turn a listener began on room:idle, in the same worker, to completion", async () => {
    const id = (await t.json("POST", "/llm/room", { token, body: {} })).body.data.id as string;
    const ctx = { tdb: t.server.tenants.get("acme"), actor: systemActor("test") };
    let followUp: string | null = null;
    let workerStillThere = false;
    const unsubscribe = t.server.events.bus.subscribe("acme", "room", id, (event) => {
      if (event.event_type !== "room:idle" || followUp !== null) return;
      workerStillThere = t.server.workers.isRunning("acme", id);
      // Synchronously, inside the listener: postMessageAs commits before it returns.
      followUp = t.server.rooms.postMessageAs(ctx, id, { content: "follow-up" }, undefined, (m) => m).message.id;
    });
    try {
      await t.json("POST", `/llm/room/${id}/messages`, { token, body: { content: "first" } });
      await eventually(() => followUp !== null, 5000, "the listener to post its message");
      // The window this test is about: the first turn's worker was still registered.
      expect(workerStillThere).toBe(true);
      await eventually(async () => {
        const h = (await t.json("GET", `/llm/room/${id}/history`, { token })).body.data;
        return h.room.status === "idle" && h.events.filter((e: any) => e.event_type === "agent:turn_end").length === 2 ? h : null;
      }, 5000, "the follow-up turn to end");
    } finally {
      unsubscribe();
    }
    const h = (await t.json("GET", `/llm/room/${id}/history`, { token })).body.data;
    expect(h.events.filter((e: any) => e.event_type === "agent:turn_end").map((e: any) => e.payload.status)).toEqual(["completed", "completed"]);
    const msg = h.messages.find((m: any) => m.id === followUp);
    expect(msg.status).toBe("done");
    expect(h.messages.filter((m: any) => m.kind === "output").map((m: any) => m.content)).toEqual(["Echo: first", "Echo: follow-up"]);
    expect(t.server.workers.isRunning("acme", id)).toBe(false);
  });
});
