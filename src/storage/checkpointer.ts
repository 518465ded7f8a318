/**
 * WAL checkpoints off the event loop. A checkpoint copies committed pages
 * from a tenant file's write-ahead log into the file itself and fsyncs it:
 * milliseconds to tens of milliseconds of I/O that SQLite's automatic
 * checkpoint runs inside whichever commit crossed the threshold, on the event
 * loop. With this, the main connections never checkpoint automatically
 * (`wal_autocheckpoint = 0`, tenant-db.ts) and one worker thread runs them.
 *
 * The worker opens its own connection to a file for one checkpoint and closes
 * it before it answers, so it never has a file open that the main thread is
 * not also holding open: tenant-db.ts does not close a file's main
 * connection while a checkpoint on it is in flight (the close waits for the
 * answer). Crash safety does not depend on any of this: frames are fsynced
 * in the WAL at commit (synchronous = FULL), a checkpoint only moves them.
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
parentPort.on("message", (m) => {
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
  // Closed before answering: the main thread may close its own connection as soon as it hears back.
  try {
    if (db) db.close();
  } catch {}
  parentPort.postMessage(reply);
});
`;

/** Most passes of one checkpoint request (see the worker): the first moves the bulk, the rest chase commits made meanwhile. */
const CHASE_PASSES = 6;

interface Reply {
  id: number;
  busy?: number;
  log?: number;
  checkpointed?: number;
  error?: string;
}

interface Pending {
  file: string;
  resolve: (r: CheckpointResult) => void;
  reject: (err: Error) => void;
}

export class Checkpointer {
  #worker: Worker | null = null;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  /** The checkpoint in flight (sent, not answered) per file: at most one. */
  readonly #inFlight = new Map<string, Promise<CheckpointResult>>();
  #closed = false;

  /** The checkpoint in flight on `file`, if any: what a close of that file waits for. */
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
    const promise = new Promise<CheckpointResult>((resolve, reject) => this.#pending.set(id, { file, resolve, reject }));
    this.#inFlight.set(file, promise);
    const clear = () => {
      if (this.#inFlight.get(file) === promise) this.#inFlight.delete(file);
    };
    promise.then(clear, clear);
    this.#spawned().postMessage({ id, file, mode, passes: CHASE_PASSES });
    return promise;
  }

  /** Waits for the checkpoints in flight, then ends the worker thread. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#inFlight.values()]);
    const w = this.#worker;
    this.#worker = null;
    if (w) await w.terminate();
  }

  /** The worker, started on first use (a server that never writes never starts one). */
  #spawned(): Worker {
    if (this.#worker) return this.#worker;
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { betterSqlite3: createRequire(import.meta.url).resolve("better-sqlite3") } });
    // Not a reason to keep the process alive: shutdown ends it, and an exiting process loses nothing (see the file comment).
    w.unref();
    w.on("message", (r: Reply) => {
      const p = this.#pending.get(r.id);
      if (!p) return;
      this.#pending.delete(r.id);
      if (r.error !== undefined) p.reject(new Error(`checkpoint of ${p.file} failed: ${r.error}`));
      else p.resolve({ busy: r.busy ?? 0, log: r.log ?? 0, checkpointed: r.checkpointed ?? 0 });
    });
    const lost = (err: Error) => {
      if (this.#worker !== w) return;
      this.#worker = null;
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
