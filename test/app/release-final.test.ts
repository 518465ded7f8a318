/**
 * Released is final (issue 14 bug 5): recovery and every verb keep a released
 * room released, and nothing follows `room:released` in its log. And a
 * release cannot be left half done: with no worker it is one transaction;
 * with one, `releasing` carries a deadline the lifecycle sweep honours.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { eventually, startTestServer, type TestServer } from "../support/harness.js";

const dirs: string[] = [];
const open: TestServer[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function server(dataDir?: string): Promise<TestServer> {
  const dir = dataDir ?? mkdtempSync(path.join(tmpdir(), "roomservice-release-"));
  if (!dataDir) dirs.push(dir);
  const s = await startTestServer({
    dataDir: dir,
    env: { LIFECYCLE_SWEEP_MS: "600000", RATE_LIMIT_RPS: "0" },
    server: { turnEndRetry: { attempts: 3, baseMs: 1, maxMs: 5 } },
  });
  open.push(s);
  return s;
}

async function restart(s: TestServer): Promise<TestServer> {
  open.splice(open.indexOf(s), 1);
  await s.close();
  return server(s.dataDir);
}

const history = async (s: TestServer, token: string, id: string) => (await s.json("GET", `/llm/room/${id}/history`, { token })).body.data;

function expectEndsWithReleased(events: Array<{ event_type: string }>): void {
  expect(events.at(-1)!.event_type).toBe("room:released");
  expect(events.filter((e) => e.event_type === "room:released")).toHaveLength(1);
}

describe("a released room", () => {
  it("stays released across a restart that finds one of its turns still marked running, with nothing after room:released", async () => {
    let s = await server();
    const token = await s.token("acme");
    const id = (await s.json("POST", "/llm/room", { token, body: {} })).body.data.id as string;
    await s.json("POST", `/llm/room/${id}/messages`, { token, body: { content: "hello" } });
    await eventually(async () => (await s.json("GET", `/llm/room/${id}`, { token })).body.data.status === "idle", 5000, "idle");
    expect((await s.json("POST", `/llm/room/${id}/release`, { token, body: {} })).body.data.status).toBe("released");
    // What a release of a stuck room left before: the room released, its turn row still running.
    s.server.tenants.get("acme").sqlite.prepare("UPDATE room_turns SET status = 'running', ended_at = NULL WHERE room_id = ?").run(id);
    const before = await history(s, token, id);

    s = await restart(s);
    const after = await history(s, token, id);
    expect(after.room.status).toBe("released");
    expect(after.room.released_at).toBe(before.room.released_at);
    expect(after.room.last_error).toBeNull();
    expect(after.events).toEqual(before.events);
    expectEndsWithReleased(after.events);
    const turn = s.server.tenants.get("acme").sqlite.prepare("SELECT status FROM room_turns WHERE room_id = ?").get(id) as { status: string };
    expect(turn.status).toBe("failed");

    for (const [verb, body] of [
      ["wake", {}],
      ["messages", { content: "again" }],
      ["interrupt", {}],
    ] as const) {
      const res = await s.json("POST", `/llm/room/${id}/${verb}`, { token, body });
      expect(res.status, verb).toBe(409);
      expect(res.body.code, verb).toBe("ROOM_RELEASED");
    }
    expect((await s.json("PATCH", `/llm/room/${id}`, { token, body: { purpose: "x" } })).body.code).toBe("ROOM_RELEASED");
    s.server.lifecycle.sweepAll();
    expect((await history(s, token, id)).events).toEqual(before.events);
  });

  it("releasing a room whose turn's end was lost ends that turn before room:released, and a restart changes nothing", async () => {
    let s = await server();
    const token = await s.token("acme");
    const id = (await s.json("POST", "/llm/room", { token, body: {} })).body.data.id as string;
    const sqlite = s.server.tenants.get("acme").sqlite;
    sqlite.exec("CREATE TEMP TRIGGER turn_end_fails BEFORE UPDATE OF status ON main.room_turns WHEN NEW.status <> 'running' BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END");
    await s.json("POST", `/llm/room/${id}/messages`, { token, body: { content: "hello" } });
    await eventually(() => s.server.workers.lostCount("acme") === 1, 10_000, "the turn's end to be given up");
    sqlite.exec("DROP TRIGGER temp.turn_end_fails");

    const released = await s.json("POST", `/llm/room/${id}/release`, { token, body: {} });
    expect(released.status).toBe(200);
    expect(released.body.data).toMatchObject({ status: "released", active_turn: null });
    const h = await history(s, token, id);
    const tail = h.events.slice(-3).map((e: any) => [e.event_type, e.payload.status ?? null]);
    expect(tail).toEqual([
      ["room:releasing", null],
      ["agent:turn_end", "cancelled"],
      ["room:released", null],
    ]);
    s.server.lifecycle.sweepAll();
    expect(s.server.workers.lostCount()).toBe(0);

    s = await restart(s);
    const after = await history(s, token, id);
    expect(after.room.status).toBe("released");
    expect(after.room.released_at).toBe(h.room.released_at);
    expect(after.events).toEqual(h.events);
    expectEndsWithReleased(after.events);
    expect((await s.json("POST", `/llm/room/${id}/wake`, { token, body: {} })).body.code).toBe("ROOM_RELEASED");
  });
});

describe("a release that fails half way", () => {
  const failRelease = "CREATE TEMP TRIGGER release_fails BEFORE UPDATE OF status ON main.rooms WHEN NEW.status = 'released' BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END";

  it("with a running turn: the room is left releasing with a deadline, and the sweep completes it", async () => {
    const s = await server();
    const token = await s.token("acme");
    const id = (await s.json("POST", "/llm/room", { token, body: { agents: [{ agent_id: "slow", options: { token_delay_ms: 200 } }] } })).body.data.id as string;
    expect((await s.json("POST", `/llm/room/${id}/messages`, { token, body: { content: "tell me a long story" } })).body.data.status).toBe("running");
    const sqlite = s.server.tenants.get("acme").sqlite;
    sqlite.exec(failRelease);

    const res = await s.json("POST", `/llm/room/${id}/release`, { token, body: {} });
    expect(res.body.success).toBe(false);
    expect((await s.json("GET", `/llm/room/${id}`, { token })).body.data.status).toBe("releasing");
    expect(s.server.workers.isRunning("acme", id)).toBe(false);

    sqlite.exec("DROP TRIGGER temp.release_fails");
    s.server.lifecycle.sweepAll();
    const h = await history(s, token, id);
    expect(h.room.status).toBe("released");
    expect(h.events.filter((e: any) => e.event_type === "agent:turn_end").map((e: any) => e.payload.status)).toEqual(["cancelled"]);
    expectEndsWithReleased(h.events);
  });

  it("with no running turn: one transaction, so a failure leaves the room as it was", async () => {
    const s = await server();
    const token = await s.token("acme");
    const id = (await s.json("POST", "/llm/room", { token, body: {} })).body.data.id as string;
    const sqlite = s.server.tenants.get("acme").sqlite;
    const eventsBefore = (await history(s, token, id)).events;
    sqlite.exec(failRelease);
    expect((await s.json("POST", `/llm/room/${id}/release`, { token, body: {} })).body.success).toBe(false);
    const h = await history(s, token, id);
    expect(h.room.status).toBe("rented");
    expect(h.events).toEqual(eventsBefore);
    sqlite.exec("DROP TRIGGER temp.release_fails");
    expect((await s.json("POST", `/llm/room/${id}/release`, { token, body: {} })).body.data.status).toBe("released");
  });
});
