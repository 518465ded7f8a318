/**
 * GET /llm/room/:id/messages/:message_id?wait=: a client waits for its
 * answer without polling. It wakes on the room's events, bounds the wait,
 * counts as a follower, and gives everything back when the client leaves.
 */
import { connect, type AddressInfo } from "node:net";
import { serve, type ServerType } from "@hono/node-server";
import { afterEach, describe, expect, it } from "vitest";
import { eventually, startTestServer, type TestServer } from "../support/harness.js";

let t: TestServer | undefined;
let http: ServerType | undefined;
afterEach(async () => {
  if (http) await new Promise<void>((r) => http!.close(() => r()));
  http = undefined;
  await t?.close();
  t = undefined;
});

async function setup(opts: Parameters<typeof startTestServer>[0] = {}) {
  t = await startTestServer(opts);
  const token = await t.token("acme");
  const rent = async (body: unknown) => (await t!.json("POST", "/llm/room", { token, body })).body.data.id as string;
  const post = async (room: string, body: unknown) => {
    const res = await t!.json("POST", `/llm/room/${room}/messages`, { token, body });
    expect([201, 202]).toContain(res.status);
    return res.body.data as { id: string; status: string };
  };
  const get = (room: string, message: string, wait?: number) => t!.json("GET", `/llm/room/${room}/messages/${message}${wait === undefined ? "" : `?wait=${wait}`}`, { token });
  return { t, token, rent, post, get };
}

describe("reading a message", () => {
  it("without wait: answers at once with the current state, then the answer once the turn has ended", async () => {
    const { rent, post, get, t } = await setup();
    const room = await rent({ agents: [{ agent_id: "slow", options: { token_delay_ms: 200, reply: "one two three four five" } }] });
    const msg = await post(room, { content: "hi" });
    const now = await get(room, msg.id);
    expect(now.status).toBe(200);
    expect(now.body.data).toMatchObject({ done: false, output: null, reason: "running: its turn has not ended yet", message: { id: msg.id, status: "running" } });
    expect(now.body.data.turn).toMatchObject({ status: "running", agent_id: "slow" });
    await eventually(async () => (await t.json("GET", `/llm/room/${room}`, { token: await t.token("acme") })).body.data.status === "idle", 15_000, "turn end");
    const later = await get(room, msg.id);
    expect(later.body.data).toMatchObject({ done: true, reason: null, partial: null, message: { status: "done" }, output: { kind: "output", content: "one two three four five", author_kind: "agent" } });
    expect(later.body.data.turn.status).toBe("completed");
  });

  it("a note is done at once, with why no turn answers it; an unknown message is 404 MESSAGE_NOT_FOUND", async () => {
    const { rent, post, get } = await setup();
    const room = await rent({});
    const note = await post(room, { kind: "note", content: "remember" });
    const res = await get(room, note.id, 30);
    expect(res.body.data).toMatchObject({ done: true, turn: null, output: null, reason: "a note is stored without a turn" });
    const missing = await get(room, "00000000-0000-4000-8000-000000000000");
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe("MESSAGE_NOT_FOUND");
    expect((await get(room, note.id, 61)).status).toBe(400);
  });
});

