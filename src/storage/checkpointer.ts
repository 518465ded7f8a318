/**
 * WAL checkpoints off the event loop. A checkpoint copies committed pages
 * from a tenant file's write-ahead log into the file itself and fsyncs it:
 * milliseconds to tens of milliseconds of I/O that SQLite's automatic
 * checkpoint runs inside whichever commit crossed the threshold, on the event
 * loop. With this, the main connections never checkpoint automatically
 * (`wal_autocheckpoint = 0`, tenant-db.ts) and one worker thread runs them.
 *
 * The worker opens its own connection to a file for one checkpoint and closes
 * it before it answers. Before the main thread closes a file it calls
 * `release(file)`: checkpoints not started yet are skipped, and if one on that
 * file is running, the main thread blocks until the worker has closed its
 * connection (Atomics.wait on a shared word: one checkpoint at most, usually
 * milliseconds). So a close stays synchronous, and the main connection is the
 * last one on the file: SQLite folds the log into the file and deletes it,
 * which is what a backup taken after the close copies. Crash safety does not
 * depend on any of this: frames are fsynced in the WAL at commit
 * (synchronous = FULL) or, for commits that wait for the disk off the event
 * loop, before anything is answered or shown (wal-sync.ts); a checkpoint
 * only moves them.
 */
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

export type CheckpointMode = "PASSIVE" | "TRUNCATE";

/** `PRAGMA wal_checkpoint`'s row: busy 1 when it could not finish, frames in the log, frames moved into the file. */
export interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
}

/**
 * The worker, plain JavaScript because a worker thread cannot load .ts
 * files under tsx or vitest. One message is one checkpoint; messages are
 * handled one at a time in arrival order.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.betterSqlite3);
// [0]: id of the checkpoint running now (0: none); [1]: checkpoints with an id up to this one are skipped.
const state = new Int32Array(workerData.state);
parentPort.on("message", (m) => {
  // Claimed before the skip check, so a main thread that has just raised [1] either sees the claim and waits,
  // or is seen here and the checkpoint never opens the file.
  Atomics.store(state, 0, m.id);
  if (m.id <= Atomics.load(state, 1)) {
    Atomics.store(state, 0, 0);
    Atomics.notify(state, 0);
    parentPort.postMessage({ id: m.id, skipped: true });
    return;
  }
  let db = null;
  let reply;
  try {
    // fileMustExist: a file deleted since the request is an error, never a new empty file.
    db = new Database(m.file, { fileMustExist: true });
    // No busy timeout: PASSIVE never waits, and TRUNCATE (asked for quiet files only) gives up at once if a
    // transaction is under way rather than hold the write lock while it waits, which would stall the writer.
    let row = db.pragma("wal_checkpoint(" + m.mode + ")")[0];
    // A pass copies the frames it saw when it began (row.log); commits that land meanwhile are left behind, and
    // the log can only restart from its beginning (instead of growing) once every frame is copied. Each further
    // pass moves only what came during the one before, so a few short ones usually end between two commits.
    for (let pass = 1, seen = -1; m.mode === "PASSIVE" && pass < m.passes && row.busy === 0 && row.log !== seen; pass++) {
      seen = row.log;
      row = db.pragma("wal_checkpoint(" + m.mode + ")")[0];
    }
    reply = { id: m.id, busy: row.busy, log: row.log, checkpointed: row.checkpointed };
  } catch (err) {
    reply = { id: m.id, error: String((err && err.message) || err) };
  }
  try {
    if (db) db.close();
  } catch {}
  // The file is no longer open here: a main thread waiting in release() may close its own connection.
  Atomics.store(state, 0, 0);
  Atomics.notify(state, 0);
  parentPort.postMessage(reply);
});
`;

/** Longest a close waits for a checkpoint running on its file (see `release`). */
const RELEASE_WAIT_MS = 10_000;

/** Most passes of one checkpoint request (see the worker): the first moves the bulk, the rest chase commits made meanwhile. */
const CHASE_PASSES = 6;

interface Reply {
  id: number;
  skipped?: boolean;
  busy?: number;
  log?: number;
  checkpointed?: number;
  error?: string;
}

interface Pending {
  file: string;
  id: number;
  resolve: (r: CheckpointResult) => void;
  reject: (err: Error) => void;
}

