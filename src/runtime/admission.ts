/**
 * Whether a new turn may start: not while shutting down, not while the
 * operator's global stop is on, and not past the active-turn quotas. The
 * global stop lives in service.db so it survives restarts.
 */
import { AppError } from "../errors.js";
import type { TurnAdmission } from "../room/room.service.js";
import type { ServiceDb } from "../storage/service-db.js";
import type { TenantDb } from "../storage/tenant-db.js";
import { tokensUsedOn, utcDay } from "./budget.store.js";

const STOP_KEY = "global_stop";

export interface AdmissionLimits {
  maxActiveTurnsPerTenant: number;
  maxActiveTurnsPerServer: number;
  /** Tokens per tenant per UTC day; 0 means none. */
  dailyTokenBudget: number;
}

export interface StopState {
  active: boolean;
  reason: string | null;
  since: string | null;
}

export class Admission implements TurnAdmission {
  #shuttingDown = false;
  #stop: StopState;

  constructor(
    private readonly serviceDb: ServiceDb,
    private readonly limits: AdmissionLimits,
    private readonly activeTurns: (tenant?: string) => number,
    private readonly now: () => number = Date.now,
  ) {
    const raw = serviceDb.getSetting(STOP_KEY);
    this.#stop = raw ? (JSON.parse(raw) as StopState) : { active: false, reason: null, since: null };
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  beginShutdown(): void {
    this.#shuttingDown = true;
  }

  get stop(): StopState {
    return { ...this.#stop };
  }

  /** Switches the operator stop; durable before it takes effect. */
  setStop(active: boolean, reason: string | null): StopState {
    const next: StopState = { active, reason: active ? reason : null, since: active ? new Date().toISOString() : null };
    this.serviceDb.setSetting(STOP_KEY, JSON.stringify(next));
    this.#stop = next;
    return this.stop;
  }

  checkNewTurn(t: TenantDb): void {
    const tenant = t.tenant;
    if (this.#shuttingDown) throw new AppError("SHUTTING_DOWN", "the server is shutting down; retry against the restarted server", { retryAfterS: 5 });
    if (this.#stop.active) {
      throw new AppError("GLOBAL_STOP_ACTIVE", `the operator has stopped new turns${this.#stop.reason ? ` (${this.#stop.reason})` : ""}; reads still work, retry later`, {
        retryAfterS: 30,
      });
    }
    if (this.activeTurns(tenant) >= this.limits.maxActiveTurnsPerTenant) {
      throw new AppError("QUOTA_EXCEEDED", `this tenant already runs ${this.limits.maxActiveTurnsPerTenant} turns at once; wait for one to end`, { retryAfterS: 2 });
    }
    if (this.activeTurns() >= this.limits.maxActiveTurnsPerServer) {
      throw new AppError("QUOTA_EXCEEDED", "the server is at its limit of concurrently running turns; retry shortly", { retryAfterS: 2 });
    }
    if (this.limits.dailyTokenBudget > 0 && this.tokensLeftToday(t) <= 0) {
      const nowMs = this.now();
      const midnight = Date.parse(`${utcDay(nowMs)}T00:00:00.000Z`) + 86_400_000;
      throw new AppError("QUOTA_EXCEEDED", `this tenant has used its daily budget of ${this.limits.dailyTokenBudget} tokens; it resets at 00:00 UTC`, {
        retryAfterS: (midnight - nowMs) / 1000,
      });
    }
  }

  /** Tokens the tenant may still use today; Infinity without a budget. */
  tokensLeftToday(t: TenantDb): number {
    if (this.limits.dailyTokenBudget <= 0) return Number.POSITIVE_INFINITY;
    return this.limits.dailyTokenBudget - tokensUsedOn(t, utcDay(this.now()));
  }

  mayStartQueued(_tenant: string): boolean {
    return !this.#shuttingDown && !this.#stop.active;
  }
}
