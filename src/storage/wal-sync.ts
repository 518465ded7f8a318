/**
 * Commits whose fsync runs off the event loop. With synchronous = FULL a
 * commit blocks the event loop on the fsync of the file's write-ahead log:
 * with 250 rooms streaming that was half of all wall time (capacity bench,
 * `sqliteTransaction` 32% self in its profile), and the loop serves every
 * other room meanwhile. `commit` instead runs one transaction with
 * synchronous = NORMAL, so it returns once its frames are written to the
 * log (the OS has them: a kill -9 cannot lose them), and fsyncs the log on
 * libuv's thread pool. What waits on that commit (publishing its events,
 * answering the work that wrote it) runs only once an fsync that started
 * after the commit has returned, so nothing is shown or acknowledged before
 * it is on the disk, exactly as with FULL. Commits made while one fsync runs
 * share the next one: the loop keeps committing while the disk syncs.
 *
 * A commit with FULL on the same file (every other transaction) fsyncs the
 * whole log itself, so it makes every earlier commit durable too: its writer
 * calls `synced()`, which runs their waiters at once, before it publishes
 * its own events, so a stream's events still go out in seq order.
 *
 * A failed fsync is reported and retried, backing off to 1 s; the waiters
 * wait meanwhile, as writes wait on a full disk. (On Linux a later fsync that
 * succeeds does not prove that the pages of the failed one reached the disk;
 * the report is what tells the operator.)
 */
import { closeSync, fsync, fsyncSync, openSync } from "node:fs";
import type Database from "better-sqlite3";

export type Fsync = (fd: number, done: (err: NodeJS.ErrnoException | null) => void) => void;

export interface WalSyncOptions {
  /** The fsync to run (tests hold it to see what waits for the disk); default `fs.fsync`. */
  fsync?: Fsync;
  /** Hears a failed fsync (or a failed open of the log; it is retried) and a waiter that threw. */
  onError?: (err: unknown) => void;
  /** Hears each fsync that returned, with its seconds (metrics). */
  onSynced?: (seconds: number) => void;
}

const RETRY_FIRST_MS = 10;
const RETRY_MAX_MS = 1000;

export class WalSync {
  readonly #sqlite: Database.Database;
  /** The log's path; null until the first commit looks, then "" when the file has no write-ahead log (in memory, or another journal mode): its commits stay FULL. */
  #log: string | null = null;
  readonly #fsync: Fsync;
  readonly #onError: (err: unknown) => void;
  readonly #onSynced: ((seconds: number) => void) | undefined;
  #fd = -1;
  #normal: Database.Statement | null = null;
  #full: Database.Statement | null = null;
  /** Commits made through `commit`, counted; and the count known to be on the disk. */
  #committed = 0;
  #durable = 0;
  /** Waiters in commit order, each with the commit count it waits for. */
  readonly #waiters: (() => void)[] = [];
  readonly #waitFor: number[] = [];
  #syncing = false;
  #retryMs = 0;
  #closed = false;

  constructor(sqlite: Database.Database, opts: WalSyncOptions = {}) {
    this.#sqlite = sqlite;
    this.#fsync = opts.fsync ?? fsync;
    this.#onError = opts.onError ?? (() => {});
    this.#onSynced = opts.onSynced;
  }

  /** Commits waiting for the disk right now (tests and metrics). */
  get waiting(): number {
    return this.#waiters.length;
  }

  /**
   * Runs `transaction` (a function that commits one transaction) with
   * synchronous = NORMAL and returns its result at once; `durable` runs once
   * the log holding it is fsynced. If `transaction` throws, nothing was
   * committed and `durable` never runs.
   */
  commit<T>(transaction: () => T, durable: () => void): T {
    this.#log ??= !this.#sqlite.memory && this.#sqlite.pragma("journal_mode", { simple: true }) === "wal" ? `${this.#sqlite.name}-wal` : "";
    if (this.#log === "" || this.#closed) {
      const result = transaction();
      durable();
      return result;
    }
    (this.#normal ??= this.#sqlite.prepare("PRAGMA synchronous = NORMAL")).run();
    let result: T;
    try {
      result = transaction();
    } finally {
      (this.#full ??= this.#sqlite.prepare("PRAGMA synchronous = FULL")).run();
    }
    this.#waiters.push(durable);
    this.#waitFor.push(++this.#committed);
    if (!this.#syncing) this.#start();
    return result;
  }

  /** A commit with synchronous = FULL just fsynced the log: everything committed before it is durable; runs the waiters now. */
  synced(): void {
    if (this.#waiters.length === 0) return;
    this.#durable = this.#committed;
    this.#runDurable();
  }

  /**
   * The file is closing: fsyncs what is still waiting (synchronously, as a
   * close is) and runs its waiters, then lets go of the log. On a failed
   * fsync the waiters still run (the process is letting go of the file) and
   * the failure is reported.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#waiters.length > 0) {
      try {
        fsyncSync(this.#open());
      } catch (err) {
        this.#onError(err);
      }
      this.#durable = this.#committed;
      this.#runDurable();
    }
    // An fsync still running on the pool closes the descriptor when it returns.
    if (!this.#syncing) this.#closeFd();
  }

  #start(): void {
    const upTo = this.#committed;
    this.#syncing = true;
    let fd: number;
    try {
      fd = this.#open();
    } catch (err) {
      this.#failed(err);
      return;
    }
    const startedAt = performance.now();
    this.#fsync(fd, (err) => {
      if (err) {
        this.#failed(err);
        return;
      }
      this.#onSynced?.((performance.now() - startedAt) / 1000);
      this.#syncing = false;
      this.#retryMs = 0;
      if (this.#closed) {
        this.#closeFd();
        return;
      }
      if (upTo > this.#durable) this.#durable = upTo;
      this.#runDurable();
      if (this.#committed > this.#durable && !this.#syncing) this.#start();
    });
  }

  #failed(err: unknown): void {
    this.#onError(err);
    this.#retryMs = Math.min(RETRY_MAX_MS, Math.max(RETRY_FIRST_MS, this.#retryMs * 2));
    setTimeout(() => {
      this.#syncing = false;
      if (this.#closed) this.#closeFd();
      else if (this.#committed > this.#durable) this.#start();
    }, this.#retryMs).unref();
  }

  /** Runs, in commit order, the waiters of every commit up to `#durable`. Taken off the queue first: a waiter may commit again. */
  #runDurable(): void {
    let n = 0;
    while (n < this.#waitFor.length && this.#waitFor[n]! <= this.#durable) n++;
    if (n === 0) return;
    const due = this.#waiters.splice(0, n);
    this.#waitFor.splice(0, n);
    for (const fn of due) {
      try {
        fn();
      } catch (err) {
        this.#onError(err);
      }
    }
  }

  #open(): number {
    if (this.#fd < 0) this.#fd = openSync(this.#log!, "r");
    return this.#fd;
  }

  #closeFd(): void {
    if (this.#fd < 0) return;
    try {
      closeSync(this.#fd);
    } catch {
      // Already closed: nothing to let go of.
    }
    this.#fd = -1;
  }
}
