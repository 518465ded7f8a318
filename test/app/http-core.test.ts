import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/harness.js";

let t: TestServer;
let token: string;
beforeAll(async () => {
  t = await startTestServer({ env: { BODY_LIMIT_BYTES: "4096" } });
  token = await t.token("acme");
});
afterAll(() => t.close());

describe("HTTP core", () => {
  it("GET /health answers without auth", async () => {
    const res = await t.json("GET", "/health");
    expect(res.status).toBe(200);
    expect(res.body.success).toBe(true);
    expect(res.body.data.status).toBe("ok");
    expect(Date.parse(res.body.data.timestamp)).not.toBeNaN();
    expect(typeof res.body.data.uptime).toBe("number");
  });

  it("GET / names the service and links to docs", async () => {
    const res = await t.json("GET", "/");
    expect(res.body.data.name).toBe("roomservice");
    expect(res.body.data.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(res.body.data.links.openapi).toBe("/openapi.json");
  });

  it("publishes the public key at /.well-known/jwks.json, never the private part", async () => {
    const res = await t.json("GET", "/.well-known/jwks.json");
    expect(res.body.keys).toHaveLength(1);
    expect(res.body.keys[0]).toMatchObject({ kty: "OKP", crv: "Ed25519", alg: "EdDSA", kid: t.server.signingKey.kid });
    expect(res.body.keys[0].d).toBeUndefined();
  });

  it("echoes a sane X-Request-Id and makes one otherwise", async () => {
    const mine = await t.req("GET", "/health", { headers: { "x-request-id": "req-123" } });
    expect(mine.headers.get("x-request-id")).toBe("req-123");
    const made = await t.req("GET", "/health", { headers: { "x-request-id": "bad id\n" } });
    expect(made.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const err = await t.req("GET", "/llm/room/x", { headers: { "x-request-id": "req-err" } });
    expect(err.status).toBe(401);
    expect(err.headers.get("x-request-id")).toBe("req-err");
  });

  it("answers unknown routes with a JSON 404", async () => {
    const res = await t.json("GET", "/nope");
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ success: false, code: "NOT_FOUND" });
    expect(res.body.error).toBe(res.body.message);
  });

  it("413 for an oversized body, before anything is stored", async () => {
    const res = await t.json("POST", "/llm/room", { token, body: { purpose: "x".repeat(10_000) } });
    expect(res.status).toBe(413);
    expect(res.body.code).toBe("PAYLOAD_TOO_LARGE");
    expect((await t.json("GET", "/llm/room", { token })).body.data).toHaveLength(0);
  });

  it("415 for a body that is not JSON", async () => {
    const res = await t.req("POST", "/llm/room", { token, rawBody: "purpose=x", headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(res.status).toBe(415);
    expect(((await res.json()) as { code: string }).code).toBe("UNSUPPORTED_MEDIA_TYPE");
  });

  it("400 for malformed JSON, with no stack trace", async () => {
    const res = await t.req("POST", "/llm/room", { token, rawBody: '{"purpose": ', headers: { "content-type": "application/json" } });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { code: string };
    expect(body.code).toBe("VALIDATION_FAILED");
    expect(JSON.stringify(body)).not.toMatch(/at .*\.ts:\d+|node_modules|SQLITE/);
  });

  it("400 for a JSON body that is not an object", async () => {
    for (const raw of ["[]", "42", '"x"', "null"]) {
      const res = await t.req("POST", "/llm/room", { token, rawBody: raw, headers: { "content-type": "application/json" } });
      expect(res.status, raw).toBe(400);
    }
  });

  it("POST without a body uses the defaults", async () => {
    const res = await t.req("POST", "/llm/room", { token });
    expect(res.status).toBe(201);
  });

  it("deeply nested metadata is refused quickly, not stored", async () => {
    let deep: any = {};
    const root = deep;
    for (let i = 0; i < 40; i++) deep = deep.a = {};
    const res = await t.json("POST", "/llm/room", { token, body: { metadata: root } });
    expect(res.status).toBe(400);
    const arr = "[".repeat(1500) + "]".repeat(1500);
    const res2 = await t.req("POST", "/llm/room", { token, rawBody: `{"metadata": {"x": ${arr}}}`, headers: { "content-type": "application/json" } });
    expect(res2.status).toBe(400);
  });
});
