import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/harness.js";

let t: TestServer;
let token: string;
beforeEach(async () => {
  t = await startTestServer();
  token = await t.token("acme", { sub: "alice" });
});
afterEach(() => t.close());

const rent = (body: unknown = {}) => t.json("POST", "/llm/room", { token, body });

describe("POST /llm/room", () => {
  it("rents a room with every default and the echo actor", async () => {
    const res = await rent({ purpose: "math scratch", metadata: { name: "math" } });
    expect(res.status).toBe(201);
    expect(res.res.headers.get("location")).toBe(`/llm/room/${res.body.data.id}`);
    const room = res.body.data;
    expect(room).toMatchObject({
      tenant: "acme",
      status: "rented",
      purpose: "math scratch",
      metadata: { name: "math" },
      tool_policy: { allowed_tools: [], max_tool_calls: 8 },
      wake_policy: { mode: "on_message", idle_timeout_s: 300, release_after_s: 86400 },
      done_policy: { max_turn_s: 120, max_output_tokens: 4096, max_steps: 8 },
      version: 1,
      last_active_at: null,
      released_at: null,
      last_error: null,
      queued_message_id: null,
      active_turn: null,
      usage: { input: 0, output: 0, totalTokens: 0, cost: { total: 0 } },
      summary_text: null,
    });
    expect(room.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(room.actors).toEqual([
      { agent_id: "assistant", role: "assistant", adapter: "pi", provider: "local", model: "echo", skills: [], system_prompt: null, muted: false, options: {} },
    ]);
  });

  it("accepts actors as an alias of agents and fills actor defaults", async () => {
    const res = await rent({ actors: [{ agent_id: "math-agent", adapter: "codex", options: { reply: "hi" } }] });
    expect(res.status).toBe(201);
    expect(res.body.data.actors[0]).toMatchObject({ agent_id: "math-agent", adapter: "codex", provider: "local", model: "echo", options: { reply: "hi" } });
  });

  it("emits room:rented with the actors as the first event", async () => {
    const id = (await rent()).body.data.id;
    const h = await t.json("GET", `/llm/room/${id}/history`, { token });
    expect(h.body.data.events.map((e: any) => [e.seq, e.event_type])).toEqual([[1, "room:rented"]]);
    expect(h.body.data.events[0].payload.actors[0].agent_id).toBe("assistant");
  });

  it("refuses an unknown model with 400 UNKNOWN_MODEL and stores nothing", async () => {
    const res = await rent({ agents: [{ agent_id: "a", provider: "openai", model: "gpt-nope" }] });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("UNKNOWN_MODEL");
    expect((await t.json("GET", "/llm/room", { token })).body.data).toHaveLength(0);
  });

  it("refuses an unknown tool with 400 UNKNOWN_TOOL", async () => {
    const res = await rent({ tool_policy: { allowed_tools: ["rm_rf"] } });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("UNKNOWN_TOOL");
  });

  it("refuses server-owned and unknown fields (mass assignment)", async () => {
    for (const evil of [{ id: "00000000-0000-4000-8000-000000000000" }, { status: "active" }, { version: 99 }, { tenant: "globex" }, { usage: {} }, { surprise: 1 }]) {
      const res = await rent(evil);
      expect(res.status, JSON.stringify(evil)).toBe(400);
      expect(res.body.code).toBe("VALIDATION_FAILED");
      expect(res.body.details.length).toBeGreaterThan(0);
    }
    expect((await t.json("GET", "/llm/room", { token })).body.data).toHaveLength(0);
  });

  it("lists every validation issue with its path", async () => {
    const res = await rent({ done_policy: { max_turn_s: 0, max_steps: "x" }, wake_policy: { mode: "sometimes" } });
    expect(res.status).toBe(400);
    const paths = res.body.details.map((d: any) => d.path).sort();
    expect(paths).toEqual(["done_policy.max_steps", "done_policy.max_turn_s", "wake_policy.mode"]);
  });

  it("refuses duplicate agent ids", async () => {
    const res = await rent({ agents: [{ agent_id: "a" }, { agent_id: "a" }] });
    expect(res.status).toBe(400);
    expect(res.body.details[0].path).toBe("agents.1.agent_id");
  });
});

describe("GET /llm/room and /llm/room/:id", () => {
  it("reads a room; unknown and malformed ids are 404", async () => {
    const id = (await rent()).body.data.id;
    const got = await t.json("GET", `/llm/room/${id}`, { token });
    expect(got.status).toBe(200);
    expect(got.body.data.id).toBe(id);
    expect(got.res.headers.get("etag")).toBe('"1"');
    expect((await t.json("GET", "/llm/room/00000000-0000-4000-8000-000000000000", { token })).body.code).toBe("ROOM_NOT_FOUND");
    const bad = await t.json("GET", "/llm/room/not-a-uuid'; DROP TABLE rooms;--", { token });
    expect(bad.status).toBe(404);
    expect(bad.body.code).toBe("ROOM_NOT_FOUND");
  });

  it("filters by status and name, hides released by default, and pages with a cursor", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await rent({ metadata: { name: i % 2 ? "odd" : "even" } })).body.data.id);
    await t.json("POST", `/llm/room/${ids[0]}/release`, { token, body: {} });

    const all = await t.json("GET", "/llm/room", { token });
    expect(all.body.data.map((r: any) => r.id).sort()).toEqual(ids.slice(1).sort());
    expect(all.body.meta.next_cursor).toBeNull();

    const released = await t.json("GET", "/llm/room?status=released", { token });
    expect(released.body.data.map((r: any) => r.id)).toEqual([ids[0]]);

    const odd = await t.json("GET", "/llm/room?name=odd", { token });
    expect(odd.body.data.map((r: any) => r.id).sort()).toEqual([ids[1], ids[3]].sort());

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: any = await t.json("GET", `/llm/room?status=rented,released&limit=2${cursor ? `&cursor=${cursor}` : ""}`, { token });
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.data.map((r: any) => r.id));
      cursor = page.body.meta.next_cursor;
      pages++;
    } while (cursor && pages < 10);
    expect(seen.sort()).toEqual([...ids].sort());
    expect(new Set(seen).size).toBe(5);
  });

  it("rejects a bad status filter, limit and cursor with 400", async () => {
    expect((await t.json("GET", "/llm/room?status=bogus", { token })).status).toBe(400);
    expect((await t.json("GET", "/llm/room?limit=0", { token })).status).toBe(400);
    expect((await t.json("GET", "/llm/room?limit=abc", { token })).status).toBe(400);
    const bad = await t.json("GET", "/llm/room?cursor=garbage", { token });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe("VALIDATION_FAILED");
  });
});

