/**
 * One SQLite file per tenant, opened on first use, migrated, cached, and
 * closed when idle. The only way to a tenant's rows is `TenantDatabases.get`
 * with the tenant taken from a verified token, so a query can never name
 * another tenant's data: tenancy by construction.
 */
import { mkdirSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { drizzle, type BetterSQLite3Database } from "drizzle-orm/better-sqlite3";
import { Checkpointer } from "./checkpointer.js";
import { applyMigrations, type Migration } from "./migrations.js";
import { Repository } from "./repository.js";
import * as schema from "./schema.js";
import { WalSync, type Fsync, type WalSyncOptions } from "./wal-sync.js";

export const TENANT_PATTERN = /^[a-z][a-z0-9_]{0,62}$/;

export type Drizzle = BetterSQLite3Database<typeof schema>;

/** A tenant-bound database handle. Stores take this and nothing wider. */
export interface TenantDb {
  readonly tenant: string;
  /** drizzle's query builder, for cold paths (repository.ts). */
  readonly db: Drizzle;
  readonly sqlite: Database.Database;
  /** The file's prepared statements, for hot paths (repository.ts). */
  readonly repo: Repository;
  /** Commits whose fsync runs off the event loop, and what waits for them (wal-sync.ts). */
  readonly wal: WalSync;
  /**
   * A turn starts streaming into this file: its page cache grows for it
   * (PageCachePolicy) until the returned end is called (idempotent).
   */
  streamingTurn(): () => void;
  /** Turns streaming into this file now (counted by `streamingTurn`). */
  streamingTurns(): number;
}

/**
 * How a file's page cache follows its work. Sleeping files keep `baseKib`
 * (many are open at once); a file with turns streaming gets `perTurnKib` more
 * per turn, up to `maxKib`: each streaming room dirties its own pages of
 * stream_events on every commit (the table is clustered by stream), and with
 * the base cache hundreds of rooms evict each other's pages between commits.
 */
export interface PageCachePolicy {
  baseKib: number;
  perTurnKib: number;
  maxKib: number;
}

/** Turns are counted in steps of this many, so the cache is resized once per step, not at every turn's start and end. */
const CACHE_TURN_STEP = 8;

/** The handle of an open, migrated tenant file, with a fresh Repository: the only way one is made. */
export function tenantHandle(
  tenant: string,
  sqlite: Database.Database,
  cache: PageCachePolicy = { baseKib: DEFAULT_CACHE_KIB, perTurnKib: 0, maxKib: DEFAULT_CACHE_KIB },
  wal: WalSyncOptions = {},
): TenantDb {
  const follower = pageCacheFollower(sqlite, cache);
  return { tenant, sqlite, db: drizzle({ client: sqlite, schema }), repo: new Repository(), wal: new WalSync(sqlite, wal), streamingTurn: follower.begin, streamingTurns: follower.count };
}

/** `streamingTurn` of one file: counts its streaming turns and sets cache_size when the step they fall in changes. */
function pageCacheFollower(sqlite: Database.Database, p: PageCachePolicy): { begin: () => () => void; count: () => number } {
  let turns = 0;
  let current = p.baseKib;
  const apply = () => {
    const steps = Math.ceil(turns / CACHE_TURN_STEP) * CACHE_TURN_STEP;
    const target = Math.max(p.baseKib, Math.min(p.maxKib, p.baseKib + steps * p.perTurnKib));
    if (target === current || !sqlite.open) return;
    current = target;
    // Shrinking frees the pages above the new size at once: a file back at rest holds what it held before.
    sqlite.pragma(`cache_size = ${-target}`);
  };
  const begin = () => {
    turns++;
    apply();
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      turns--;
      apply();
    };
  };
  return { begin, count: () => turns };
}

