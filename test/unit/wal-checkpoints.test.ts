/**
 * WAL checkpoints off the event loop (src/storage/checkpointer.ts) over real
 * tenant files and the real worker thread: frames written are moved into the
 * file by the worker, the log goes back to 0 bytes once writes stop, a log
 * past its bound is checkpointed by the main connection so it cannot grow
 * without limit, and a file is never closed under a running checkpoint.
 * The checkpoint tick is a fake interval, advanced by hand, so each test
 * decides exactly when the WAL is looked at; the worker itself is real.
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { loadMigrations } from "../../src/storage/migrations.js";
import { packageRoot } from "../../src/storage/paths.js";
import { TenantDatabases, type TenantDb } from "../../src/storage/tenant-db.js";

const migrations = loadMigrations(path.join(packageRoot(), "migrations"));
const TICK_MS = 100;
let dir: string;
let tenants: TenantDatabases | null;
let failures: unknown[];

function open(opts: { maxKib?: number } = {}): TenantDatabases {
  tenants = new TenantDatabases({
    dataDir: dir,
    migrations,
    busyTimeoutMs: 1000,
    idleCloseMs: 60_000,
    walCheckpoints: { intervalMs: TICK_MS, maxKib: opts.maxKib ?? 64 * 1024 },
  });
  tenants.setOnCheckpointError((_t, err) => failures.push(err));
  return tenants;
}

/** `rows` rows of 4 KB each in one transaction: about one WAL frame per row. */
function write(t: TenantDb, rows: number): void {
  t.sqlite.exec("CREATE TABLE IF NOT EXISTS scratch (id INTEGER PRIMARY KEY, pad BLOB NOT NULL)");
  t.sqlite.prepare("INSERT INTO scratch (pad) SELECT randomblob(4000) FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) SELECT i FROM n)").run(rows);
}

function walBytes(tenants: TenantDatabases, tenant: string): number {
  const wal = `${tenants.fileOf(tenant)}-wal`;
  return existsSync(wal) ? statSync(wal).size : -1;
}

/** Rows of `scratch` in the tenant's main file alone, without its WAL: what checkpoints have moved there. */
function rowsInMainFile(tenants: TenantDatabases, tenant: string): number {
  const copy = path.join(dir, `copy-${tenant}.db`);
  copyFileSync(tenants.fileOf(tenant), copy);
  const db = new Database(copy, { readonly: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM scratch").get() as { n: number }).n;
  } finally {
    db.close();
  }
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "roomservice-wal-"));
  failures = [];
  tenants = null;
  vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
});
afterEach(async () => {
  await tenants?.closeAll();
  vi.useRealTimers();
  rmSync(dir, { recursive: true, force: true });
});

