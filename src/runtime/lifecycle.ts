/**
 * The service's lifecycle, by feature. A feature (rooms, then the factory)
 * registers what it must do when a tenant file opens (recovery), what it
 * checks on every open tenant now and then (sweeps) and how it stops
 * (drain); server.ts registers features and wires this to the tenant files
 * and the shutdown, and knows nothing of rooms.
 *
 * Order is registration order: a feature that stands on another (the factory
 * on rooms) registers after it, so its recovery sees the rooms already
 * recovered. Everything here runs outside any request's idempotency context:
 * a request that happens to open a file must not claim its key with a
 * recovery's transaction.
 */
import type { Logger } from "pino";
import { outsideRequest } from "../idempotency/idempotency.context.js";
import type { TenantDatabases, TenantDb } from "../storage/tenant-db.js";

export interface LifecycleFeature {
  /** Names the feature in logs. */
  readonly name: string;
  /**
   * Runs once per tenant per process, when the tenant's file is first opened
   * and before any request can read it: ends what a crash cut off, resumes
   * what was waiting. Synchronous. If it throws, the open fails and the
   * recovery runs again on the tenant's next use (features before it are not
   * run again).
   */
  recover?(t: TenantDb): void;
  /**
   * Periodic housekeeping of one open tenant (deadlines, work whose end was
   * lost). Also runs on every open, so what fell due while the file was
   * closed is applied before anyone reads it. Synchronous; a throw is logged
   * and the next sweep tries again.
   */
  sweep?(t: TenantDb): void;
  /** How often `sweep` runs, in ms; default: every lifecycle tick. */
  readonly sweepEveryMs?: number;
  /**
   * Shutdown: start nothing new, let running work end for up to graceMs,
   * then stop it; resolves once nothing of the feature runs. Features drain
   * together, within the same grace.
   */
  drain?(graceMs: number): Promise<void>;
}

export interface LifecycleOptions {
  log: Logger;
  now?: () => number;
}

interface Registered {
  feature: LifecycleFeature;
  lastSweep: number;
}

export class Lifecycle {
  readonly #tenants: TenantDatabases;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #features: Registered[] = [];
  /** Per tenant, how many features (in order) have recovered it in this process. */
  readonly #recovered = new Map<string, number>();
  #timer: NodeJS.Timeout | null = null;

  constructor(tenants: TenantDatabases, opts: LifecycleOptions) {
    this.#tenants = tenants;
    this.#log = opts.log;
    this.#now = opts.now ?? Date.now;
    tenants.setOnOpen((t) => outsideRequest(() => this.#opened(t)));
  }

  /** Adds a feature; its recovery runs on every tenant opened from now on. */
  register(feature: LifecycleFeature): void {
    if (this.#features.some((r) => r.feature.name === feature.name)) throw new Error(`lifecycle feature "${feature.name}" is registered twice`);
    this.#features.push({ feature, lastSweep: this.#now() });
  }

  /** Sweeps every open tenant each `tickMs` (features with a slower `sweepEveryMs` skip ticks). */
  start(tickMs: number): void {
    this.stop();
    this.#timer = setInterval(() => this.sweepAll(), tickMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /**
   * One tick: each feature whose sweep is due sweeps every open tenant
   * (failures are logged per tenant), then idle tenant files are closed.
   */
  sweepAll(): void {
    const now = this.#now();
    const due = this.#features.filter((r) => r.feature.sweep && now - r.lastSweep >= (r.feature.sweepEveryMs ?? 0));
    for (const r of due) r.lastSweep = now;
    if (due.length > 0) {
      outsideRequest(() => {
        for (const tenant of this.#tenants.openTenants()) {
          let t: TenantDb;
          try {
            t = this.#tenants.get(tenant);
          } catch (err) {
            this.#log.warn({ err, tenant }, "could not open a tenant to sweep it; will retry");
            continue;
          }
          for (const r of due) this.#sweep(r.feature, t);
        }
      });
    }
    this.#tenants.closeIdle();
  }

  /** Drains every feature at once within graceMs; resolves when all have stopped. */
  async drain(graceMs: number): Promise<void> {
    this.stop();
    await Promise.all(
      this.#features.map(async ({ feature }) => {
        try {
          await feature.drain?.(graceMs);
        } catch (err) {
          this.#log.error({ err, feature: feature.name }, "drain failed");
        }
      }),
    );
  }

  #opened(t: TenantDb): void {
    let done = this.#recovered.get(t.tenant) ?? 0;
    while (done < this.#features.length) {
      // A throw leaves `done` where it is: the open fails and this feature recovers again on next use.
      this.#features[done]!.feature.recover?.(t);
      this.#recovered.set(t.tenant, ++done);
    }
    for (const { feature } of this.#features) this.#sweep(feature, t);
  }

  #sweep(feature: LifecycleFeature, t: TenantDb): void {
    try {
      feature.sweep?.(t);
    } catch (err) {
      this.#log.warn({ err, tenant: t.tenant, feature: feature.name }, "lifecycle sweep failed; the next sweep retries it");
    }
  }
}
