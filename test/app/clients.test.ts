/**
 * The public Abbotik CLI and TUI (github.com/abbotik/cli), replayed: the
 * requests they send, answered in the shapes they parse
 * (/work/shared/contract/ABBOT-CLIENT.md).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/harness.js";

let t: TestServer;
let token: string;
beforeAll(async () => {
  t = await startTestServer();
  token = await t.token("acme", { sub: "alice" });
});
afterAll(() => t.close());

/** Exactly what the TUI sends for a draft room (src/tui/api.rs send_message), with a model this server has. */
const tuiDraft = (input: string, extra: Record<string, unknown> = {}) => ({ input, purpose: "tui scratch", provider: "local", model: "echo", adapter: "pi", metadata: { source: "abbot-tui" }, ...extra });

describe("POST /v1/responses (the TUI's send)", () => {
  it("without room_id: rents a room with that actor and posts the input as a task; the answer comes from result_url", async () => {
    const res = await t.json("POST", "/v1/responses", { token, body: tuiDraft("hello from the tui") });
    expect(res.status).toBe(202);
    const d = res.body.data;
    expect(d).toMatchObject({ room_created: true, status: "running" });
    expect(typeof d.room_id).toBe("string");
    expect(typeof d.request_message_id).toBe("string");
    expect(d.result_url).toBe(`/llm/room/${d.room_id}/messages/${d.request_message_id}?wait=30`);
    expect(res.res.headers.get("location")).toBe(d.result_url);

    const room = (await t.json("GET", `/llm/room/${d.room_id}`, { token })).body.data;
    expect(room).toMatchObject({ purpose: "tui scratch", metadata: { source: "abbot-tui" } });
    expect(room.actors).toEqual([expect.objectContaining({ agent_id: "assistant", provider: "local", model: "echo", adapter: "pi" })]);

    const answer = await t.json("GET", d.result_url, { token });
    expect(answer.body.data).toMatchObject({
      done: true,
      message: { id: d.request_message_id, kind: "task", author_kind: "user", author_id: "alice", content: "hello from the tui", metadata: { source: "abbot-tui" } },
      output: { kind: "output", author_kind: "agent", content: "Echo: hello from the tui" },
    });
  });

  it("with room_id: posts to that room and ignores provider/model/adapter/purpose (the TUI always sends its own)", async () => {
    const room = (await t.json("POST", "/llm/room", { token, body: { purpose: "kept" } })).body.data.id;
    const body = { input: "second", room_id: room, provider: "openrouter", model: "openai/gpt-5.4", adapter: "pi", purpose: "ignored", metadata: { source: "abbot-tui" } };
    const res = await t.json("POST", "/v1/responses", { token, body });
    expect(res.status).toBe(202);
    expect(res.body.data).toMatchObject({ room_id: room, room_created: false, status: "running" });
    const after = (await t.json("GET", `/llm/room/${room}`, { token })).body.data;
    expect(after.purpose).toBe("kept");
    expect(after.actors[0]).toMatchObject({ provider: "local", model: "echo" });
    expect((await t.json("GET", `/llm/room?status=rented,active,idle`, { token })).body.data.filter((r: { purpose: string }) => r.purpose === "ignored")).toEqual([]);
  });

  it("errors as the room routes: unknown model 400 (and no room), unknown or another tenant's room 404, released room 409, bad body 400", async () => {
    const before = (await t.json("GET", "/llm/room?limit=200", { token })).body.data.length;
    const unknown = await t.json("POST", "/v1/responses", { token, body: tuiDraft("x", { provider: "openrouter", model: "openai/gpt-5.4" }) });
    expect(unknown.status).toBe(400);
    expect(unknown.body.code).toBe("UNKNOWN_MODEL");
    expect((await t.json("GET", "/llm/room?limit=200", { token })).body.data.length).toBe(before);

    const other = (await t.json("POST", "/llm/room", { token: await t.token("globex"), body: {} })).body.data.id;
    const foreign = await t.json("POST", "/v1/responses", { token, body: { input: "x", room_id: other } });
    expect(foreign.status).toBe(404);
    expect(foreign.body.code).toBe("ROOM_NOT_FOUND");
    expect((await t.json("POST", "/v1/responses", { token, body: { input: "x", room_id: "not-a-room" } })).status).toBe(404);

    const released = (await t.json("POST", "/llm/room", { token, body: {} })).body.data.id;
    await t.json("POST", `/llm/room/${released}/release`, { token, body: {} });
    const gone = await t.json("POST", "/v1/responses", { token, body: { input: "x", room_id: released } });
    expect(gone.status).toBe(409);
    expect(gone.body.code).toBe("ROOM_RELEASED");

    const empty = await t.json("POST", "/v1/responses", { token, body: { input: "" } });
    expect(empty.status).toBe(400);
    expect(empty.body.message).toMatch(/^invalid body: input: /);
  });

  it("access as the room routes: renting needs full, posting edit, read may not send", async () => {
    const edit = await t.token("acme", { access: "edit" });
    const rentAsEdit = await t.json("POST", "/v1/responses", { token: edit, body: tuiDraft("x") });
    expect(rentAsEdit.status).toBe(403);
    expect(rentAsEdit.body.message).toContain("access full or higher; this one has edit");
    const room = (await t.json("POST", "/llm/room", { token, body: {} })).body.data.id;
    expect((await t.json("POST", "/v1/responses", { token: edit, body: { input: "x", room_id: room } })).status).toBe(202);
    const read = await t.json("POST", "/v1/responses", { token: await t.token("acme", { access: "read" }), body: { input: "x", room_id: room } });
    expect(read.status).toBe(403);
    expect(read.body.message).toContain("access edit or higher; this one has read");
    expect((await t.json("POST", "/v1/responses", { body: { input: "x" } })).status).toBe(401);
  });

  it("Idempotency-Key: a retry replays the first answer and rents no second room", async () => {
    const headers = { "idempotency-key": "tui-send-1" };
    const count = async () => (await t.json("GET", "/llm/room?limit=200", { token })).body.data.length as number;
    const before = await count();
    const first = await t.json("POST", "/v1/responses", { token, headers, body: tuiDraft("once") });
    expect(first.status).toBe(202);
    expect(await count()).toBe(before + 1);
    const again = await t.json("POST", "/v1/responses", { token, headers, body: tuiDraft("once") });
    expect(again.status).toBe(202);
    expect(again.res.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body).toEqual(first.body);
    expect(await count()).toBe(before + 1);
    const reused = await t.json("POST", "/v1/responses", { token, headers, body: tuiDraft("other") });
    expect(reused.status).toBe(422);
  });

  it("a turn the server refuses (global stop) rents nothing: room and message are one transaction", async () => {
    const operator = await t.token("ops", { operator: true });
    expect((await t.json("POST", "/llm/operator/stop", { token: operator, body: { active: true, reason: "drill" } })).status).toBe(200);
    try {
      const before = (await t.json("GET", "/llm/room?limit=200", { token })).body.data.length;
      const res = await t.json("POST", "/v1/responses", { token, body: tuiDraft("during the stop") });
      expect(res.status).toBe(503);
      expect(res.body.code).toBe("GLOBAL_STOP_ACTIVE");
      expect((await t.json("GET", "/llm/room?limit=200", { token })).body.data.length).toBe(before);
    } finally {
      await t.json("POST", "/llm/operator/stop", { token: operator, body: { active: false } });
    }
  });

  it("a queued prompt answers status queued and its answer arrives after the running turn", async () => {
    const room = (await t.json("POST", "/llm/room", { token, body: { agents: [{ agent_id: "a", options: { token_delay_ms: 100 } }] } })).body.data.id;
    expect((await t.json("POST", "/v1/responses", { token, body: { input: "first one two three", room_id: room } })).body.data.status).toBe("running");
    const second = await t.json("POST", "/v1/responses", { token, body: { input: "second", room_id: room } });
    expect(second.body.data.status).toBe("queued");
    const answer = await t.json("GET", `${second.body.data.result_url.replace("wait=30", "wait=60")}`, { token });
    expect(answer.body.data).toMatchObject({ done: true, output: { content: "Echo: second" } });
  });
});