describe("background WAL checkpoints", () => {
  it("the main connection never checkpoints by itself; the worker moves the written frames into the file, then truncates the log once writes stop", async () => {
    const dbs = open();
    const t = dbs.get("acme");
    expect(t.sqlite.pragma("wal_autocheckpoint", { simple: true })).toBe(0);
    write(t, 300);
    expect(walBytes(dbs, "acme")).toBeGreaterThan(300 * 4096);

    vi.advanceTimersByTime(TICK_MS);
    const passive = dbs.checkpointInFlight("acme");
    expect(passive).toBeDefined();
    const moved = (await passive) as { busy: number; log: number; checkpointed: number };
    expect(moved.busy).toBe(0);
    expect(moved.log).toBeGreaterThan(300);
    expect(moved.checkpointed).toBe(moved.log);
    expect(rowsInMainFile(dbs, "acme")).toBe(300);

    // Nothing written since: the next tick truncates the log back to 0 bytes.
    vi.advanceTimersByTime(TICK_MS);
    const truncate = dbs.checkpointInFlight("acme");
    expect(truncate).toBeDefined();
    await truncate;
    expect(walBytes(dbs, "acme")).toBe(0);
    // An empty log is left alone.
    vi.advanceTimersByTime(TICK_MS);
    expect(dbs.checkpointInFlight("acme")).toBeUndefined();
    expect(t.sqlite.prepare("SELECT count(*) AS n FROM scratch").get()).toEqual({ n: 300 });
    expect(failures).toEqual([]);
  });

  it("keeps checkpointing while writes go on, and the data stays whole", async () => {
    const dbs = open();
    const t = dbs.get("acme");
    for (let round = 1; round <= 5; round++) {
      write(t, 50);
      vi.advanceTimersByTime(TICK_MS);
      const r = (await dbs.checkpointInFlight("acme")) as { checkpointed: number };
      expect(r.checkpointed).toBeGreaterThan(0);
      expect(rowsInMainFile(dbs, "acme")).toBe(round * 50);
    }
    expect(failures).toEqual([]);
  });

  it("a log past its bound that is still being written is checkpointed on the main connection, so it stays bounded without the worker", async () => {
    const dbs = open({ maxKib: 512 });
    const t = dbs.get("acme");
    let largest = 0;
    for (let round = 0; round < 10; round++) {
      write(t, 256); // about 1 MB a round: past the bound every time
      largest = Math.max(largest, walBytes(dbs, "acme"));
      vi.advanceTimersByTime(TICK_MS);
      // Done on the main connection within the tick: nothing was handed to the worker.
      expect(dbs.checkpointInFlight("acme")).toBeUndefined();
      expect(rowsInMainFile(dbs, "acme")).toBe((round + 1) * 256);
    }
    // Each round's commit restarted the log from its start: it never holds more than about one round.
    expect(largest).toBeLessThan(1.5 * 1024 * 1024);
    // The next commit after a checkpoint truncates the log file back to the bound.
    write(t, 1);
    expect(walBytes(dbs, "acme")).toBeLessThanOrEqual(512 * 1024);
    expect(failures).toEqual([]);
  });

  it("closing a file while the worker checkpoints it waits for the worker to let go, then closes at once: the log is folded into the file", async () => {
    const dbs = open();
    const t = dbs.get("acme");
    write(t, 3000); // about 12 MB of log: a checkpoint that takes a while
    vi.advanceTimersByTime(TICK_MS);
    const inFlight = dbs.checkpointInFlight("acme");
    expect(inFlight).toBeDefined();
    // Close while it runs if we catch it running (the worker is a real thread); either way the close is the same.
    const deadline = Date.now() + 2000;
    while (!dbs.checkpointRunning("acme") && Date.now() < deadline);

    dbs.closeIfUnheld("acme");
    expect(dbs.isOpen("acme")).toBe(false);
    expect(t.sqlite.open).toBe(false);
    expect(dbs.checkpointRunning("acme")).toBe(false);
    // The main connection closed last (the worker's was gone): SQLite folded the log into the file and deleted it.
    expect(walBytes(dbs, "acme")).toBe(-1);
    expect(rowsInMainFile(dbs, "acme")).toBe(3000);
    await inFlight;

    const again = dbs.get("acme");
    expect(again).not.toBe(t);
    expect(again.sqlite.prepare("SELECT count(*) AS n FROM scratch").get()).toEqual({ n: 3000 });
    expect(failures).toEqual([]);
  });

  it("closing one file skips the checkpoints still queued for others; the next tick asks again", async () => {
    const dbs = open();
    const a = dbs.get("acme");
    const b = dbs.get("bravo");
    write(a, 2000);
    write(b, 50);
    vi.advanceTimersByTime(TICK_MS);
    const queued = dbs.checkpointInFlight("bravo");
    expect(queued).toBeDefined();
    dbs.closeIfUnheld("acme");
    await queued;
    vi.advanceTimersByTime(TICK_MS);
    const next = dbs.checkpointInFlight("bravo");
    if (next) await next;
    // Asked again until done: within a few ticks bravo's log is moved into its file.
    for (let i = 0; i < 5 && rowsInMainFile(dbs, "bravo") < 50; i++) {
      vi.advanceTimersByTime(TICK_MS);
      await dbs.checkpointInFlight("bravo");
    }
    expect(rowsInMainFile(dbs, "bravo")).toBe(50);
    expect(failures).toEqual([]);
  });

  it("shutdown (closeAll) closes every file before it returns, skips queued checkpoints and ends the worker; new uses are refused", async () => {
    const dbs = open();
    const a = dbs.get("acme");
    const b = dbs.get("bravo");
    write(a, 200);
    write(b, 10);
    vi.advanceTimersByTime(TICK_MS);
    const inFlight = [dbs.checkpointInFlight("acme"), dbs.checkpointInFlight("bravo")];
    expect(inFlight.every((p) => p !== undefined)).toBe(true);

    const closing = dbs.closeAll();
    expect(dbs.openTenants()).toEqual([]);
    expect(a.sqlite.open).toBe(false);
    expect(b.sqlite.open).toBe(false);
    expect(walBytes(dbs, "acme")).toBe(-1);
    expect(walBytes(dbs, "bravo")).toBe(-1);
    await closing;
    await Promise.all(inFlight);
    expect(rowsInMainFile(dbs, "acme")).toBe(200);
    expect(rowsInMainFile(dbs, "bravo")).toBe(10);
    expect(() => dbs.get("acme")).toThrow(/closed/);
    tenants = null;
  });
});

describe("page cache that follows streaming turns", () => {
  const cacheKib = (t: TenantDb) => -(t.sqlite.pragma("cache_size", { simple: true }) as number);

  it("grows with the file's streaming turns, up to its cap, and returns to the base size when they end", () => {
    const dbs = new TenantDatabases({ dataDir: dir, migrations, busyTimeoutMs: 1000, idleCloseMs: 60_000, cacheKib: 2048, cachePerTurnKib: 64, cacheMaxKib: 8192 });
    tenants = dbs;
    const t = dbs.get("acme");
    const other = dbs.get("bravo");
    expect(cacheKib(t)).toBe(2048);

    const first = t.streamingTurn();
    // Counted in steps of 8 turns: the first turn takes the file to base + 8 × 64.
    expect(cacheKib(t)).toBe(2048 + 8 * 64);
    const more = Array.from({ length: 39 }, () => t.streamingTurn());
    expect(cacheKib(t)).toBe(2048 + 40 * 64);
    const lots = Array.from({ length: 200 }, () => t.streamingTurn());
    expect(cacheKib(t)).toBe(8192);
    // Another tenant's file is untouched.
    expect(cacheKib(other)).toBe(2048);

    for (const end of lots) end();
    expect(cacheKib(t)).toBe(2048 + 40 * 64);
    first();
    first(); // idempotent: counted once
    for (const end of more) end();
    expect(cacheKib(t)).toBe(2048);
  });

  it("without a per-turn size the cache never moves", () => {
    const dbs = new TenantDatabases({ dataDir: dir, migrations, busyTimeoutMs: 1000, idleCloseMs: 60_000, cacheKib: 1024 });
    tenants = dbs;
    const t = dbs.get("acme");
    const end = t.streamingTurn();
    expect(cacheKib(t)).toBe(1024);
    end();
    expect(cacheKib(t)).toBe(1024);
  });
});