describe("PATCH /llm/room/:id", () => {
  it("merges metadata, merges policies, bumps version and emits room:updated", async () => {
    const id = (await rent({ metadata: { name: "math", keep: 1, drop: true } })).body.data.id;
    const res = await t.json("PATCH", `/llm/room/${id}`, { token, body: { metadata: { name: "algebra", drop: null }, done_policy: { max_turn_s: 30 } } });
    expect(res.status).toBe(200);
    expect(res.body.data.metadata).toEqual({ name: "algebra", keep: 1 });
    expect(res.body.data.done_policy).toEqual({ max_turn_s: 30, max_output_tokens: 4096, max_steps: 8 });
    expect(res.body.data.version).toBe(2);
    const h = await t.json("GET", `/llm/room/${id}/history`, { token });
    const ev = h.body.data.events.at(-1);
    expect(ev.event_type).toBe("room:updated");
    expect(ev.seq).toBe(2);
    expect(ev.payload).toEqual({ changes: ["metadata", "done_policy"], version: 2 });
    expect((await t.json("GET", "/llm/room?name=algebra", { token })).body.data).toHaveLength(1);
  });

  it("replaces the roster and validates its models", async () => {
    const id = (await rent()).body.data.id;
    const ok = await t.json("PATCH", `/llm/room/${id}`, { token, body: { agents: [{ agent_id: "a" }, { agent_id: "b", muted: true }] } });
    expect(ok.body.data.actors.map((a: any) => a.agent_id)).toEqual(["a", "b"]);
    const bad = await t.json("PATCH", `/llm/room/${id}`, { token, body: { agents: [{ agent_id: "a", model: "nope" }] } });
    expect(bad.body.code).toBe("UNKNOWN_MODEL");
    expect((await t.json("GET", `/llm/room/${id}`, { token })).body.data.version).toBe(2);
  });

  it("honours If-Match: a stale version is 409 VERSION_CONFLICT and changes nothing", async () => {
    const id = (await rent()).body.data.id;
    expect((await t.json("PATCH", `/llm/room/${id}`, { token, body: { purpose: "a" }, headers: { "if-match": "1" } })).status).toBe(200);
    const stale = await t.json("PATCH", `/llm/room/${id}`, { token, body: { purpose: "b" }, headers: { "if-match": '"1"' } });
    expect(stale.status).toBe(409);
    expect(stale.body.code).toBe("VERSION_CONFLICT");
    expect(stale.body.details.current_version).toBe(2);
    const room = (await t.json("GET", `/llm/room/${id}`, { token })).body.data;
    expect(room.purpose).toBe("a");
    expect(room.version).toBe(2);
    expect((await t.json("PATCH", `/llm/room/${id}`, { token, body: { purpose: "c" }, headers: { "if-match": "banana" } })).status).toBe(400);
  });

  it("refuses server-owned fields and a released room", async () => {
    const id = (await rent()).body.data.id;
    for (const evil of [{ status: "active" }, { version: 7 }, { id }, { tenant: "x" }]) {
      expect((await t.json("PATCH", `/llm/room/${id}`, { token, body: evil })).status).toBe(400);
    }
    await t.json("POST", `/llm/room/${id}/release`, { token, body: {} });
    const res = await t.json("PATCH", `/llm/room/${id}`, { token, body: { purpose: "late" } });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("ROOM_RELEASED");
  });
});
