/**
 * A tenant's file is never closed under work that uses it: a request holds
 * it until it has finished (the idle closer used to close it while a slow
 * body was still arriving), and a sweep that fails while the file opens no
 * longer closes it under the turns recovery just resumed.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { eventually, startTestServer, type TestServer } from "../support/harness.js";

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

describe("a request", () => {
  it("holds its tenant's file while its body is still arriving, so the idle closer leaves it open", async () => {
    let offsetMs = 0;
    const t = await startTestServer({ env: { RATE_LIMIT_RPS: "0", TENANT_DB_IDLE_S: "300" }, server: { now: () => Date.now() + offsetMs } });
    cleanup.push(() => t.close());
    const token = await t.token("acme");
    expect((await t.json("GET", "/llm/room", { token })).status).toBe(200);

    const text = new TextEncoder().encode(JSON.stringify({ purpose: "a slow body" }));
    const half = Math.floor(text.length / 2);
    let pulls = 0;
    let reading!: () => void;
    const handlerReads = new Promise<void>((r) => (reading = r));
    let finish!: () => void;
    const rest = new Promise<void>((r) => (finish = r));
    const body = new ReadableStream<Uint8Array>(
      {
        async pull(c) {
          if (++pulls === 1) return c.enqueue(text.subarray(0, half));
          reading();
          await rest;
          c.enqueue(text.subarray(half));
          c.close();
        },
      },
      { highWaterMark: 0 },
    );
    const req = new Request("http://localhost/llm/room", {
      method: "POST",
      body,
      duplex: "half",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "content-length": String(text.length) },
    } as RequestInit);
    const pending = t.server.app.request(req);

    // The handler has the first half and waits for the rest: past authentication, mid-body.
    await handlerReads;
    offsetMs = 301_000;
    expect(t.server.tenants.closeIdle()).toBe(0);
    expect(t.server.tenants.isOpen("acme")).toBe(true);
    finish();
    const res = await pending;
    expect(res.status).toBe(201);
    const room = ((await res.json()) as { data: { id: string; purpose: string } }).data;
    expect(room.purpose).toBe("a slow body");
    expect((await t.json("GET", `/llm/room/${room.id}`, { token })).body.data.purpose).toBe("a slow body");
    // Finished, the request lets go: the file closes once idle.
    offsetMs = 700_000;
    expect(t.server.tenants.closeIdle()).toBe(1);
  });
});

describe("a sweep that fails while a tenant's file opens", () => {
  it("does not close the file under the turn recovery just resumed; the turn ends and the sweep is retried", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "roomservice-holds-"));
    cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }));

    // A room that waits with a queued message (resumed at recovery), and one whose release falls due (swept at open).
    const a = await startTestServer({ dataDir, env: { RATE_LIMIT_RPS: "0" } });
    const token = await a.token("acme");
    const waiting = (await a.json("POST", "/llm/room", { token, body: { wake_policy: { mode: "manual" } } })).body.data.id as string;
    expect((await a.json("POST", `/llm/room/${waiting}/wake`, { token, body: {} })).body.data.status).toBe("idle");
    expect((await a.json("POST", `/llm/room/${waiting}/messages`, { token, body: { content: "resume me" } })).body.data.status).toBe("queued");
    expect((await a.json("PATCH", `/llm/room/${waiting}`, { token, body: { wake_policy: { mode: "on_message" } } })).body.data.status).toBe("idle");
    const due = (await a.json("POST", "/llm/room", { token, body: {} })).body.data.id as string;
    await a.close();

    const file = new Database(path.join(dataDir, "tenants", "acme.db"));
    file.prepare("UPDATE rooms SET release_at = '2000-01-01T00:00:00.000Z' WHERE id = ?").run(due);
    file.exec("CREATE TRIGGER release_fails BEFORE UPDATE OF status ON rooms WHEN NEW.status = 'releasing' BEGIN SELECT RAISE(ABORT, 'the sweep fails'); END");
    file.close();

    const b = await startTestServer({ dataDir, env: { RATE_LIMIT_RPS: "0", LIFECYCLE_SWEEP_MS: "600000" } });
    cleanup.push(() => b.close());
    const res = await b.json("GET", `/llm/room/${waiting}`, { token });
    expect(res.status).toBe(200);
    const h = await eventually(async () => {
      const h = (await b.json("GET", `/llm/room/${waiting}/history`, { token })).body.data;
      return h.room.status === "idle" ? h : null;
    }, 5000, "the resumed turn to end");
    expect(h.events.filter((e: any) => e.event_type === "agent:turn_end").map((e: any) => e.payload.status)).toEqual(["completed"]);
    expect(h.messages.find((m: any) => m.kind === "output").content).toBe("Echo: resume me");
    expect((await b.json("GET", `/llm/room/${due}`, { token })).body.data.status).toBe("rented");

    // Once the sweep can write again, it releases the due room.
    b.server.tenants.get("acme").sqlite.exec("DROP TRIGGER release_fails");
    b.server.lifecycle.sweepAll();
    expect((await b.json("GET", `/llm/room/${due}`, { token })).body.data.status).toBe("released");
  });
});