export class Checkpointer {
  #worker: Worker | null = null;
  #nextId = 1;
  /** Shared with the worker (see WORKER_SOURCE): the checkpoint running, and the last id to skip. */
  readonly #state = new Int32Array(new SharedArrayBuffer(8));
  /** Ids of the checkpoints in flight, by file. */
  readonly #ids = new Map<string, number>();
  readonly #pending = new Map<number, Pending>();
  /** The checkpoint in flight (sent, not answered) per file: at most one. */
  readonly #inFlight = new Map<string, Promise<CheckpointResult>>();
  #closed = false;

  /** The checkpoint in flight (queued or running) on `file`, if any. */
  inFlight(file: string): Promise<CheckpointResult> | undefined {
    return this.#inFlight.get(file);
  }

  /** How many checkpoints are in flight (tests, shutdown). */
  get pendingCount(): number {
    return this.#pending.size;
  }

  /**
   * Checkpoints `file` on the worker thread; resolves with SQLite's answer,
   * rejects if it failed. While one is in flight on the file, returns that one.
   */
  checkpoint(file: string, mode: CheckpointMode): Promise<CheckpointResult> {
    const running = this.#inFlight.get(file);
    if (running) return running;
    if (this.#closed) return Promise.reject(new Error("the checkpointer is closed"));
    const id = this.#nextId++;
    const promise = new Promise<CheckpointResult>((resolve, reject) => this.#pending.set(id, { file, id, resolve, reject }));
    this.#inFlight.set(file, promise);
    this.#ids.set(file, id);
    const clear = () => {
      if (this.#inFlight.get(file) === promise) {
        this.#inFlight.delete(file);
        this.#ids.delete(file);
      }
    };
    promise.then(clear, clear);
    this.#spawned().postMessage({ id, file, mode, passes: CHASE_PASSES });
    return promise;
  }

  /** Whether the worker is running the checkpoint on `file` at this instant. */
  running(file: string): boolean {
    const id = this.#ids.get(file);
    return id !== undefined && Atomics.load(this.#state, 0) === id;
  }

  /**
   * Makes `file` safe to close now: every checkpoint queued so far is skipped
   * (the next tick asks again for files still open), and if the one on
   * `file` is running, blocks until the worker has closed its connection.
   */
  release(file: string): void {
    Atomics.store(this.#state, 1, this.#nextId - 1);
    const id = this.#ids.get(file);
    if (id === undefined) return;
    // Bounded, so a worker that died mid-checkpoint (its 'exit' cannot be heard while this thread waits) cannot hang the server.
    const deadline = Date.now() + RELEASE_WAIT_MS;
    while (Atomics.load(this.#state, 0) === id && Date.now() < deadline) Atomics.wait(this.#state, 0, id, 50);
  }

  /** Skips what is queued, waits for what runs, then ends the worker thread. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    Atomics.store(this.#state, 1, this.#nextId - 1);
    await Promise.allSettled([...this.#inFlight.values()]);
    const w = this.#worker;
    this.#worker = null;
    if (w) await w.terminate();
  }

  /** The worker, started on first use (a server that never writes never starts one). */
  #spawned(): Worker {
    if (this.#worker) return this.#worker;
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { betterSqlite3: createRequire(import.meta.url).resolve("better-sqlite3"), state: this.#state.buffer } });
    // Not a reason to keep the process alive: shutdown ends it, and an exiting process loses nothing (see the file comment).
    w.unref();
    w.on("message", (r: Reply) => {
      const p = this.#pending.get(r.id);
      if (!p) return;
      this.#pending.delete(r.id);
      if (r.error !== undefined) p.reject(new Error(`checkpoint of ${p.file} failed: ${r.error}`));
      else if (r.skipped) p.resolve({ busy: 1, log: -1, checkpointed: -1 });
      else p.resolve({ busy: r.busy ?? 0, log: r.log ?? 0, checkpointed: r.checkpointed ?? 0 });
    });
    const lost = (err: Error) => {
      if (this.#worker !== w) return;
      this.#worker = null;
      Atomics.store(this.#state, 0, 0);
      // Whatever it was doing is abandoned (its connections die with it); the next request starts a new worker.
      for (const [id, p] of this.#pending) {
        this.#pending.delete(id);
        p.reject(err);
      }
    };
    w.on("error", lost);
    w.on("exit", (code) => lost(new Error(`the checkpoint worker exited (code ${code})`)));
    this.#worker = w;
    return w;
  }
}