describe("long poll", () => {
  it("answers as soon as the turn ends, woken by the room's events (one bus subscription while it waits, none after)", async () => {
    const { rent, post, get, t } = await setup();
    const room = await rent({ agents: [{ agent_id: "slow", options: { token_delay_ms: 200, reply: "a b c d e f g h i j" } }] });
    const msg = await post(room, { content: "go" });
    const bus = t.server.events.bus;
    const waiting = get(room, msg.id, 60);
    await eventually(() => bus.subscriberCount({ tenant: "acme", kind: "room", streamId: room }) === 1 && t.server.rooms.followerCount("acme", room) === 1, 10_000, "the wait to subscribe");
    const res = await waiting;
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ done: true, output: { content: "a b c d e f g h i j" }, turn: { status: "completed" } });
    expect(bus.subscriberCount({ tenant: "acme", kind: "room", streamId: room })).toBe(0);
    expect(t.server.rooms.followerCount("acme", room)).toBe(0);
  });

  it("at the timeout answers the current state: a queued message in a manual room", async () => {
    const { rent, post, get, t } = await setup();
    const room = await rent({ wake_policy: { mode: "manual" } });
    const msg = await post(room, { content: "later" });
    const res = await get(room, msg.id, 1);
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ done: false, output: null, message: { status: "queued" } });
    expect(res.body.data.reason).toMatch(/^queued/);
    expect(t.server.events.bus.subscriberCount({ tenant: "acme", kind: "room", streamId: room })).toBe(0);
    expect(t.server.rooms.followerCount("acme", room)).toBe(0);
  });

  it("an interrupted turn: done with the partial text and the reason", async () => {
    const { rent, post, get, t, token } = await setup();
    const room = await rent({ agents: [{ agent_id: "slow", options: { token_delay_ms: 300 } }] });
    const msg = await post(room, { content: "tell me a long story about rooms and doors" });
    const waiting = get(room, msg.id, 60);
    await eventually(async () => {
      const h = (await t.json("GET", `/llm/room/${room}/history`, { token })).body.data;
      return t.server.rooms.followerCount("acme", room) === 1 && h.events.some((e: any) => e.event_type === "pi:message_update");
    }, 10_000, "text to stream while waiting");
    expect((await t.json("POST", `/llm/room/${room}/interrupt`, { token, body: {} })).status).toBe(200);
    const res = await waiting;
    expect(res.body.data).toMatchObject({ done: true, output: null, turn: { status: "interrupted" }, partial: { kind: "partial" }, message: { status: "cancelled" } });
    expect(res.body.data.reason).toMatch(/interrupted/);
  });

  it("a failed turn: done with the failure's code in the reason", async () => {
    const { rent, post, get } = await setup();
    const room = await rent({ agents: [{ agent_id: "flaky", options: { fail_after_tokens: 1, token_delay_ms: 50 } }] });
    const msg = await post(room, { content: "one two three" });
    const res = await get(room, msg.id, 60);
    expect(res.body.data).toMatchObject({ done: true, output: null, message: { status: "failed" }, turn: { status: "failed", error: { code: "PROVIDER_ERROR" } } });
    expect(res.body.data.reason).toMatch(/^the turn failed: PROVIDER_ERROR: /);
  });

  it("a queued message whose room is released while waiting: done, cancelled", async () => {
    const { rent, post, get, t, token } = await setup();
    const room = await rent({ wake_policy: { mode: "manual" } });
    const msg = await post(room, { content: "later" });
    const waiting = get(room, msg.id, 60);
    await eventually(() => t.server.rooms.followerCount("acme", room) === 1, 10_000, "the wait to start");
    expect((await t.json("POST", `/llm/room/${room}/release`, { token, body: {} })).status).toBe(200);
    const res = await waiting;
    expect(res.body.data).toMatchObject({ done: true, turn: null, message: { status: "cancelled" } });
    expect(res.body.data.reason).toMatch(/^cancelled before its turn ran/);
  });

  it("counts as a follower: past MAX_FOLLOWERS_PER_ROOM a second wait is 429", async () => {
    const { rent, post, get, t } = await setup({ limits: { maxFollowersPerRoom: 1 } });
    const room = await rent({ wake_policy: { mode: "manual" } });
    const msg = await post(room, { content: "later" });
    const first = get(room, msg.id, 60);
    await eventually(() => t.server.rooms.followerCount("acme", room) === 1, 10_000, "the first wait");
    const second = await get(room, msg.id, 5);
    expect(second.status).toBe(429);
    expect(second.body.code).toBe("QUOTA_EXCEEDED");
    // A wait that needs no waiting takes no slot.
    expect((await get(room, msg.id)).status).toBe(200);
    await t.json("POST", `/llm/room/${room}/release`, { token: await t.token("acme"), body: {} });
    expect((await first).body.data.done).toBe(true);
  });

  it("a client that leaves gives back its bus subscription, follower slot and tenant file at once", async () => {
    const { rent, post, t, token } = await setup();
    http = serve({ fetch: t.server.app.fetch, hostname: "127.0.0.1", port: 0 });
    await new Promise<void>((r) => (http!.listening ? r() : http!.once("listening", () => r())));
    const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    const room = await rent({ wake_policy: { mode: "manual" } });
    const msg = await post(room, { content: "later" });
    const controller = new AbortController();
    const pending = fetch(`${base}/llm/room/${room}/messages/${msg.id}?wait=60`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
    await eventually(() => t.server.events.bus.subscriberCount({ tenant: "acme", kind: "room", streamId: room }) === 1 && t.server.rooms.followerCount("acme", room) === 1, 10_000, "the wait to start");
    controller.abort();
    await expect(pending).rejects.toThrow();
    await eventually(() => t.server.events.bus.subscriberCount({ tenant: "acme", kind: "room", streamId: room }) === 0 && t.server.rooms.followerCount("acme", room) === 0, 10_000, "the wait to be given back");
    // Nothing holds the tenant's file any more: it can be closed.
    await eventually(() => {
      t.server.tenants.closeIfUnheld("acme");
      return !t.server.tenants.isOpen("acme");
    }, 10_000, "the tenant file to be unheld");
  });

  it("long polls pipelined on one connection give their slots back when the connection drops, not when their waits end", async () => {
    const { rent, post, t, token } = await setup({ limits: { maxFollowersPerRoom: 5 } });
    http = serve({ fetch: t.server.app.fetch, hostname: "127.0.0.1", port: 0 });
    await new Promise<void>((r) => (http!.listening ? r() : http!.once("listening", () => r())));
    const port = (http.address() as AddressInfo).port;
    const room = await rent({ wake_policy: { mode: "manual" } });
    const msg = await post(room, { content: "later" });
    const socket = connect(port, "127.0.0.1");
    await new Promise<void>((r) => socket.once("connect", () => r()));
    const wait = `GET /llm/room/${room}/messages/${msg.id}?wait=60 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n\r\n`;
    // Three waits on one connection: the first owns the socket, the other two are answered after it (HTTP/1.1).
    socket.write(wait.repeat(3));
    await eventually(() => t.server.rooms.followerCount("acme", room) === 3, 10_000, "the three waits to start");
    socket.resetAndDestroy();
    await eventually(() => t.server.rooms.followerCount("acme", room) === 0, 10_000, "every wait to be given back");
    expect(t.server.events.bus.subscriberCount({ tenant: "acme", kind: "room", streamId: room })).toBe(0);
  });
});