/** What the checkpoint tick last saw of a file's WAL. */
interface WalSeen {
  /** The -wal file's size, bytes (-1: not looked at yet). */
  size: number;
  /** The main connection's total_changes(): rows it has written since it opened. */
  changes: number;
  /** `SELECT total_changes()` on the main connection, prepared at the first tick. */
  count: Database.Statement | null;
}

interface Entry {
  handle: TenantDb;
  file: string;
  wal: WalSeen;
  lastUsed: number;
  holds: number;
  /**
   * The open hook on this handle: `running` (reentrant uses from inside the
   * hook get the handle), `failed` (it threw while something held the file:
   * it runs again on next use) or `done`.
   */
  hook: "running" | "failed" | "done";
}

/**
 * Decides whether a tenant's file may be opened and used (storage-health.ts):
 * a file that is missing, empty or corrupt for a tenant that had data must be
 * refused, not opened as a new empty tenant or served errors forever.
 */
export interface TenantFileGuard {
  /** Throws to refuse opening the tenant's file. */
  beforeOpen(tenant: string, file: string): void;
  /** The error to throw instead of `err`, which opening, migrating or recovering the file threw. */
  openFailed(tenant: string, file: string, err: unknown): unknown;
  /** The file is open, migrated and recovered. */
  opened(tenant: string): void;
  /** Throws to refuse a tenant whose open file was found damaged since. */
  check(tenant: string): void;
}

export interface TenantDatabasesOptions {
  dataDir: string;
  migrations: readonly Migration[];
  busyTimeoutMs: number;
  /** Page cache per open file, KiB (default 2048). */
  cacheKib?: number;
  /** Page cache added per streaming turn, KiB (default 0: the cache never grows). */
  cachePerTurnKib?: number;
  /** Largest page cache of one file with turns streaming, KiB. */
  cacheMaxKib?: number;
  /**
   * WAL checkpoints on a worker thread (checkpointer.ts) instead of inside
   * commits: every `intervalMs` each open file is looked at: written since
   * (its main connection's total_changes() moved) → a PASSIVE checkpoint on
   * the worker; not written since and its WAL not empty → TRUNCATE (the log
   * goes back to 0 bytes); not written and empty → nothing (not even a stat).
   * A WAL past `maxKib` that is still being written (the worker fell behind,
   * or never gets a moment with no commit in flight to let the log restart)
   * is checkpointed on the main connection. Unset: SQLite's automatic
   * checkpoints (tests that build TenantDatabases directly).
   */
  walCheckpoints?: { intervalMs: number; maxKib: number };
  idleCloseMs: number;
  /** The fsync of commits made off the event loop (wal-sync.ts); tests hold it. Default `fs.fsync`. */
  fsync?: Fsync;
  now?: () => number;
  guard?: TenantFileGuard;
}

export const DEFAULT_CACHE_KIB = 2048;

/**
 * Applies the pragmas every file gets: incremental auto-vacuum, WAL, full
 * fsync on commit (but for the commits of WalSync.commit, wal-sync.ts), foreign keys, busy timeout, page cache size. Auto-vacuum
 * takes effect only on a file that has no page yet, so it is set on new files
 * only (on an existing one the pragma rewrites the header: a write and a
 * checkpoint, about 3 ms per open measured, for nothing); a file created
 * before it keeps reusing its free pages but never returns them to the disk.
 * The page cache is bounded per open file because many tenant files are open
 * at once: better-sqlite3 builds SQLite with a 16 MB default, which a tenant
 * with 10,000 rooms filled (RSS +29 MB in the bench), while the kernel's page
 * cache serves re-reads anyway.
 */
export function configureConnection(sqlite: Database.Database, busyTimeoutMs: number, cacheKib = DEFAULT_CACHE_KIB, walMaxKib?: number): void {
  if (sqlite.pragma("page_count", { simple: true }) === 0) sqlite.pragma("auto_vacuum = INCREMENTAL");
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = FULL");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma(`busy_timeout = ${busyTimeoutMs}`);
  sqlite.pragma(`cache_size = ${-Math.max(64, Math.floor(cacheKib))}`);
  if (walMaxKib !== undefined) {
    // Checkpoints are the worker's (Checkpointer). The log is truncated back to the bound when a writer restarts it,
    // so its file stays at most about that size while busy, and a size past it means checkpoints fell behind.
    sqlite.pragma("wal_autocheckpoint = 0");
    sqlite.pragma(`journal_size_limit = ${walMaxKib * 1024}`);
  }
}