describe("GET /api/user/introspect (the CLI's doctor)", () => {
  it("answers the caller's principal in the envelope", async () => {
    const res = await t.json("GET", "/api/user/introspect", { token });
    expect(res.status).toBe(200);
    expect(res.body.success).toBe(true);
    expect(res.body.data).toMatchObject({ tenant: "acme", sub: "alice", access: "full", operator: false });
    const exp = Date.parse(res.body.data.expires_at);
    expect(exp).toBeGreaterThan(Date.now());
    expect(exp).toBeLessThanOrEqual(Date.now() + 3600_000 + 1000);
  });

  it("shows the least privilege of a token without access, the operator flag, and 401s a bad token", async () => {
    const bare = await t.signRaw({ sub: "bob", tenant: "acme", iss: "roomservice", aud: "roomservice", exp: Math.floor(Date.now() / 1000) + 600 });
    expect((await t.json("GET", "/api/user/introspect", { token: bare })).body.data).toMatchObject({ sub: "bob", access: "read", operator: false });
    expect((await t.json("GET", "/api/user/introspect", { token: await t.token("ops", { operator: true }) })).body.data.operator).toBe(true);
    const none = await t.json("GET", "/api/user/introspect");
    expect(none.status).toBe(401);
    expect(none.body.code).toBe("AUTH_REQUIRED");
    expect((await t.json("GET", "/api/user/introspect", { token: "garbage" })).status).toBe(401);
  });
});

describe("room list as the TUI parses it", () => {
  it("every room has a string purpose, even one rented bare (one null used to fail the whole list)", async () => {
    await t.json("POST", "/llm/room", { token, body: {} });
    const rooms = (await t.json("GET", "/llm/room?limit=200", { token })).body.data as Array<Record<string, unknown>>;
    expect(rooms.length).toBeGreaterThan(0);
    for (const r of rooms) {
      expect(typeof r["purpose"], String(r["id"])).toBe("string");
      expect(typeof r["id"]).toBe("string");
      expect(typeof r["status"]).toBe("string");
    }
  });
});
