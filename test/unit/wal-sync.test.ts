/**
 * Commits whose fsync runs off the event loop (storage/wal-sync.ts): what
 * they append is readable at once, but nothing is shown to a follower, and
 * no work waiting on the commit goes on, before an fsync of the log that
 * started after the commit has returned. The fsync is held here, so each
 * test decides when the disk "answers".
 */
import { fsync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { EventBus } from "../../src/events/event.bus.js";
import { EventLog } from "../../src/events/event.log.js";
import type { RoomEvent } from "../../src/events/event.types.js";
import { insertRoom } from "../../src/room/room.store.js";
import { roomStream } from "../../src/room/room.stream.js";
import { GroupCommit } from "../../src/runtime/turn-writer.js";
import { formatSseFrame } from "../../src/sse/sse.feed.js";
import { loadMigrations } from "../../src/storage/migrations.js";
import { packageRoot } from "../../src/storage/paths.js";
import { TenantDatabases, type TenantDb } from "../../src/storage/tenant-db.js";
import type { Fsync } from "../../src/storage/wal-sync.js";
import { tenantFiles } from "../support/tenant-files.js";

const dir = mkdtempSync(path.join(tmpdir(), "roomservice-wal-sync-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const migrations = loadMigrations(path.join(packageRoot(), "migrations"));

let open: TenantDatabases | null = null;
afterEach(async () => {
  await open?.closeAll();
  open = null;
});

/** The disk: each fsync waits in `held` until the test answers it (`ok`, `fail`), or goes to the real disk once `real` is set. */
function heldDisk() {
  const held: ((err: NodeJS.ErrnoException | null) => void)[] = [];
  let called = 0;
  let real = false;
  const fn: Fsync = (fd, done) => {
    called++;
    if (real) fsync(fd, done);
    else held.push(done);
  };
  return {
    fn,
    held,
    get called() {
      return called;
    },
    goReal() {
      real = true;
    },
    ok() {
      held.shift()!(null);
    },
    fail(code: string) {
      held.shift()!(Object.assign(new Error(`${code}: i/o error, fsync`), { code }));
    },
  };
}

let n = 0;
function setup(disk: ReturnType<typeof heldDisk>) {
  const tenant = `t${++n}`;
  open = new TenantDatabases({ dataDir: path.join(dir, tenant), migrations, busyTimeoutMs: 1000, idleCloseMs: 60_000, fsync: disk.fn });
  const syncErrors: unknown[] = [];
  open.setOnSyncError((_t, err) => syncErrors.push(err));
  const t = open.get(tenant);
  const log = new EventLog(new EventBus(formatSseFrame), { kinds: [roomStream] });
  insertRoom(t, { id: "r", status: "rented", metadata: {}, actors: [], toolPolicy: {}, wakePolicy: {}, donePolicy: {}, version: 1, rentedAt: "x", updatedAt: "x", usage: {}, createdBy: "tester" });
  log.transaction(t, (tx) => tx.emit("r", { event_type: "room:rented", payload: { actors: [] } }));
  const shown: number[] = [];
  log.bus.subscribe<RoomEvent>(tenant, "room", "r", (e) => void shown.push(e.seq));
  return { t, log, shown, syncErrors, tenants: open };
}

const note = (content: string) => ({ event_type: "message:created", payload: { kind: "note", content } }) as const;
const offLoop = (log: EventLog, t: TenantDb, content: string, durable: () => void = () => {}) =>
  log.transactionOffLoop(t, (tx) => tx.emit("r", note(content)).seq, durable);
const stored = (log: EventLog, t: TenantDb) => log.readAfter<RoomEvent>(t, "room", "r", 0, 100).map((e) => e.seq);

describe("commits synced off the event loop", () => {
  it("are readable at once, shown to followers and acknowledged only once their fsync returns, which is timed", () => {
    const disk = heldDisk();
    const { t, log, shown, tenants } = setup(disk);
    const timed: number[] = [];
    tenants.setOnSynced((seconds) => timed.push(seconds));
    const order: string[] = [];
    log.bus.subscribe<RoomEvent>(t.tenant, "room", "r", (e) => void order.push(`shown ${e.seq}`));
    const seq = offLoop(log, t, "a", () => order.push("durable"));
    expect(seq).toBe(2);
    expect(stored(log, t)).toEqual([1, 2]);
    expect(disk.held).toHaveLength(1);
    expect(shown).toEqual([]);
    expect(order).toEqual([]);
    expect(t.wal.waiting).toBe(1);
    expect(timed).toEqual([]);
    disk.ok();
    expect(shown).toEqual([2]);
    expect(order).toEqual(["shown 2", "durable"]);
    expect(t.wal.waiting).toBe(0);
    expect(timed).toHaveLength(1);
    expect(timed[0]).toBeGreaterThanOrEqual(0);
  });

  it("made while an fsync runs wait for the next one, which starts as soon as it returns", () => {
    const disk = heldDisk();
    const { t, log, shown } = setup(disk);
    offLoop(log, t, "a");
    offLoop(log, t, "b");
    offLoop(log, t, "c");
    // One fsync for the first commit; the other two cannot count on it (it may have started before they were written).
    expect(disk.called).toBe(1);
    disk.ok();
    expect(shown).toEqual([2]);
    expect(disk.called).toBe(2);
    disk.ok();
    expect(shown).toEqual([2, 3, 4]);
    expect(disk.held).toHaveLength(0);
  });

  it("are shown before a later fsynced transaction on the same file, in seq order, and never twice", () => {
    const disk = heldDisk();
    const { t, log, shown } = setup(disk);
    offLoop(log, t, "a");
    offLoop(log, t, "b");
    // An ordinary transaction commits with synchronous=FULL: its fsync covers the two before it.
    log.transaction(t, (tx) => tx.emit("r", note("c")));
    expect(shown).toEqual([2, 3, 4]);
    disk.ok();
    expect(shown).toEqual([2, 3, 4]);
    expect(t.wal.waiting).toBe(0);
  });

  it("that fail their fsync are reported and retried; their events wait for a success and go out once", async () => {
    const disk = heldDisk();
    const { t, log, shown, syncErrors } = setup(disk);
    let durable = 0;
    offLoop(log, t, "a", () => durable++);
    disk.fail("EIO");
    expect(syncErrors).toHaveLength(1);
    expect((syncErrors[0] as { code: string }).code).toBe("EIO");
    expect(shown).toEqual([]);
    // Committed all the same: a reader sees it, and a commit meanwhile starts no second fsync beside the retry.
    offLoop(log, t, "b", () => durable++);
    expect(stored(log, t)).toEqual([1, 2, 3]);
    await expect.poll(() => disk.held.length, { timeout: 5000 }).toBe(1);
    expect(disk.called).toBe(2);
    disk.ok();
    expect(shown).toEqual([2, 3]);
    expect(durable).toBe(2);
  });

  it("still waiting when their file closes are synced and shown before it closes", () => {
    const disk = heldDisk();
    const { t, log, shown, tenants } = setup(disk);
    let durable = false;
    offLoop(log, t, "a", () => (durable = true));
    tenants.closeIfUnheld(t.tenant);
    expect(tenants.isOpen(t.tenant)).toBe(false);
    expect(shown).toEqual([2]);
    expect(durable).toBe(true);
    // The pool's fsync returns after the close: nothing runs twice.
    disk.ok();
    expect(shown).toEqual([2]);
  });

  it("join a group commit whose joiners resume only once it is on the disk, when the tick has more than one", async () => {
    const disk = heldDisk();
    const { t, log, shown } = setup(disk);
    const group = new GroupCommit(log, { warn: () => {} });
    let resolved = 0;
    const joined = [group.join(t, (tx) => tx.emit("r", note("end")).seq), group.join(t, (tx) => tx.emit("r", note("end too")).seq)].map((p) =>
      p.then((seq) => {
        resolved++;
        return seq;
      }),
    );
    await expect.poll(() => disk.held.length).toBe(1);
    expect(stored(log, t)).toEqual([1, 2, 3]);
    expect(resolved).toBe(0);
    expect(shown).toEqual([]);
    disk.ok();
    expect(await Promise.all(joined)).toEqual([2, 3]);
    expect(shown).toEqual([2, 3]);
  });

  it("a tick with a single thing to commit commits it with the fsync inline: nothing else waits on the event loop", async () => {
    const disk = heldDisk();
    const { t, log, shown } = setup(disk);
    const group = new GroupCommit(log, { warn: () => {} });
    expect(await group.join(t, (tx) => tx.emit("r", note("alone")).seq)).toBe(2);
    expect(shown).toEqual([2]);
    expect(disk.called).toBe(0);
  });

  it("on the real disk: the log is fsynced and the events shown", async () => {
    const disk = heldDisk();
    disk.goReal();
    const { t, log, shown } = setup(disk);
    const done = new Promise<void>((resolve) => offLoop(log, t, "a", resolve));
    await done;
    expect(shown).toEqual([2]);
    expect(disk.called).toBe(1);
  });

  it("answered once durable (a post while rooms stream): the promise resolves with the result only after the fsync", async () => {
    const disk = heldDisk();
    const { t, log, shown } = setup(disk);
    let answered: number | null = null;
    const answer = log.transactionDurable(t, (tx) => tx.emit("r", note("posted")).seq).then((seq) => (answered = seq));
    expect(stored(log, t)).toEqual([1, 2]);
    await Promise.resolve();
    expect(answered).toBeNull();
    expect(shown).toEqual([]);
    expect(disk.held).toHaveLength(1);
    disk.ok();
    await answer;
    expect(answered).toBe(2);
    expect(shown).toEqual([2]);
  });

  it("answered once durable, when the transaction throws: rejects with its error, nothing committed or fsynced", async () => {
    const disk = heldDisk();
    const { t, log, shown } = setup(disk);
    await expect(
      log.transactionDurable(t, (tx) => {
        tx.emit("r", note("half"));
        throw new Error("refused");
      }),
    ).rejects.toThrow("refused");
    expect(stored(log, t)).toEqual([1]);
    expect(shown).toEqual([]);
    expect(disk.called).toBe(0);
  });

  it("answered once durable, on a file without a write-ahead log: resolves with the result of its FULL commit", async () => {
    const files = tenantFiles("wal-sync-plain-durable");
    try {
      const t = files.open("plain");
      const log = new EventLog(new EventBus(formatSseFrame), { kinds: [roomStream] });
      insertRoom(t, { id: "r", status: "rented", metadata: {}, actors: [], toolPolicy: {}, wakePolicy: {}, donePolicy: {}, version: 1, rentedAt: "x", updatedAt: "x", usage: {}, createdBy: "tester" });
      log.transaction(t, (tx) => tx.emit("r", { event_type: "room:rented", payload: { actors: [] } }));
      expect(await log.transactionDurable(t, (tx) => tx.emit("r", note("plain")).seq)).toBe(2);
    } finally {
      files.close();
    }
  });

  it("paced group commits: after a group of several, the next waits for the rest of the pace; after a lone one, or with no pace, the next tick", () => {
    const disk = heldDisk();
    const { t, log } = setup(disk);
    vi.useFakeTimers({ toFake: ["setTimeout", "setImmediate", "performance"] });
    try {
      let pace = 30;
      const group = new GroupCommit(log, { warn: () => {} }, undefined, () => pace);
      const join = (content: string) => void group.join(t, (tx) => tx.emit("r", note(content)).seq);
      // A lone group (one client's turns back to back): the next is not held, however busy the loop.
      join("alone");
      vi.advanceTimersByTime(0);
      join("alone again");
      vi.advanceTimersByTime(0);
      expect(stored(log, t)).toEqual([1, 2, 3]);
      // A group of two (its fsync off the loop: answered here), then one due 5 ms later waits out the pace.
      join("a");
      join("b");
      vi.advanceTimersByTime(0);
      expect(stored(log, t)).toEqual([1, 2, 3, 4, 5]);
      disk.ok();
      vi.advanceTimersByTime(5);
      join("paced");
      vi.advanceTimersByTime(24);
      expect(stored(log, t)).toEqual([1, 2, 3, 4, 5]);
      vi.advanceTimersByTime(1);
      expect(stored(log, t)).toEqual([1, 2, 3, 4, 5, 6]);
      // The loop is idle again: no pace.
      pace = 0;
      join("c");
      join("d");
      vi.advanceTimersByTime(0);
      join("unpaced");
      vi.advanceTimersByTime(0);
      expect(stored(log, t)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    } finally {
      vi.useRealTimers();
    }
  });

  it("on a file without a write-ahead log commit with the file's own sync and go out at once", () => {
    const files = tenantFiles("wal-sync-plain");
    try {
      const t = files.open("plain");
      expect(t.sqlite.pragma("journal_mode", { simple: true })).toBe("delete");
      const log = new EventLog(new EventBus(formatSseFrame), { kinds: [roomStream] });
      insertRoom(t, { id: "r", status: "rented", metadata: {}, actors: [], toolPolicy: {}, wakePolicy: {}, donePolicy: {}, version: 1, rentedAt: "x", updatedAt: "x", usage: {}, createdBy: "tester" });
      log.transaction(t, (tx) => tx.emit("r", { event_type: "room:rented", payload: { actors: [] } }));
      const shown: number[] = [];
      log.bus.subscribe<RoomEvent>("plain", "room", "r", (e) => void shown.push(e.seq));
      let durable = false;
      offLoop(log, t, "a", () => (durable = true));
      expect(shown).toEqual([2]);
      expect(durable).toBe(true);
      expect(t.wal.waiting).toBe(0);
    } finally {
      files.close();
    }
  });
});