export class TenantDatabases {
  readonly #dir: string;
  readonly #opts: TenantDatabasesOptions;
  readonly #open = new Map<string, Entry>();
  readonly #now: () => number;
  #closed = false;
  #onOpen: ((t: TenantDb) => void) | null = null;
  readonly #cache: PageCachePolicy;
  readonly #checkpointer: Checkpointer | null = null;
  readonly #walTimer: NodeJS.Timeout | null = null;
  #onCheckpointError: (tenant: string, err: unknown) => void = () => {};
  #onSyncError: (tenant: string, err: unknown) => void = () => {};
  #onSynced: ((seconds: number) => void) | undefined;
  #beforeClose: ((t: TenantDb) => void) | null = null;

  constructor(opts: TenantDatabasesOptions) {
    this.#opts = opts;
    this.#dir = path.join(opts.dataDir, "tenants");
    this.#now = opts.now ?? Date.now;
    const baseKib = Math.max(64, Math.floor(opts.cacheKib ?? DEFAULT_CACHE_KIB));
    this.#cache = { baseKib, perTurnKib: opts.cachePerTurnKib ?? 0, maxKib: Math.max(baseKib, opts.cacheMaxKib ?? baseKib) };
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
    if (opts.walCheckpoints) {
      this.#checkpointer = new Checkpointer();
      this.#walTimer = setInterval(() => this.#walTick(), opts.walCheckpoints.intervalMs);
      this.#walTimer.unref();
    }
  }

  /** Hears a background checkpoint that failed (logged by the server); the next tick tries again. */
  setOnCheckpointError(fn: (tenant: string, err: unknown) => void): void {
    this.#onCheckpointError = fn;
  }

  /** Hears a failed fsync of a file's log (wal-sync.ts; logged by the server); it is retried, and what waits for it keeps waiting. */
  setOnSyncError(fn: (tenant: string, err: unknown) => void): void {
    this.#onSyncError = fn;
  }

  /** Runs `fn` on a file's handle just before it closes (the event log moves its journal); a throw is ignored and the file closes. */
  setBeforeClose(fn: (t: TenantDb) => void): void {
    this.#beforeClose = fn;
  }

  /** Hears each fsync of a file's log run off the event loop, with its seconds (metrics). */
  setOnSynced(fn: (seconds: number) => void): void {
    this.#onSynced = fn;
  }

  /** The checkpoint in flight (queued or running) on the tenant's file, if any (tests). */
  checkpointInFlight(tenant: string): Promise<unknown> | undefined {
    return this.#checkpointer?.inFlight(this.fileOf(tenant));
  }

  /** Whether the worker is running a checkpoint on the tenant's file at this instant (tests). */
  checkpointRunning(tenant: string): boolean {
    return this.#checkpointer?.running(this.fileOf(tenant)) ?? false;
  }

  /** The tenant's handle, created and migrated on first use. Throws on a tenant slug outside the contract's pattern. */
  get(tenant: string): TenantDb {
    const entry = this.#entry(tenant);
    entry.lastUsed = this.#now();
    return entry.handle;
  }

  /** Runs `fn` each time a tenant's file is opened (e.g. to apply deadlines that passed while it was closed). */
  setOnOpen(fn: (t: TenantDb) => void): void {
    this.#onOpen = fn;
  }

  /** Keeps the tenant's file open until the returned release is called (workers, SSE followers). Release is idempotent. */
  hold(tenant: string): () => void {
    return this.#hold(this.#entry(tenant));
  }

