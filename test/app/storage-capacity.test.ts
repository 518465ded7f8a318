/**
 * The server's storage under streaming turns: a tenant file's page cache
 * grows while its turns stream and returns to SQLITE_CACHE_KIB when they
 * end, and its WAL is checkpointed in the background (the main connection
 * never checkpoints by itself) and truncated once the turns stop writing.
 */
import { statSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { eventually, startTestServer, type TestServer } from "../support/harness.js";

let t: TestServer | null = null;
afterEach(async () => {
  await t?.close();
  t = null;
});

describe("a tenant file under streaming turns", () => {
  it("gets a larger page cache while turns stream, the base one after; its WAL is checkpointed off the event loop and emptied once quiet", async () => {
    t = await startTestServer({ env: { RATE_LIMIT_RPS: "0", SQLITE_CACHE_KIB: "1024", SQLITE_CACHE_KIB_PER_TURN: "128", SQLITE_CACHE_MAX_KIB: "4096" } });
    const server = t.server;
    const token = await t.token("acme");
    const cacheKib = () => -(server.tenants.get("acme").sqlite.pragma("cache_size", { simple: true }) as number);

    expect((await t.json("GET", "/llm/room", { token })).status).toBe(200);
    expect(cacheKib()).toBe(1024);
    expect(server.tenants.get("acme").sqlite.pragma("wal_autocheckpoint", { simple: true })).toBe(0);

    const rooms: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await t.json("POST", "/llm/room", { token, body: { agents: [{ agent_id: "a", options: { token_delay_ms: 20 } }] } });
      expect(res.status).toBe(201);
      rooms.push(res.body.data.id as string);
    }
    const words = Array.from({ length: 40 }, (_, i) => `w${i}`).join(" ");
    const sent = await Promise.all(rooms.map((room) => t!.json("POST", "/v1/responses", { token, body: { input: words, room_id: room } })));
    for (const s of sent) expect(s.body.data.status).toBe("running");

    // Three turns streaming: one step of 8 turns at 128 KiB each on top of the base.
    await eventually(() => cacheKib() === 1024 + 8 * 128, 5000, "the cache to grow with the streaming turns");
    expect(server.workers.activeCount("acme")).toBeGreaterThan(0);

    const answers = await Promise.all(sent.map((s) => t!.json("GET", (s.body.data.result_url as string).replace("wait=30", "wait=60"), { token })));
    for (const a of answers) expect(a.body.data).toMatchObject({ done: true, output: { content: `Echo: ${words}` } });

    await eventually(() => cacheKib() === 1024, 5000, "the cache to return to SQLITE_CACHE_KIB");
    // The turns wrote; with nothing written since, the background checkpointer truncates the log.
    const wal = `${server.tenants.fileOf("acme")}-wal`;
    await eventually(() => statSync(wal).size === 0, 10_000, "the WAL to be checkpointed and truncated");
    // Everything the turns wrote is read back whole after the checkpoints.
    for (const s of sent) {
      const again = await t.json("GET", s.body.data.result_url as string, { token });
      expect(again.body.data).toMatchObject({ done: true, output: { content: `Echo: ${words}` } });
    }
  });
});
