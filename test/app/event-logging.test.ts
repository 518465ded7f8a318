/**
 * Failures the event path survives are still logged, with where they
 * happened: a follower's listener that throws is dropped (the writer and the
 * other followers go on) and the server logs it with the tenant and stream.
 */
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/harness.js";

let t: TestServer | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** A real pino logger whose lines are kept, parsed. */
function captured() {
  const lines: Record<string, any>[] = [];
  const log = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { lines, log };
}

describe("event path failures are logged", () => {
  it("a throwing bus listener is dropped and logged with its tenant, stream and event; the write and the other followers go on", async () => {
    const { lines, log } = captured();
    t = await startTestServer({ log });
    const token = await t.token("acme");
    const id = (await t.json("POST", "/llm/room", { token, body: {} })).body.data.id as string;
    const other: string[] = [];
    t.server.events.bus.subscribe("acme", "room", id, () => {
      throw new Error("listener bug");
    });
    t.server.events.bus.subscribe("acme", "room", id, (e) => other.push(e.event_type));
    const patched = await t.json("PATCH", `/llm/room/${id}`, { token, body: { metadata: { a: 1 } } });
    expect(patched.status).toBe(200);
    expect(other).toEqual(["room:updated"]);
    const logged = lines.filter((l) => l.msg === "an event follower's listener threw; it was dropped");
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ level: 50, tenant: "acme", kind: "room", stream_id: id, seq: 2, event_type: "room:updated", err: { message: "listener bug" } });
    expect(t.server.events.bus.subscriberCount({ tenant: "acme", kind: "room", streamId: id })).toBe(1);
  });
});
