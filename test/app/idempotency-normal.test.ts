/**
 * Idempotency-Key retries as real clients send them: the same request spelled
 * differently (a trailing slash, a quoted If-Match) is the same request, and
 * the replayed answer carries the headers of the first.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/harness.js";

let t: TestServer;
let token: string;
beforeEach(async () => {
  t = await startTestServer({ env: { RATE_LIMIT_RPS: "0" } });
  token = await t.token("acme", { sub: "alice" });
});
afterEach(() => t.close());

const key = (k: string, extra: Record<string, string> = {}) => ({ "idempotency-key": k, ...extra });

describe("Idempotency-Key, normalised", () => {
  it("/llm/room/ and /llm/room are one scope: the retry replays and rents nothing more", async () => {
    const first = await t.json("POST", "/llm/room", { token, body: { purpose: "one" }, headers: key("rent-slash") });
    expect(first.status).toBe(201);
    const retry = await t.json("POST", "/llm/room/", { token, body: { purpose: "one" }, headers: key("rent-slash") });
    expect(retry.status).toBe(201);
    expect(retry.res.headers.get("idempotent-replayed")).toBe("true");
    expect(retry.body).toEqual(first.body);
    expect((await t.json("GET", "/llm/room", { token })).body.data).toHaveLength(1);
  });

  it("a replayed rent carries the first answer's Location and ETag", async () => {
    const first = await t.json("POST", "/llm/room", { token, body: {}, headers: key("rent-headers") });
    const id = first.body.data.id;
    expect(first.res.headers.get("location")).toBe(`/llm/room/${id}`);
    expect(first.res.headers.get("etag")).toBe('"1"');
    const retry = await t.json("POST", "/llm/room", { token, body: {}, headers: key("rent-headers") });
    expect(retry.res.headers.get("idempotent-replayed")).toBe("true");
    expect(retry.res.headers.get("location")).toBe(`/llm/room/${id}`);
    expect(retry.res.headers.get("etag")).toBe('"1"');
  });

  it('If-Match: 1 then "1" on a retry is the same request: the PATCH replays with its ETag (not 422)', async () => {
    const id = (await t.json("POST", "/llm/room", { token, body: {} })).body.data.id;
    const first = await t.json("PATCH", `/llm/room/${id}`, { token, body: { purpose: "p" }, headers: key("patch-q", { "if-match": "1" }) });
    expect(first.status).toBe(200);
    expect(first.res.headers.get("etag")).toBe('"2"');
    for (const spelled of ['"1"', 'W/"1"', " 1 "]) {
      const retry = await t.json("PATCH", `/llm/room/${id}/`, { token, body: { purpose: "p" }, headers: key("patch-q", { "if-match": spelled }) });
      expect(retry.status, spelled).toBe(200);
      expect(retry.res.headers.get("idempotent-replayed")).toBe("true");
      expect(retry.res.headers.get("etag")).toBe('"2"');
    }
    // Another version is another request.
    const other = await t.json("PATCH", `/llm/room/${id}`, { token, body: { purpose: "p" }, headers: key("patch-q", { "if-match": '"2"' }) });
    expect(other.status).toBe(422);
    expect((await t.json("GET", `/llm/room/${id}`, { token })).body.data.version).toBe(2);
  });
});
