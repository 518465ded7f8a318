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

describe("If-Match and PATCH", () => {
  it("If-Match: * means any current version (RFC 9110) on every verb that takes If-Match", async () => {
    const room = await rent({});
    const patched = await t.json("PATCH", `/llm/room/${room.id}`, { token, headers: { "if-match": "*" }, body: { metadata: { owner: "alice" } } });
    expect(patched.status).toBe(200);
    expect(patched.body.data.version).toBe(2);
    const note = await t.json("POST", `/llm/room/${room.id}/messages`, { token, headers: { "if-match": "*" }, body: { kind: "note", content: "n" } });
    expect(note.status).toBe(201);
    expect((await t.json("POST", `/llm/room/${room.id}/wake`, { token, headers: { "if-match": "*" }, body: {} })).status).toBe(200);
    expect((await t.json("POST", `/llm/room/${room.id}/release`, { token, headers: { "if-match": " * " }, body: {} })).status).toBe(200);
    // A stale number still conflicts; garbage is still 400.
    const other = await rent({});
    expect((await t.json("PATCH", `/llm/room/${other.id}`, { token, headers: { "if-match": "7" }, body: { purpose: "x" } })).status).toBe(409);
    expect((await t.json("PATCH", `/llm/room/${other.id}`, { token, headers: { "if-match": "**" }, body: { purpose: "x" } })).status).toBe(400);
  });

  it("PATCH {} (or only current values) changes nothing: same version, no room:updated", async () => {
    const room = await rent({ purpose: "p", metadata: { name: "n" }, tool_policy: { allowed_tools: ["clock"] } });
    const empty = await t.json("PATCH", `/llm/room/${room.id}`, { token, body: {} });
    expect(empty.status).toBe(200);
    expect(empty.body.data.version).toBe(1);
    expect(empty.res.headers.get("etag")).toBe('"1"');
    const same = await t.json("PATCH", `/llm/room/${room.id}`, { token, body: { purpose: "p", metadata: { name: "n" }, tool_policy: { allowed_tools: ["clock"] } } });
    expect(same.body.data.version).toBe(1);
    const events = (await t.json("GET", `/llm/room/${room.id}/history`, { token })).body.data.events as Array<{ event_type: string }>;
    expect(events.map((e) => e.event_type)).toEqual(["room:rented"]);
    // A real change still bumps it, once.
    expect((await t.json("PATCH", `/llm/room/${room.id}`, { token, body: { purpose: "q" } })).body.data.version).toBe(2);
  });
});

describe("mentions", () => {
  it("an unknown name in mentions is 400, like an unknown actor, and nothing is stored", async () => {
    const room = await rent({ agents: [{ agent_id: "first" }, { agent_id: "second" }] });
    const bad = await t.json("POST", `/llm/room/${room.id}/messages`, { token, body: { content: "hi", mentions: ["second", "nobody"] } });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe("VALIDATION_FAILED");
    expect(bad.body.details).toEqual([{ path: "mentions.1", message: "unknown actor" }]);
    expect(bad.body.message).toContain('"nobody"');
    expect((await t.json("GET", `/llm/room/${room.id}/history`, { token })).body.data.messages).toEqual([]);
    const badActor = await t.json("POST", `/llm/room/${room.id}/messages`, { token, body: { content: "hi", actor: "nobody" } });
    expect(badActor.status).toBe(400);
  });
});

describe("partial text of an interrupted or failed turn", () => {
  it("is kept as kind \"partial\" with the turn's status, never as an output, and has no agent:output", async () => {
    const room = await rent({ agents: [{ agent_id: "slow", options: { token_delay_ms: 300 } }] });
    await t.json("POST", `/llm/room/${room.id}/messages`, { token, body: { content: "tell me a long story about rooms and keys and doors" } });
    await eventually(async () => {
      const events = (await t.json("GET", `/llm/room/${room.id}/history`, { token })).body.data.events as Array<{ event_type: string }>;
      return events.some((e) => e.event_type === "pi:message_update");
    }, 10_000, "some text to stream");
    expect((await t.json("POST", `/llm/room/${room.id}/interrupt`, { token, body: {} })).status).toBe(200);
    const h = (await t.json("GET", `/llm/room/${room.id}/history`, { token })).body.data;
    const agent = h.messages.filter((m: any) => m.author_kind === "agent");
    expect(agent).toHaveLength(1);
    expect(agent[0]).toMatchObject({ kind: "partial", metadata: { partial: true, turn_status: "interrupted" } });
    expect(agent[0].content.length).toBeGreaterThan(0);
    expect(h.messages.some((m: any) => m.kind === "output")).toBe(false);
    expect(h.events.some((e: any) => e.event_type === "agent:output")).toBe(false);
    expect(h.events.find((e: any) => e.event_type === "agent:turn_end").payload.status).toBe("interrupted");

    // A failed turn's partial text too.
    const flaky = await rent({ agents: [{ agent_id: "flaky", options: { fail_after_tokens: 2 } }] });
    await t.json("POST", `/llm/room/${flaky.id}/messages`, { token, body: { content: "one two three four" } });
    await eventually(async () => (await t.json("GET", `/llm/room/${flaky.id}`, { token })).body.data.status === "failed", 10_000, "turn to fail");
    const fh = (await t.json("GET", `/llm/room/${flaky.id}/history`, { token })).body.data;
    expect(fh.messages.filter((m: any) => m.author_kind === "agent").map((m: any) => [m.kind, m.metadata.turn_status])).toEqual([["partial", "failed"]]);
  });
});
