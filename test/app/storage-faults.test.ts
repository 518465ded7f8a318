/**
 * Storage that fails under the server: a full disk (SQLite's page limit makes
 * writes fail with SQLITE_FULL exactly as a full disk does) and damaged tenant
 * files (truncated, missing, garbage). Real files in a temp DATA_DIR.
 */
import { copyFileSync, existsSync, openSync, readFileSync, rmSync, statSync, truncateSync, writeSync, closeSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/harness.js";

let t: TestServer | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** A pino logger whose lines are kept, parsed. */
function capturedLog(): { log: pino.Logger; lines: any[] } {
  const lines: any[] = [];
  const log = pino({ level: "info" }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { log, lines };
}

const fileOf = (s: TestServer, tenant: string) => path.join(s.dataDir, "tenants", `${tenant}.db`);

describe("disk full", () => {
  it("writes answer 503 STORAGE_FULL with Retry-After, nothing acknowledged is lost, and writes work again once space is freed", async () => {
    const { log, lines } = capturedLog();
    t = await startTestServer({ env: { RATE_LIMIT_RPS: "0" }, log });
    const acme = await t.token("acme");
    const globex = await t.token("globex");
    const room = (await t.json("POST", "/llm/room", { token: acme, body: {} })).body.data.id;
    const sqlite = t.server.tenants.get("acme").sqlite;
    sqlite.pragma(`max_page_count = ${sqlite.pragma("page_count", { simple: true })}`);

    const acknowledged: string[] = [];
    let refused: Awaited<ReturnType<TestServer["json"]>> | undefined;
    for (let i = 0; i < 200 && !refused; i++) {
      const r = await t.json("POST", `/llm/room/${room}/messages`, { token: acme, body: { kind: "note", content: `${i} ${"n".repeat(20_000)}` } });
      if (r.status === 201) acknowledged.push(r.body.data.id);
      else refused = r;
    }
    expect(refused?.status).toBe(503);
    expect(refused?.body).toMatchObject({ success: false, code: "STORAGE_FULL" });
    expect(Number(refused?.res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    // A rent (another table) is refused the same way.
    const rent = await t.json("POST", "/llm/room", { token: acme, body: { purpose: "p".repeat(1500), metadata: { pad: "x".repeat(60_000) } } });
    expect(rent.status).toBe(503);
    expect(rent.body.code).toBe("STORAGE_FULL");
    // Reads still work, and another tenant's file is not full.
    expect((await t.json("GET", `/llm/room/${room}`, { token: acme })).status).toBe(200);
    expect((await t.json("POST", "/llm/room", { token: globex, body: {} })).status).toBe(201);
    const health = await t.json("GET", "/health");
    expect(health.status).toBe(200);
    expect(health.body.data).toMatchObject({ status: "degraded", storage: { full: true } });
    expect(lines.filter((l) => /storage is full/.test(l.msg))).toHaveLength(1);
    expect(lines.some((l) => l.msg === "unhandled error")).toBe(false);

    sqlite.pragma("max_page_count = 1073741823");
    const again = await t.json("POST", `/llm/room/${room}/messages`, { token: acme, body: { kind: "note", content: "after" } });
    expect(again.status).toBe(201);
    const messages = (await t.json("GET", `/llm/room/${room}/history?limit=1000&partial_text=false`, { token: acme })).body.data.messages.map((m: any) => m.id);
    for (const id of acknowledged) expect(messages).toContain(id);
    expect(messages).toContain(again.body.data.id);
  });
});

describe("a damaged tenant file", () => {
  async function withData(): Promise<{ acme: string; globex: string; root: string; room: string; backup: string }> {
    const acme = await t!.token("acme");
    const globex = await t!.token("globex");
    const root = await t!.token("ops", { operator: true });
    const room = (await t!.json("POST", "/llm/room", { token: acme, body: { purpose: "keep me" } })).body.data.id;
    expect((await t!.json("POST", "/llm/room", { token: globex, body: {} })).status).toBe(201);
    // Closed cleanly: checkpointed into the one .db file, which is what a backup copies.
    t!.server.tenants.closeIfUnheld("acme");
    expect(t!.server.tenants.isOpen("acme")).toBe(false);
    const backup = `${fileOf(t!, "acme")}.bak`;
    copyFileSync(fileOf(t!, "acme"), backup);
    return { acme, globex, root, room, backup };
  }

  async function expectRefusedAlone(s: { acme: string; globex: string; root: string }) {
    const r = await t!.json("GET", "/llm/room", { token: s.acme });
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({ success: false, code: "TENANT_DATA_DAMAGED" });
    expect(Number(r.res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await t!.json("GET", "/llm/room", { token: s.globex })).status).toBe(200);
    expect((await t!.json("POST", "/llm/room", { token: s.globex, body: {} })).status).toBe(201);
    const health = await t!.req("GET", "/health");
    const text = await health.text();
    expect(health.status).toBe(200);
    expect(JSON.parse(text).data).toMatchObject({ status: "degraded", storage: { full: false, degraded_tenants: 1 } });
    expect(text).not.toContain("acme");
    const named = await t!.json("GET", "/llm/operator/storage", { token: s.root });
    expect(named.status).toBe(200);
    expect(named.body.data.degraded_tenants.map((d: any) => d.tenant)).toEqual(["acme"]);
  }

  it("truncated to 0 bytes: refused with 503 (not a new empty tenant), logged once, others serve; restoring the file brings it back", async () => {
    const { log, lines } = capturedLog();
    t = await startTestServer({ env: { RATE_LIMIT_RPS: "0" }, log });
    const s = await withData();
    truncateSync(fileOf(t, "acme"), 0);
    await expectRefusedAlone(s);
    await expectRefusedAlone(s);
    // Still the empty file: nothing was created in it.
    expect(statSync(fileOf(t, "acme")).size).toBe(0);
    const loud = lines.filter((l) => /TENANT DATA DAMAGED/.test(l.msg));
    expect(loud).toHaveLength(1);
    expect(loud[0]).toMatchObject({ level: 50, tenant: "acme", reason: expect.stringMatching(/empty/) });

    copyFileSync(s.backup, fileOf(t, "acme"));
    const back = await t.json("GET", `/llm/room/${s.room}`, { token: s.acme });
    expect(back.status).toBe(200);
    expect(back.body.data.purpose).toBe("keep me");
    expect((await t.json("GET", "/health")).body.data).toMatchObject({ status: "ok", storage: { degraded_tenants: 0 } });
  });

  it("missing: a tenant the server had data for is refused, while a tenant never seen before starts empty", async () => {
    t = await startTestServer({ env: { RATE_LIMIT_RPS: "0" } });
    const s = await withData();
    rmSync(fileOf(t, "acme"));
    await expectRefusedAlone(s);
    expect(existsSync(fileOf(t, "acme"))).toBe(false);
    const fresh = await t.token("initech");
    expect((await t.json("GET", "/llm/room", { token: fresh })).status).toBe(200);
  });

  it("garbage over its header: refused with 503, not 500 'retry later' forever", async () => {
    t = await startTestServer({ env: { RATE_LIMIT_RPS: "0" } });
    const s = await withData();
    const fd = openSync(fileOf(t, "acme"), "r+");
    writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, 0);
    closeSync(fd);
    await expectRefusedAlone(s);
  });

  it("garbage in its pages: found as soon as SQLite reads them (on open or by a query), then refused at once", async () => {
    const { log, lines } = capturedLog();
    t = await startTestServer({ env: { RATE_LIMIT_RPS: "0" }, log });
    const s = await withData();
    const file = fileOf(t, "acme");
    const peek = new Database(file, { readonly: true });
    const pageSize = peek.pragma("page_size", { simple: true }) as number;
    peek.close();
    const size = statSync(file).size;
    const fd = openSync(file, "r+");
    // Every page but the first (the header and schema): the tables' b-trees are garbage.
    for (let at = pageSize; at < size; at += pageSize) writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, at);
    closeSync(fd);
    await expectRefusedAlone(s);
    expect(lines.filter((l) => /TENANT DATA DAMAGED/.test(l.msg))).toHaveLength(1);
    expect(lines.some((l) => l.msg === "unhandled error")).toBe(false);
  });

  it("a DATA_DIR from before the registry: tenants with data on disk are known from the first start", async () => {
    t = await startTestServer({ env: { RATE_LIMIT_RPS: "0" }, keepDataDir: true });
    const s = await withData();
    const dataDir = t.dataDir;
    await t.close();
    const service = new Database(path.join(dataDir, "service.db"));
    service.exec("DROP TABLE tenants");
    service.close();
    t = await startTestServer({ env: { RATE_LIMIT_RPS: "0" }, dataDir });
    await t.server.recovery.done;
    t.server.tenants.closeIfUnheld("acme");
    truncateSync(fileOf(t, "acme"), 0);
    const r = await t.json("GET", "/llm/room", { token: s.acme });
    expect(r.status).toBe(503);
    expect(r.body.code).toBe("TENANT_DATA_DAMAGED");
    expect(readFileSync(fileOf(t, "acme")).length).toBe(0);
    rmSync(dataDir, { recursive: true, force: true });
  });
});
