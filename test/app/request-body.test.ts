/**
 * Request bodies as a careless or hostile client sends them: slowly, too
 * large, or not UTF-8. Over a real socket where the connection matters.
 */
import { connect } from "node:net";
import { serve, type ServerType } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/harness.js";

let t: TestServer;
let http: ServerType;
let port: number;
let token: string;

beforeAll(async () => {
  t = await startTestServer({ env: { BODY_TIMEOUT_MS: "300", BODY_LIMIT_BYTES: "2048", RATE_LIMIT_RPS: "0" } });
  token = await t.token("acme");
  await new Promise<void>((resolve) => {
    http = serve({ fetch: t.server.app.fetch, hostname: "127.0.0.1", port: 0 }, (info) => {
      port = info.port;
      resolve();
    });
  });
});
afterAll(async () => {
  (http as any).closeAllConnections?.();
  await new Promise((r) => http.close(r));
  await t.close();
});

/** Sends `head` (and `body` if given) on a fresh connection; resolves with everything received once the server closes it. */
function rawExchange(head: string, body?: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () => {
      s.write(head);
      if (body) s.write(body);
    });
    let got = "";
    s.on("data", (d) => (got += d.toString("utf8")));
    s.on("error", reject);
    s.on("close", () => resolve(got));
  });
}

const listRooms = async () => (await t.json("GET", "/llm/room", { token })).body.data as any[];

describe("request bodies", () => {
  it("a body that does not arrive in BODY_TIMEOUT_MS is 408 REQUEST_TIMEOUT in the envelope, and the connection is closed", async () => {
    const before = (await listRooms()).length;
    const head = `POST /llm/room HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n`;
    // 11 of the 100 promised bytes, then nothing: the server must answer and hang up on its own.
    const got = await rawExchange(head, Buffer.from('{"purpose":'));
    expect(got).toMatch(/^HTTP\/1.1 408 /);
    expect(got.toLowerCase()).toContain("connection: close");
    const body = JSON.parse(got.slice(got.indexOf("{")));
    expect(body).toMatchObject({ success: false, code: "REQUEST_TIMEOUT" });
    expect((await listRooms()).length).toBe(before);
  });

  it("invalid UTF-8 in a JSON body is 400 and nothing is stored (it used to become U+FFFD)", async () => {
    const before = (await listRooms()).length;
    const bad = Buffer.concat([Buffer.from('{"purpose":"caf'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
    const res = await t.server.app.request("/llm/room", { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: bad });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: "VALIDATION_FAILED", details: [{ path: "(body)" }] });
    expect((await listRooms()).length).toBe(before);
    // Valid multi-byte UTF-8 goes through untouched.
    const good = await t.json("POST", "/llm/room", { token, body: { purpose: "café 😀" } });
    expect(good.status).toBe(201);
    expect(good.body.data.purpose).toBe("café 😀");
  });

  it("an oversized body is 413 with Connection: close, so a pooled client's next request goes out on a new connection", async () => {
    const big = JSON.stringify({ purpose: "x".repeat(4000) });
    const first = await fetch(`http://127.0.0.1:${port}/llm/room`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: big });
    expect(first.status).toBe(413);
    expect(first.headers.get("connection")).toBe("close");
    expect(((await first.json()) as { code: string }).code).toBe("PAYLOAD_TOO_LARGE");
    const next = await fetch(`http://127.0.0.1:${port}/llm/room`, { headers: { authorization: `Bearer ${token}` } });
    expect(next.status).toBe(200);
    // Chunked (no Content-Length): counted as it arrives.
    const chunked = await t.server.app.request("/llm/room", {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: new ReadableStream({
        start(c) {
          for (let i = 0; i < 10; i++) c.enqueue(new TextEncoder().encode("x".repeat(500)));
          c.close();
        },
      }),
      duplex: "half",
    } as RequestInit);
    expect(chunked.status).toBe(413);
  });

  it("an anonymous request is refused before its body is read", async () => {
    const got = await rawExchange(`POST /llm/room HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n`, Buffer.from("{"));
    expect(got).toMatch(/^HTTP\/1.1 401 /);
  });
});
