/**
 * Follower slots and the end of a follow stream, over a real socket: every way
 * a follow response can end gives its slot back, and a follower of a released
 * room ends whatever its resume point.
 */
import { connect, type Socket } from "node:net";
import { serve, type ServerType } from "@hono/node-server";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { eventually, startTestServer, type TestServer } from "../support/harness.js";
import { parseFrames } from "../support/sse-client.js";

let t: TestServer;
let http: ServerType;
let port: number;
let token: string;

beforeEach(async () => {
  t = await startTestServer({ env: { RATE_LIMIT_RPS: "0" }, limits: { maxFollowersPerRoom: 5 } });
  token = await t.token("acme", { access: "read" });
  await new Promise<void>((resolve) => {
    http = serve({ fetch: t.server.app.fetch, hostname: "127.0.0.1", port: 0 }, (info) => {
      port = info.port;
      resolve();
    });
  });
});
afterEach(async () => {
  (http as any).closeAllConnections?.();
  await new Promise((r) => http.close(r));
  await t.close();
});

const rent = async () => (await t.json("POST", "/llm/room", { token: await t.token("acme"), body: {} })).body.data.id as string;

function openSocket(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () => resolve(s));
    s.once("error", reject);
  });
}

const followRequest = (id: string, extra = "") =>
  `GET /llm/room/${id}/events?follow=true HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n${extra}\r\n`;

describe("follower slots", () => {
  it("25 pipelined follow requests on one connection give every slot back when the connection closes", async () => {
    const id = await rent();
    const s = await openSocket();
    let received = "";
    s.on("data", (d) => (received += d.toString("latin1")));
    s.write(Array.from({ length: 25 }, () => followRequest(id)).join(""));
    // The first response is streaming: its replay reached the client.
    await eventually(() => received.includes("room:rented"), 5000, "first stream's replay");
    s.resetAndDestroy(); // a connection reset, not a clean close
    await eventually(() => t.server.rooms.followerCount("acme", id) === 0, 5000, "every follower slot released");
    // A later follower is admitted, not 429.
    const c = new AbortController();
    const res = await t.server.app.request(`/llm/room/${id}/events?follow=true`, { headers: { authorization: `Bearer ${token}` }, signal: c.signal });
    expect(res.status).toBe(200);
    c.abort();
  });
});

describe("the end of a follow stream", () => {
  it("a follower resumed ahead of the log ends when the room is released", async () => {
    const id = await rent();
    const full = await t.token("acme");
    const s = await openSocket();
    let received = "";
    s.on("data", (d) => (received += d.toString("latin1")));
    s.write(followRequest(id, "Last-Event-ID: 1000\r\n"));
    await eventually(() => t.server.rooms.followerCount("acme", id) === 1, 5000, "follower attached");
    expect((await t.json("POST", `/llm/room/${id}/release`, { token: full, body: {} })).status).toBe(200);
    // The chunked body's last chunk: the response is complete.
    await eventually(() => received.endsWith("\r\n0\r\n\r\n"), 5000, "the stream to end");
    expect(received).toMatch(/^HTTP\/1.1 200/);
    // It had seen "up to 1000", so nothing is replayed to it; the stream just ends.
    expect(parseFrames(received.slice(received.indexOf("\r\n\r\n") + 4)).filter((f) => f.event)).toEqual([]);
    await eventually(() => t.server.rooms.followerCount("acme", id) === 0, 5000, "slot released");
    s.destroy();
  });
});

describe("resume point", () => {
  it("Last-Event-ID may be the event record's own id, <room>:<seq>; another room's id is 400", async () => {
    const id = await rent();
    const full = await t.token("acme");
    for (let i = 0; i < 3; i++) await t.json("POST", `/llm/room/${id}/messages`, { token: full, body: { kind: "note", content: `n${i}` } });
    const all = parseFrames(await (await t.req("GET", `/llm/room/${id}/events`, { token })).text()).filter((f) => f.data);
    const second = JSON.parse(all[1]!.data!);
    expect(second.id).toBe(`${id}:2`);
    const resumed = await t.req("GET", `/llm/room/${id}/events`, { token, headers: { "last-event-id": second.id } });
    expect(resumed.status).toBe(200);
    const ids = parseFrames(await resumed.text()).filter((f) => f.data).map((f) => Number(f.id));
    expect(ids).toEqual(all.slice(2).map((f) => Number(f.id)));
    const viaQuery = await t.req("GET", `/llm/room/${id}/events?after=${encodeURIComponent(second.id)}`, { token });
    expect(parseFrames(await viaQuery.text()).filter((f) => f.data).map((f) => Number(f.id))).toEqual(ids);
    const other = await t.json("GET", `/llm/room/${id}/events`, { token, headers: { "last-event-id": `${await rent()}:2` } });
    expect(other.status).toBe(400);
    expect(other.body.code).toBe("VALIDATION_FAILED");
  });
});
