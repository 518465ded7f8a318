/**
 * Decoded segments are shared between reads (a history walk reads one
 * segment once per page): every read still gets the same events, a reader
 * cannot change what the next one reads, and a segment written later is read
 * as itself.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readRoomEventsAfter, readRoomEventsBefore } from "../../src/room/room.stream.js";
import { eventually, startTestServer, type TestServer } from "../support/harness.js";

let t: TestServer;
let token: string;
beforeAll(async () => {
  t = await startTestServer({ env: { EVENT_COALESCE_MS: "0", RATE_LIMIT_RPS: "0" } });
  token = await t.token("acme");
});
afterAll(() => t.close());

async function turn(room: string, content: string) {
  await t.json("POST", `/llm/room/${room}/messages`, { token, body: { content } });
  await eventually(async () => (await t.json("GET", `/llm/room/${room}`, { token })).body.data.status === "idle", 10_000, "idle");
}

describe("decoded segment cache", () => {
  it("reads of a compacted turn agree, page after page, and a reader's mutation does not reach the next read", async () => {
    const room = (await t.json("POST", "/llm/room", { token, body: {} })).body.data.id;
    await turn(room, "one two three four five six seven eight");
    const tdb = t.server.tenants.get("acme");
    const first = readRoomEventsBefore(tdb, room, Number.MAX_SAFE_INTEGER, 1000);
    const again = readRoomEventsBefore(tdb, room, Number.MAX_SAFE_INTEGER, 1000);
    expect(again).toEqual(first);
    // Walking back a page at a time reads the same segment each time and gives the same events.
    const walked: unknown[] = [];
    for (let before = Number.MAX_SAFE_INTEGER; ; ) {
      const page = readRoomEventsBefore(tdb, room, before, 3);
      if (page.length === 0) break;
      walked.unshift(...page);
      before = page[0]!.seq;
    }
    expect(walked).toEqual(first);
    expect(readRoomEventsAfter(tdb, room, 0, 1000)).toEqual(first);
    // A payload shared through the cache cannot be changed by one reader for the next.
    const rented = first.find((e) => e.event_type === "room:rented")!;
    expect(() => {
      (rented.payload as Record<string, unknown>)["tampered"] = true;
    }).toThrow(TypeError);
    expect(readRoomEventsBefore(tdb, room, Number.MAX_SAFE_INTEGER, 1000).find((e) => e.event_type === "room:rented")!.payload).not.toHaveProperty("tampered");
  });

  it("a later turn's segment is read as itself, next to the cached one", async () => {
    const room = (await t.json("POST", "/llm/room", { token, body: {} })).body.data.id;
    await turn(room, "first turn");
    const tdb = t.server.tenants.get("acme");
    const before = readRoomEventsAfter(tdb, room, 0, 1000);
    await turn(room, "second turn, longer than the first");
    const after = readRoomEventsAfter(tdb, room, 0, 1000);
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after.length).toBeGreaterThan(before.length);
    expect(after.map((e) => e.seq)).toEqual(after.map((_, i) => i + 1));
    const outputs = after.filter((e) => e.event_type === "agent:output").map((e) => (e.payload as { text: string }).text);
    expect(outputs).toEqual(["Echo: first turn", "Echo: second turn, longer than the first"]);
  });
});
