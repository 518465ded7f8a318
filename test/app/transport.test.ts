/** HTTP transport over a real socket: what a pooled keep-alive client (Node's fetch) sees. */
import type { AddressInfo } from "node:net";
import { serve, type ServerType } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/harness.js";

let t: TestServer;
let http: ServerType;
let base: string;
let connections = 0;

beforeAll(async () => {
  t = await startTestServer({ env: { BODY_LIMIT_BYTES: "1048576" } });
  http = serve({ fetch: t.server.app.fetch, hostname: "127.0.0.1", port: 0 });
  http.on("connection", () => connections++);
  await new Promise<void>((r) => (http.listening ? r() : http.once("listening", () => r())));
  base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => http.close(() => r()));
  await t.close();
});

describe("413 on a keep-alive connection", () => {
  it("an oversized POST is 413, and the pooled client's next request works", async () => {
    const token = await t.token("acme");
    const auth = { authorization: `Bearer ${token}` };
    // Warm the pool so the POST goes out on an idle keep-alive connection.
    expect((await fetch(`${base}/llm/room`, { headers: auth })).status).toBe(200);
    const big = await fetch(`${base}/llm/room`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ purpose: "x".repeat(3 * 1024 * 1024) }),
    });
    expect(big.status).toBe(413);
    expect(((await big.json()) as { code: string }).code).toBe("PAYLOAD_TOO_LARGE");
    for (let i = 0; i < 3; i++) {
      const next = await fetch(`${base}/llm/room`, { headers: auth });
      expect(next.status).toBe(200);
      expect(((await next.json()) as { success: boolean }).success).toBe(true);
    }
  });
});