  /**
   * The tenant's handle, held open until `release(handle)`: what a request
   * uses, so the idle closer cannot close the file while the request still
   * reads its body or writes. No allocation (the request path is hot); call
   * `release` exactly once.
   */
  acquire(tenant: string): TenantDb {
    const entry = this.#entry(tenant);
    entry.lastUsed = this.#now();
    entry.holds++;
    return entry.handle;
  }

  /** Ends an `acquire`. A handle closed meanwhile (shutdown) is ignored. */
  release(handle: TenantDb): void {
    const entry = this.#open.get(handle.tenant);
    if (!entry || entry.handle !== handle) return;
    entry.holds--;
    entry.lastUsed = this.#now();
  }

  #hold(entry: Entry): () => void {
    entry.holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      entry.holds--;
      entry.lastUsed = this.#now();
    };
  }

  /** Tenants that have a database file, whether open or not. */
  tenantsOnDisk(): string[] {
    return readdirSync(this.#dir)
      .filter((f) => f.endsWith(".db"))
      .map((f) => f.slice(0, -3))
      .filter((t) => TENANT_PATTERN.test(t));
  }

  /** How many holds (requests, workers, followers) keep the tenant's file open now; 0 when it is closed. For tests and metrics. */
  holdCount(tenant: string): number {
    return this.#open.get(tenant)?.holds ?? 0;
  }

  isOpen(tenant: string): boolean {
    return this.#open.has(tenant);
  }

  /** Closes the tenant's file now if it is open and nothing holds it. */
  closeIfUnheld(tenant: string): void {
    const entry = this.#open.get(tenant);
    if (entry && entry.holds === 0) this.#close(tenant, entry);
  }

  /** Tenants whose file is open right now. */
  openTenants(): string[] {
    return [...this.#open.keys()];
  }

  /** Handles of the files open right now, without opening any or counting as their use (metrics read them when scraped). */
  openHandles(): TenantDb[] {
    return Array.from(this.#open.values(), (e) => e.handle);
  }

  /** Closes handles unused for idleCloseMs and not held; returns how many were closed. */
  closeIdle(): number {
    const cutoff = this.#now() - this.#opts.idleCloseMs;
    let closed = 0;
    for (const [tenant, entry] of this.#open) {
      if (entry.holds === 0 && entry.lastUsed <= cutoff) {
        this.#close(tenant, entry);
        closed++;
      }
    }
    return closed;
  }

  /** Where the tenant's file is (whether or not it exists). */
  fileOf(tenant: string): string {
    return path.join(this.#dir, `${tenant}.db`);
  }

  /** Closes every file before it returns; the promise resolves when the checkpoint worker has exited too. */
  async closeAll(): Promise<void> {
    this.#closed = true;
    if (this.#walTimer) clearInterval(this.#walTimer);
    for (const [tenant, entry] of this.#open) this.#close(tenant, entry);
    await this.#checkpointer?.close();
  }

  /**
   * The checkpoint tick (see `walCheckpoints`): per open file one
   * `SELECT total_changes()` and, unless it is quiet with an empty log, one
   * stat. A file whose checkpoint is still in flight is skipped.
   */
  #walTick(): void {
    for (const [tenant, entry] of this.#open) {
      try {
        this.#walCheck(entry);
      } catch (err) {
        // A failed stat or query (the file damaged or gone): the next tick looks again.
        this.#onCheckpointError(tenant, err);
      }
    }
  }

  #walCheck(entry: Entry): void {
    const ckpt = this.#checkpointer!;
    const seen = entry.wal;
    if (ckpt.inFlight(entry.file)) return;
    const changes = (seen.count ??= entry.handle.sqlite.prepare("SELECT total_changes()").pluck()).get() as number;
    const written = changes !== seen.changes;
    seen.changes = changes;
    if (!written && seen.size === 0) return;
    const size = statSync(`${entry.file}-wal`, { throwIfNoEntry: false })?.size ?? 0;
    seen.size = size;
    if (size === 0) return;
    if (written && size > this.#opts.walCheckpoints!.maxKib * 1024) {
      // The worker keeps the log nearly all copied, so this moves only the last commits' pages; and a log
      // fully copied here lets the next commit restart it from the beginning.
      entry.handle.sqlite.pragma("wal_checkpoint(PASSIVE)");
      return;
    }
    const tenant = entry.handle.tenant;
    ckpt.checkpoint(entry.file, written ? "PASSIVE" : "TRUNCATE").catch((err: unknown) => {
      // Reported once: the file is not asked about again until it is written again (a damaged file would fail every tick).
      seen.size = 0;
      this.#onCheckpointError(tenant, err);
    });
  }

  #entry(tenant: string): Entry {
    const guard = this.#opts.guard;
    let entry = this.#open.get(tenant);
    if (entry) {
      guard?.check(tenant);
      if (entry.hook === "failed") this.#runOnOpen(tenant, entry);
      return entry;
    }
    if (this.#closed) throw new Error("tenant databases are closed");
    if (!TENANT_PATTERN.test(tenant)) throw new Error(`invalid tenant slug`);
    const file = path.join(this.#dir, `${tenant}.db`);
    guard?.beforeOpen(tenant, file);
    let sqlite: Database.Database | undefined;
    try {
      sqlite = new Database(file);
      configureConnection(sqlite, this.#opts.busyTimeoutMs, this.#cache.baseKib, this.#opts.walCheckpoints?.maxKib);
      applyMigrations(sqlite, this.#opts.migrations);
    } catch (err) {
      sqlite?.close();
      throw guard ? guard.openFailed(tenant, file, err) : err;
    }
    const wal: WalSyncOptions = {
      onError: (err) => this.#onSyncError(tenant, err),
      onSynced: (seconds) => this.#onSynced?.(seconds),
      ...(this.#opts.fsync ? { fsync: this.#opts.fsync } : {}),
    };
    entry = { handle: tenantHandle(tenant, sqlite, this.#cache, wal), file, wal: { size: -1, changes: 0, count: null }, lastUsed: this.#now(), holds: 0, hook: "running" };
    this.#open.set(tenant, entry);
    this.#runOnOpen(tenant, entry);
    return entry;
  }

  /**
   * Runs the open hook (recovery). If it fails, the file is closed so the
   * next use opens it and retries, unless something the hook started before
   * failing (a resumed worker) holds it: closing would pull the file from
   * under that work, so it stays open and the hook runs again on next use.
   */
  #runOnOpen(tenant: string, entry: Entry): void {
    entry.hook = "running";
    try {
      this.#onOpen?.(entry.handle);
      entry.hook = "done";
    } catch (err) {
      entry.hook = "failed";
      if (entry.holds === 0) this.#close(tenant, entry);
      const guard = this.#opts.guard;
      throw guard ? guard.openFailed(tenant, this.fileOf(tenant), err) : err;
    }
    this.#opts.guard?.opened(tenant);
  }

  /** Closes the file's main connection, after the checkpoint worker has let go of the file (Checkpointer.release). */
  #close(tenant: string, entry: Entry): void {
    this.#open.delete(tenant);
    this.#checkpointer?.release(entry.file);
    try {
      this.#beforeClose?.(entry.handle);
    } catch {
      // A full or failing disk: the file closes as it is, and its next open picks up where this left off.
    }
    // What waits for the disk is synced and run before the connection goes.
    entry.handle.wal.close();
    try {
      // Compaction deletes a finished turn's rows; while the file is open their pages are reused,
      // when it closes they go back to the disk.
      entry.handle.sqlite.pragma("incremental_vacuum");
    } catch {
      // A busy or read-only file keeps its free pages until the next close.
    }
    try {
      entry.handle.sqlite.close();
    } catch {
      // Closing twice or during shutdown is harmless.
    }
  }
}
