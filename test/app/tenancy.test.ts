import { existsSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadMigrations } from "../../src/storage/migrations.js";
import { TenantDatabases } from "../../src/storage/tenant-db.js";
import { startTestServer, type TestServer } from "../support/harness.js";

let t: TestServer;
beforeEach(async () => {
  t = await startTestServer();
});
afterEach(() => t.close());

describe("tenant-local storage", () => {
  it("keeps each tenant's rooms in its own SQLite file", async () => {
    const acme = await t.token("acme");
    const globex = await t.token("globex");
    const a = (await t.json("POST", "/llm/room", { token: acme, body: { purpose: "acme secret" } })).body.data.id;
    const g = (await t.json("POST", "/llm/room", { token: globex, body: { purpose: "globex secret" } })).body.data.id;

    const acmeFile = path.join(t.dataDir, "tenants", "acme.db");
    const globexFile = path.join(t.dataDir, "tenants", "globex.db");
    expect(existsSync(acmeFile)).toBe(true);
    expect(existsSync(globexFile)).toBe(true);

    const read = (file: string) => {
      const db = new Database(file, { readonly: true });
      try {
        return db.prepare("SELECT id, purpose FROM rooms").all() as Array<{ id: string; purpose: string }>;
      } finally {
        db.close();
      }
    };
    expect(read(acmeFile)).toEqual([{ id: a, purpose: "acme secret" }]);
    expect(read(globexFile)).toEqual([{ id: g, purpose: "globex secret" }]);

    const listA = await t.json("GET", "/llm/room", { token: acme });
    expect(listA.body.data.map((r: any) => r.id)).toEqual([a]);
    expect(JSON.stringify(listA.body)).not.toContain("globex");
  });

  it("opens tenant files with WAL, full sync and foreign keys", async () => {
    const token = await t.token("acme");
    await t.json("POST", "/llm/room", { token, body: {} });
    const h = t.server.tenants.get("acme").sqlite;
    expect(h.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(h.pragma("synchronous", { simple: true })).toBe(2);
    expect(h.pragma("foreign_keys", { simple: true })).toBe(1);
    expect(h.pragma("busy_timeout", { simple: true })).toBeGreaterThan(0);
    // A bounded page cache per open file (better-sqlite3 alone would give 16 MB) and incremental vacuum on new files.
    expect(h.pragma("cache_size", { simple: true })).toBe(-2048);
    expect(h.pragma("auto_vacuum", { simple: true })).toBe(2);
  });

  it("closes idle tenant handles, keeps held ones, and reopens on demand", () => {
    let clock = 1_000_000;
    const dbs = new TenantDatabases({ dataDir: t.dataDir + "-idle", migrations: loadMigrations(path.join(process.cwd(), "migrations")), busyTimeoutMs: 100, idleCloseMs: 60_000, now: () => clock });
    const first = dbs.get("acme");
    dbs.get("globex");
    const release = dbs.hold("globex");
    clock += 61_000;
    expect(dbs.closeIdle()).toBe(1);
    expect(dbs.openTenants()).toEqual(["globex"]);
    expect(first.sqlite.open).toBe(false);
    const again = dbs.get("acme");
    expect(again.sqlite.open).toBe(true);
    release();
    clock += 61_000;
    expect(dbs.closeIdle()).toBe(2);
    expect(() => dbs.get("../evil")).toThrow(/invalid tenant/);
    dbs.closeAll();
  });
});
