/**
 * The feature-registered lifecycle over real tenant files: recovery once per
 * tenant per process in registration order, sweeps on open and on their own
 * cadence, drains together, and failures that neither lose a retry nor close
 * a file under work that holds it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Lifecycle, type LifecycleFeature } from "../../src/runtime/lifecycle.js";
import { loadMigrations } from "../../src/storage/migrations.js";
import { packageRoot } from "../../src/storage/paths.js";
import { TenantDatabases, type TenantDb } from "../../src/storage/tenant-db.js";

const migrations = loadMigrations(path.join(packageRoot(), "migrations"));
let dir: string;
let tenants: TenantDatabases;
let clock: number;
let lifecycle: Lifecycle;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "roomservice-lifecycle-"));
  clock = 1_000_000;
  tenants = new TenantDatabases({ dataDir: dir, migrations, busyTimeoutMs: 1000, idleCloseMs: 60_000, now: () => clock });
  lifecycle = new Lifecycle(tenants, { log: pino({ level: "silent" }), now: () => clock });
});
afterEach(() => {
  lifecycle.stop();
  tenants.closeAll();
  rmSync(dir, { recursive: true, force: true });
});

/** A feature that records what it was asked to do, as "<name>:<verb>:<tenant>". */
function recorder(name: string, log: string[], extra: Partial<LifecycleFeature> = {}): LifecycleFeature {
  return {
    name,
    recover: (t) => void log.push(`${name}:recover:${t.tenant}`),
    sweep: (t) => void log.push(`${name}:sweep:${t.tenant}`),
    ...extra,
  };
}

describe("Lifecycle", () => {
  it("recovers each tenant once per process, in registration order, before the opener gets the handle; sweeps on every open", () => {
    const log: string[] = [];
    lifecycle.register(recorder("rooms", log));
    lifecycle.register(recorder("factory", log));
    tenants.get("acme");
    expect(log).toEqual(["rooms:recover:acme", "factory:recover:acme", "rooms:sweep:acme", "factory:sweep:acme"]);

    log.length = 0;
    tenants.get("acme");
    expect(log).toEqual([]);

    tenants.closeIfUnheld("acme");
    tenants.get("acme");
    expect(log).toEqual(["rooms:sweep:acme", "factory:sweep:acme"]);
  });

  it("refuses a feature registered twice", () => {
    lifecycle.register(recorder("rooms", []));
    expect(() => lifecycle.register(recorder("rooms", []))).toThrow(/registered twice/);
  });

  it("a failing recovery fails the open and runs again on next use; features already recovered are not run again", () => {
    const log: string[] = [];
    let failures = 1;
    lifecycle.register(recorder("rooms", log));
    lifecycle.register(
      recorder("factory", log, {
        recover: (t) => {
          log.push(`factory:recover:${t.tenant}`);
          if (failures-- > 0) throw new Error("storage said no");
        },
      }),
    );
    expect(() => tenants.get("acme")).toThrow("storage said no");
    expect(tenants.isOpen("acme")).toBe(false);
    tenants.get("acme");
    expect(log).toEqual(["rooms:recover:acme", "factory:recover:acme", "factory:recover:acme", "rooms:sweep:acme", "factory:sweep:acme"]);
  });

  it("a recovery that fails after starting work that holds the file leaves the file open under that work, and retries", () => {
    let release: (() => void) | null = null;
    let held: TenantDb | null = null;
    let failures = 1;
    lifecycle.register({
      name: "rooms",
      recover: (t) => {
        if (!release) {
          // What a resumed worker does: hold the file and keep using the handle.
          release = tenants.hold(t.tenant);
          held = t;
        }
        if (failures-- > 0) throw new Error("the rest of recovery failed");
      },
    });
    expect(() => tenants.get("acme")).toThrow("the rest of recovery failed");
    expect(tenants.isOpen("acme")).toBe(true);
    expect(held!.sqlite.open).toBe(true);
    expect(held!.sqlite.prepare("SELECT count(*) AS n FROM rooms").get()).toEqual({ n: 0 });
    // The next use runs the failed recovery again and gets the same handle.
    expect(tenants.get("acme")).toBe(held);
    expect(failures).toBe(-1);
    release!();
  });

  it("a failing sweep on open is logged and the open succeeds; the file stays open under work that holds it", () => {
    let release: (() => void) | null = null;
    lifecycle.register({
      name: "rooms",
      recover: (t) => void (release = tenants.hold(t.tenant)),
      sweep: () => {
        throw new Error("sweep failed");
      },
    });
    const t = tenants.get("acme");
    expect(t.sqlite.open).toBe(true);
    expect(tenants.isOpen("acme")).toBe(true);
    release!();
  });

  it("each feature sweeps open tenants on its own cadence; a throwing sweep does not stop the others", () => {
    const log: string[] = [];
    lifecycle.register(recorder("fast", log, { sweep: (t) => void log.push(`fast:${t.tenant}`) }));
    lifecycle.register(
      recorder("broken", log, {
        sweep: () => {
          throw new Error("no");
        },
      }),
    );
    lifecycle.register(recorder("slow", log, { sweepEveryMs: 60_000, sweep: (t) => void log.push(`slow:${t.tenant}`) }));
    tenants.get("acme");
    tenants.get("globex");
    log.length = 0;

    clock += 1000;
    lifecycle.sweepAll();
    expect(log.sort()).toEqual(["fast:acme", "fast:globex"]);

    log.length = 0;
    clock += 60_000;
    lifecycle.sweepAll();
    expect(log.sort()).toEqual(["fast:acme", "fast:globex", "slow:acme", "slow:globex"]);
  });

  it("drains every feature together within the same grace", async () => {
    const started: Array<[string, number]> = [];
    let finishRooms!: () => void;
    const roomsDrained = new Promise<void>((r) => (finishRooms = r));
    lifecycle.register({ name: "rooms", drain: (g) => (started.push(["rooms", g]), roomsDrained) });
    lifecycle.register({ name: "factory", drain: async (g) => void started.push(["factory", g]) });
    let drained = false;
    const all = lifecycle.drain(5000).then(() => (drained = true));
    await Promise.resolve();
    expect(started).toEqual([
      ["rooms", 5000],
      ["factory", 5000],
    ]);
    expect(drained).toBe(false);
    finishRooms();
    await all;
    expect(drained).toBe(true);
  });
});
