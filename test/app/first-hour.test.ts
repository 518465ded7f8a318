/**
 * What a new user and the public Abbotik clients hit in their first hour:
 * each case below was reproduced against the server before it was fixed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, startTestServer, type TestServer } from "../support/harness.js";

let t: TestServer;
let token: string;
beforeAll(async () => {
  t = await startTestServer();
  token = await t.token("acme");
});
afterAll(() => t.close());

const rent = async (body: unknown = {}) => {
  const res = await t.json("POST", "/llm/room", { token, body });
  expect(res.status).toBe(201);
  return res.body.data as { id: string; purpose: unknown; version: number };
};

describe("purpose is always a string", () => {
  it("a room rented without one reads purpose \"\" everywhere a client parses it", async () => {
    const room = await rent({ metadata: { name: "no-purpose" } });
    expect(room.purpose).toBe("");
    expect((await t.json("GET", `/llm/room/${room.id}`, { token })).body.data.purpose).toBe("");
    const listed = (await t.json("GET", "/llm/room", { token })).body.data as Array<{ id: string; purpose: unknown }>;
    expect(listed.find((r) => r.id === room.id)!.purpose).toBe("");
    expect((await t.json("GET", `/llm/room/${room.id}/history`, { token })).body.data.room.purpose).toBe("");
  });

  it("a purpose PATCHed to null reads \"\"", async () => {
    const room = await rent({ purpose: "scratch" });
    const patched = await t.json("PATCH", `/llm/room/${room.id}`, { token, body: { purpose: null } });
    expect(patched.status).toBe(200);
    expect(patched.body.data.purpose).toBe("");
  });
});

describe("finding a room by name", () => {
  it("GET /llm/room?name= returns only the rooms whose metadata.name matches", async () => {
    const a = await rent({ metadata: { name: "alpha" } });
    await rent({ metadata: { name: "beta" } });
    await rent({});
    const res = await t.json("GET", "/llm/room?name=alpha", { token });
    expect(res.status).toBe(200);
    expect((res.body.data as Array<{ id: string }>).map((r) => r.id)).toEqual([a.id]);
    expect((await t.json("GET", "/llm/room?name=nobody", { token })).body.data).toEqual([]);
  });
});

describe("error text", () => {
  it("names the place once: \"invalid body: purpose: ...\", not \"invalid body: body.purpose: ...\"", async () => {
    const res = await t.json("POST", "/llm/room", { token, body: { purpose: 42 } });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/^invalid body: purpose: /);
    expect(res.body.details[0].path).toBe("purpose");
    const q = await t.json("GET", "/llm/room?limit=0", { token });
    expect(q.body.message).toMatch(/^invalid query: limit: /);
  });
});

describe("DELETE /llm/room/:id", () => {
  it("is 405 with Allow, pointing at POST .../release, and changes nothing", async () => {
    const room = await rent({});
    const res = await t.json("DELETE", `/llm/room/${room.id}`, { token });
    expect(res.status).toBe(405);
    expect(res.body.code).toBe("METHOD_NOT_ALLOWED");
    expect(res.res.headers.get("allow")).toBe("GET, PATCH");
    expect(res.body.message).toContain(`POST /llm/room/${room.id}/release`);
    expect((await t.json("GET", `/llm/room/${room.id}`, { token })).body.data.status).toBe("rented");
    expect((await t.json("DELETE", `/llm/room/${room.id}`)).status).toBe(401);
  });
});

describe("rentRoom in the OpenAPI document", () => {
  it("lists Idempotency-Key but not If-Match, which renting does not use", async () => {
    const doc = (await t.json("GET", "/openapi.json")).body;
    const params = (doc.paths["/llm/room"].post.parameters ?? []) as Array<{ name: string }>;
    const names = params.map((p) => p.name.toLowerCase());
    expect(names).toContain("idempotency-key");
    expect(names).not.toContain("if-match");
  });
});

describe("a tool the room's policy does not allow", () => {
  it("is refused naming the room's tool_policy, not as a tool that does not exist", async () => {
    const room = await rent({ agents: [{ agent_id: "a", options: { tool_call: { name: "calculator", args: { expression: "1+1" } } } }] });
    expect((await t.json("POST", `/llm/room/${room.id}/messages`, { token, body: { content: "add" } })).status).toBe(202);
    await eventually(async () => (await t.json("GET", `/llm/room/${room.id}`, { token })).body.data.status === "idle", 10_000, "turn to end");
    const events = (await t.json("GET", `/llm/room/${room.id}/history`, { token })).body.data.events as Array<{ event_type: string; payload: Record<string, unknown> }>;
    const end = events.find((e) => e.event_type === "pi:tool_execution_end")!;
    expect(end.payload).toMatchObject({ tool_name: "calculator", is_error: true });
    expect(end.payload["result"]).toMatch(/^Tool calculator was not run: this room's tool_policy does not allow it \(allowed_tools: none\)/);
  });

  it("the room guide names the built-in tools and when local/echo calls one", async () => {
    const guide = await (await t.req("GET", "/docs/llm/room")).text();
    const tools = guide.slice(guide.indexOf("## Tools"));
    expect(tools).toMatch(/\| `calculator` \|/);
    expect(tools).toMatch(/\| `clock` \|/);
    expect(tools).toContain("options.tool_call");
    expect(tools).toContain("tool_policy does not allow it");
  });
});
